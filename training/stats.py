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
    }


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
        if isinstance(table, dict):
            print(f"\n{key}")
            inner = max((len(k) for k in table), default=0)
            for label, count in table.items():
                print(f"  {label:<{inner}}  {count:>5}")
