"""`make suggest`: which unlabelled paragraphs would teach the model most (uncertainty sampling).

A paragraph is uncertain when its stance probabilities are close (small margin between the top
two) or a topic probability sits near its decision threshold. Analysts label the top of this
list first.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from service.model.classifier import ArticleInput, classify_articles
from service.model.lifecycle import ModelLoadError, load_verified_model

EXCERPT_CHARS = 160


@dataclass(frozen=True)
class Suggestion:
    file: str
    index: int
    uncertainty: float
    excerpt: str
    guess: str


def paragraph_uncertainty(stance_scores: dict[str, float], topic_scores: dict[str, float],
                          thresholds: dict[str, float]) -> float:
    """1 when the model cannot choose at all, 0 when every decision is far from its threshold."""
    top_two = sorted(stance_scores.values())[-2:]
    stance_doubt = 1.0 - (top_two[1] - top_two[0])
    topic_doubt = max(1.0 - abs(score - thresholds[label]) / max(thresholds[label], 1 - thresholds[label])
                      for label, score in topic_scores.items())
    return round((stance_doubt + topic_doubt) / 2, 4)


def rank_folder(models_dir: Path, folder: Path) -> list[Suggestion]:
    loaded = load_verified_model(models_dir)
    rule = loaded.classifier.rule
    thresholds = dict(zip(rule.topics, rule.paragraph_topic_thresholds.tolist(), strict=True))
    files = sorted(folder.glob("*.txt"))
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in files]
    results = classify_articles(loaded.classifier, [ArticleInput(t) for t in texts])
    suggestions = []
    for path, text, result in zip(files, texts, results, strict=True):
        for index, (span, labels) in enumerate(zip(result.spans, result.labels.paragraphs, strict=True)):
            guess = f"{labels.stance} | {', '.join(labels.topics) or '-'}"
            excerpt = " ".join(text[span.start:span.end].split())[:EXCERPT_CHARS]
            suggestions.append(Suggestion(path.name, index, paragraph_uncertainty(
                labels.stance_scores, labels.topic_scores, thresholds), excerpt, guess))
    return sorted(suggestions, key=lambda s: (-s.uncertainty, s.file, s.index))


def run_suggest(models_dir: Path, folder: Path, top: int) -> int:
    if not folder.is_dir() or not any(folder.glob("*.txt")):
        print(f"no unlabelled articles: put plain-text files (*.txt) in {folder}", file=sys.stderr)
        return 1
    try:
        ranked = rank_folder(models_dir, folder)
    except ModelLoadError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"{'uncertainty':>11}  {'file:paragraph':<40}  model's guess / excerpt")
    for s in ranked[:top]:
        print(f"{s.uncertainty:>11.3f}  {f'{s.file}:{s.index}':<40}  {s.guess}\n{'':>13}{s.excerpt}")
    print(f"\n{len(ranked)} paragraphs ranked; label the top ones in data/articles/ (see data/README.md), "
          f"or correct them through POST /v1/feedback.")
    return 0
