"""Throughput of `classify_articles` itself: the ceiling the HTTP figures are compared with."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from service.model.classifier import ArticleClassifier, ArticleInput, classify_articles


@dataclass(frozen=True)
class InProcessResult:
    batch_size: int
    articles: int
    paragraphs: int
    run_seconds: tuple[float, ...]

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.run_seconds)

    def summary(self) -> dict[str, float | int | list[float]]:
        seconds = self.median_seconds
        return {"batch_size": self.batch_size, "articles": self.articles, "paragraphs": self.paragraphs,
                "median_seconds": round(seconds, 4), "run_seconds": [round(s, 4) for s in self.run_seconds],
                "articles_per_s": round(self.articles / seconds, 1),
                "paragraphs_per_s": round(self.paragraphs / seconds, 1),
                "ms_per_article": round(1000 * seconds / self.articles, 3)}


def time_classification(classifier: ArticleClassifier, articles: Sequence[ArticleInput], batch_size: int,
                        runs: int) -> InProcessResult:
    """Classify all `articles` `runs` times in batches of `batch_size` (1 = one call per article).

    One untimed pass first, so lazy caches and first-call costs are not charged to run 1."""
    batches = [articles[i:i + batch_size] for i in range(0, len(articles), batch_size)]
    paragraphs = sum(len(result.spans) for batch in batches for result in classify_articles(classifier, batch))
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for batch in batches:
            classify_articles(classifier, batch)
        timings.append(time.perf_counter() - started)
    return InProcessResult(batch_size, len(articles), paragraphs, tuple(timings))
