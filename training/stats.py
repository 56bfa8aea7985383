"""Corpus statistics: what `make corpus-stats` shows and the balance targets are checked on."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from training.validation import Corpus


def corpus_stats(corpus: Corpus) -> dict[str, Any]:
    codebook = corpus.codebook
    paragraphs = [p for a in corpus.articles for p in a.paragraphs]
    topic_counts = Counter(t for p in paragraphs for t in p.topics)
    in_scope = [a for a in corpus.articles if a.in_scope]
    return {
        "articles": len(corpus.articles),
        "paragraphs": len(paragraphs),
        "paragraph_topics": {t: topic_counts[t] for t in codebook.topic_ids},
        "paragraphs_without_topic": sum(1 for p in paragraphs if not p.topics),
        "paragraph_stance": _ordered(Counter(p.stance for p in paragraphs), codebook.stance_ids),
        "article_stance": _ordered(Counter(a.stance for a in in_scope), codebook.stance_ids),
        "in_scope_articles": len(in_scope),
        "out_of_scope_articles": len(corpus.articles) - len(in_scope),
        "partners": dict(Counter(p for a in corpus.articles for p in a.partners).most_common()),
        "styles": dict(Counter(a.style for a in corpus.articles).most_common()),
        "sources": dict(Counter(a.source for a in corpus.articles).most_common()),
        "words": sum(len(p.text.split()) for p in paragraphs),
        "furniture_paragraphs": sum(1 for p in paragraphs if p.furniture),
        "labelled_paragraphs": sum(1 for p in paragraphs if not p.furniture),
        "batches": dict(sorted(Counter(a.batch for a in corpus.articles).items())),
        "census": (cells := census(corpus)),
        "census_gaps": census_gaps(cells, corpus.codebook.census_minimum),
    }


def census(corpus: Corpus) -> dict[str, dict[str, int]]:
    """Articles per event type and article stance, over the stances each event allows."""
    counts = Counter((a.event, a.stance) for a in corpus.articles)
    return {e.id: {s: counts[(e.id, s)] for s in e.stances} for e in corpus.codebook.events if e.id != "other"}


def census_gaps(census_cells: dict[str, dict[str, int]], minimum: int) -> dict[str, int]:
    """The allowed cells below the codebook's minimum, as 'event/stance': articles still needed."""
    return {f"{event}/{stance}": minimum - n for event, cells in census_cells.items()
            for stance, n in cells.items() if n < minimum}


def _ordered(counts: Counter, keys: list[str]) -> dict[str, int]:
    return {k: counts[k] for k in keys}


def print_stats(stats: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(stats, indent=2))
        return
    scalars = [(k, v) for k, v in stats.items() if not isinstance(v, dict)]
    width = max(len(k) for k, _ in scalars)
    for key, value in scalars:
        print(f"{key:<{width}}  {value:>6}")
    for key, table in stats.items():
        if key == "census":
            print("\ncensus (articles by event and stance)")
            for event, cells in table.items():
                print(f"  {event:<28}" + "  ".join(f"{s} {n:>3}" for s, n in cells.items()))
        elif isinstance(table, dict):
            print(f"\n{key}")
            inner = max((len(k) for k in table), default=0)
            for label, count in table.items():
                print(f"  {label:<{inner}}  {count:>5}")
