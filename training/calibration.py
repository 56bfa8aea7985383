"""Turns out-of-fold raw scores into calibrated probabilities.

`cross_fitted` is for honest evaluation (each fold's calibrators never saw that fold);
`fit_calibrators` on every row is what the shipped heads carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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


@dataclass
class Probabilities:
    topics: np.ndarray   # (paragraphs, topics)
    stance: np.ndarray   # (paragraphs, stances)
    scope: np.ndarray    # (articles,)


def fit_calibrators(data: TrainingData, raw: RawScores, rows: np.ndarray, articles: np.ndarray) -> Calibrators:
    return Calibrators(
        topics=[fit_binary_calibrator(raw.topics[rows, j], data.topics[rows, j])
                for j in range(data.topics.shape[1])],
        stance=fit_multiclass_calibrator(raw.stance[rows], data.stance[rows], data.codebook.stance_ids),
        scope=fit_binary_calibrator(raw.scope[articles], data.in_scope[articles]),
    )


def apply_calibrators(data: TrainingData, cal: Calibrators, raw: RawScores, rows, articles,
                      out: Probabilities) -> None:
    out.topics[rows] = np.column_stack([c(raw.topics[rows, j])
                                        for j, c in enumerate(cal.topics)])
    out.stance[rows] = cal.stance(raw.stance[rows])
    out.scope[articles] = cal.scope(raw.scope[articles])


def cross_fitted(data: TrainingData, raw: RawScores, fold_of: np.ndarray) -> Probabilities:
    probs = Probabilities(np.zeros(raw.topics.shape), np.zeros(raw.stance.shape), np.zeros(data.n_articles))
    for k in range(int(fold_of.max()) + 1):
        inside, outside = np.flatnonzero(fold_of == k), np.flatnonzero(fold_of != k)
        cal = fit_calibrators(data, raw, data.paragraphs_of(outside), outside)
        apply_calibrators(data, cal, raw, data.paragraphs_of(inside), inside, probs)
    return probs


def calibrated_everywhere(data: TrainingData, raw: RawScores) -> tuple[Calibrators, Probabilities]:
    rows, articles = np.arange(len(data.texts)), np.arange(data.n_articles)
    cal = fit_calibrators(data, raw, rows, articles)
    probs = Probabilities(np.zeros(raw.topics.shape), np.zeros(raw.stance.shape), np.zeros(data.n_articles))
    apply_calibrators(data, cal, raw, rows, articles, probs)
    return cal, probs
