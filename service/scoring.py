"""Calibrated probabilities from linear text classifiers.

A classifier head is a fitted scikit-learn estimator plus calibrators fitted on *out-of-fold*
scores from grouped cross-validation (the same idea as `CalibratedClassifierCV(ensemble=False)`,
but with article groups respected, which that class cannot do for us). Users see calibrated
probabilities, so a score of 0.8 means right about 80% of the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

_EPS = 1e-6


def binary_scores(estimator: Any, X: Any) -> np.ndarray:
    """One real-valued score per row from a fitted binary classifier, higher = positive."""
    if hasattr(estimator, "decision_function"):
        return np.asarray(estimator.decision_function(X), dtype=float).ravel()
    proba = np.clip(estimator.predict_proba(X), _EPS, 1 - _EPS)
    if proba.shape[1] == 1:
        return np.log(proba[:, 0])
    return np.log(proba[:, 1]) - np.log(proba[:, 0])


def multilabel_scores(ovr: Any, X: Any) -> np.ndarray:
    """Scores of every label of a fitted OneVsRestClassifier, shape (rows, labels)."""
    return np.column_stack([binary_scores(est, X) for est in ovr.estimators_])


def multiclass_scores(estimator: Any, X: Any) -> np.ndarray:
    """Scores of every class, shape (rows, classes), whatever the estimator offers."""
    if hasattr(estimator, "decision_function"):
        scores = np.asarray(estimator.decision_function(X), dtype=float)
        if scores.ndim == 1:
            return np.column_stack([-scores, scores])
        return scores
    return np.log(np.clip(estimator.predict_proba(X), _EPS, 1.0))


def _as_columns(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    return scores.reshape(-1, 1) if scores.ndim == 1 else scores


def fit_binary_calibrator(scores: np.ndarray, y: np.ndarray) -> LogisticRegression | float:
    """Platt scaling (on one score, or a few score columns); a label that never (or always)
    occurs gets its constant base rate."""
    y = np.asarray(y, dtype=int)
    if y.min() == y.max():
        return float(y.mean())
    calibrator = LogisticRegression(C=1e2, max_iter=1000)
    calibrator.fit(_as_columns(scores), y)
    return calibrator


def apply_binary_calibrator(calibrator: LogisticRegression | float, scores: np.ndarray) -> np.ndarray:
    if isinstance(calibrator, float):
        return np.full(len(scores), calibrator)
    return calibrator.predict_proba(_as_columns(scores))[:, 1]


def fit_multiclass_calibrator(scores: np.ndarray, y: np.ndarray) -> LogisticRegression:
    """Multinomial logistic calibration of per-class scores (a learned temperature and bias)."""
    calibrator = LogisticRegression(C=1e2, max_iter=1000)
    calibrator.fit(np.asarray(scores, dtype=float), y)
    return calibrator


def apply_multiclass_calibrator(calibrator: LogisticRegression, scores: np.ndarray,
                                classes: list[str]) -> np.ndarray:
    """Probabilities in `classes` order (a class the calibrator never saw gets 0)."""
    proba = calibrator.predict_proba(np.asarray(scores, dtype=float))
    out = np.zeros((len(scores), len(classes)))
    for column, cls in enumerate(calibrator.classes_):
        out[:, classes.index(cls)] = proba[:, column]
    return out


@dataclass
class MultilabelHead:
    """Topic head: one binary linear model per label, each with its own calibrator."""

    model: Any
    calibrators: list[Any]

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = multilabel_scores(self.model, X)
        return np.column_stack([apply_binary_calibrator(c, scores[:, j])
                                for j, c in enumerate(self.calibrators)])


@dataclass
class MulticlassHead:
    """Stance head: one multiclass linear model and a multinomial calibrator."""

    model: Any
    calibrator: LogisticRegression
    classes: list[str]

    def predict_proba(self, X: Any) -> np.ndarray:
        return apply_multiclass_calibrator(self.calibrator, multiclass_scores(self.model, X),
                                           self.classes)


@dataclass
class BinaryHead:
    """Scope head: one binary linear model on article vectors and its calibrator."""

    model: Any
    calibrator: Any

    def predict_proba(self, X: Any) -> np.ndarray:
        return apply_binary_calibrator(self.calibrator, binary_scores(self.model, X))
