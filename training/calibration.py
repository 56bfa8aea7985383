"""Turns out-of-fold raw scores into calibrated probabilities.

`cross_fitted` is for honest evaluation (each fold's calibrators never saw that fold);
`fit_calibrators` on every row is what the shipped heads carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from service.model.aggregation import ArticleScores
from service.model.scoring import (
    fit_binary_calibrator,
    fit_multiclass_calibrator,
)
from training.crossval import RawScores
from training.dataset import TrainingData


@dataclass
class Calibrators:
    topics: list[Any]
    stance: Any
    scope: Any
    article_stance: Any
    furniture: Any


@dataclass
class Probabilities:
    topics: np.ndarray          # (paragraphs, topics)
    stance: np.ndarray          # (paragraphs, stances)
    scope: np.ndarray           # (articles,)
    article_stance: np.ndarray  # (articles, stances)
    furniture: np.ndarray       # (paragraphs,)

    @classmethod
    def empty(cls, raw: RawScores) -> Probabilities:
        return cls(np.zeros(raw.topics.shape), np.zeros(raw.stance.shape), np.zeros(raw.scope.shape),
                   np.zeros(raw.article_stance.shape), np.zeros(raw.furniture.shape))

    def of_article(self, data: TrainingData, article: int) -> ArticleScores:
        """One article's scores, in the form the article rule takes them."""
        rows = data.rows_of_article[article]
        return ArticleScores(self.topics[rows], self.stance[rows], self.furniture[rows], data.lengths[rows],
                             self.article_stance[article], float(self.scope[article]), data.ties[article])


def fit_calibrators(data: TrainingData, raw: RawScores, rows: np.ndarray, articles: np.ndarray) -> Calibrators:
    inside = articles[data.in_scope[articles] == 1]
    stances = data.codebook.stance_ids
    return Calibrators(
        topics=[fit_binary_calibrator(raw.topics[rows, j], data.topics[rows, j])
                for j in range(data.topics.shape[1])],
        stance=fit_multiclass_calibrator(raw.stance[rows], data.stance[rows], stances),
        scope=fit_binary_calibrator(raw.scope[articles], data.in_scope[articles]),
        article_stance=fit_multiclass_calibrator(raw.article_stance[inside], data.article_stance[inside], stances),
        furniture=fit_binary_calibrator(raw.furniture[rows], data.furniture[rows]),
    )


def apply_calibrators(data: TrainingData, cal: Calibrators, raw: RawScores, rows, articles,
                      out: Probabilities) -> None:
    out.topics[rows] = np.column_stack([c(raw.topics[rows, j])
                                        for j, c in enumerate(cal.topics)])
    out.stance[rows] = cal.stance(raw.stance[rows])
    out.scope[articles] = cal.scope(raw.scope[articles])
    out.article_stance[articles] = cal.article_stance(raw.article_stance[articles])
    out.furniture[rows] = cal.furniture(raw.furniture[rows])


def cross_fitted(data: TrainingData, raw: RawScores, fold_of: np.ndarray) -> Probabilities:
    probs = Probabilities.empty(raw)
    for k in range(int(fold_of.max()) + 1):
        inside, outside = np.flatnonzero(fold_of == k), np.flatnonzero(fold_of != k)
        cal = fit_calibrators(data, raw, data.paragraphs_of(outside), outside)
        apply_calibrators(data, cal, raw, data.paragraphs_of(inside), inside, probs)
    return probs


def calibrated_everywhere(data: TrainingData, raw: RawScores) -> tuple[Calibrators, Probabilities]:
    rows, articles = np.arange(len(data.texts)), np.arange(data.n_articles)
    cal = fit_calibrators(data, raw, rows, articles)
    probs = Probabilities.empty(raw)
    apply_calibrators(data, cal, raw, rows, articles, probs)
    return cal, probs
