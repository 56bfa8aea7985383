"""Calibrated probabilities from linear text classifiers.

A classifier head is a fitted scikit-learn estimator plus calibrators fitted on *out-of-fold*
scores from grouped cross-validation (the same idea as `CalibratedClassifierCV(ensemble=False)`,
but with article groups respected, which that class cannot do for us). Users see calibrated
probabilities, so a score of 0.8 means right about 80% of the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils.extmath import safe_sparse_dot

_EPS = 1e-6
# Per fitted OneVsRestClassifier: its labels' weight vectors as the columns of one matrix, built once.
_STACKED_WEIGHTS: WeakKeyDictionary[Any, tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]] = WeakKeyDictionary()


def binary_scores(estimator: Any, X: Any) -> np.ndarray:
    """One real-valued score per row from a fitted binary classifier, higher = positive.

    A linear model's score is computed here as `decision_function` computes it, without its
    input checks: a request makes a dozen such calls and the checks cost more than the product."""
    if isinstance(estimator, LinearClassifierMixin) and estimator.coef_.shape[0] == 1:
        return np.asarray(safe_sparse_dot(X, estimator.coef_.T, dense_output=True), dtype=float).ravel() \
            + float(np.ravel(estimator.intercept_)[0])
    if hasattr(estimator, "decision_function"):
        return np.asarray(estimator.decision_function(X), dtype=float).ravel()
    proba = np.clip(estimator.predict_proba(X), _EPS, 1 - _EPS)
    if proba.shape[1] == 1:
        return np.log(proba[:, 0])
    return np.log(proba[:, 1]) - np.log(proba[:, 0])


def multilabel_scores(ovr: Any, X: Any) -> np.ndarray:
    """Scores of every label of a fitted OneVsRestClassifier, shape (rows, labels).

    When every label's model is linear this is one sparse product against the stacked weights:
    the numbers each `decision_function` gives, without its input checks once per label (that
    was most of the topic head's time on a request)."""
    stacked = _stacked_linear_weights(ovr)
    if stacked is None:
        return np.column_stack([binary_scores(est, X) for est in ovr.estimators_])
    weights, intercept = stacked
    return np.asarray(safe_sparse_dot(X, weights, dense_output=True) + intercept, dtype=float)


def _stacked_linear_weights(ovr: Any) -> tuple[np.ndarray, np.ndarray] | None:
    estimators = ovr.estimators_
    if not all(isinstance(est, LinearClassifierMixin) and est.coef_.shape[0] == 1 for est in estimators):
        return None
    sources = tuple(est.coef_ for est in estimators)
    cached = _STACKED_WEIGHTS.get(ovr)
    # Refitting replaces the coef_ arrays, so the cache holds only while they are the same objects.
    if cached is None or not _same_objects(cached[0], sources):
        # Kept in the estimators' own dtype, so the arithmetic (and every digit) is theirs.
        weights = np.ascontiguousarray(np.vstack(sources).T)
        intercept = np.concatenate([np.ravel(est.intercept_) for est in estimators])
        cached = (sources, weights, intercept)
        _STACKED_WEIGHTS[ovr] = cached
    return cached[1], cached[2]


def _same_objects(first: tuple, second: tuple) -> bool:
    return len(first) == len(second) and all(a is b for a, b in zip(first, second, strict=True))


def multiclass_scores(estimator: Any, X: Any) -> np.ndarray:
    """Scores of every class, shape (rows, classes), whatever the estimator offers."""
    if hasattr(estimator, "estimators_") and len(estimator.estimators_) == len(estimator.classes_) > 2:
        return multilabel_scores(estimator, X)  # one-vs-rest: one linear model per class, in classes_ order
    if hasattr(estimator, "decision_function"):
        scores = np.asarray(estimator.decision_function(X), dtype=float)
        if scores.ndim == 1:
            return np.column_stack([-scores, scores])
        return scores
    return np.log(np.clip(estimator.predict_proba(X), _EPS, 1.0))


def ordered_class_scores(estimator: Any, X: Any, classes: list[str]) -> np.ndarray:
    """Per-class scores in `classes` order (the codebook's), whatever order the estimator learned;
    a class it never saw gets a very low score. Calibrators are fitted and applied on this order."""
    raw = multiclass_scores(estimator, X)
    learned = [str(c) for c in estimator.classes_]
    out = np.full((raw.shape[0], len(classes)), -10.0)
    for column, cls in enumerate(learned):
        out[:, classes.index(cls)] = raw[:, column]
    return out


def _as_columns(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    return scores.reshape(-1, 1) if scores.ndim == 1 else scores


@dataclass
class Platt:
    """A fitted logistic calibrator kept as plain weights: applying it is one dot product,
    not a scikit-learn call (those cost ~0.2 ms each, and a request makes dozens)."""

    coef: np.ndarray
    intercept: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(_as_columns(scores) @ self.coef + self.intercept)))


@dataclass
class Softmax:
    """A fitted multinomial calibrator as plain weights, columns in `classes` order."""

    coef: np.ndarray       # (scores, classes)
    intercept: np.ndarray  # (classes,)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        z = _as_columns(scores) @ self.coef + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def fit_binary_calibrator(scores: np.ndarray, y: np.ndarray, C: float = 1e2) -> Platt:
    """Platt scaling on one score or a few score columns; a label that never (or always)
    occurs gets its constant base rate."""
    x, y = _as_columns(scores), np.asarray(y, dtype=int)
    if y.min() == y.max():
        rate = float(np.clip(y.mean(), 1e-4, 1 - 1e-4))
        return Platt(np.zeros(x.shape[1]), float(np.log(rate / (1 - rate))))
    model = LogisticRegression(C=C, max_iter=1000).fit(x, y)
    return Platt(model.coef_[0].copy(), float(model.intercept_[0]))


def fit_multiclass_calibrator(scores: np.ndarray, y: np.ndarray, classes: list[str], C: float = 1e2,
                              balanced: bool = False) -> Softmax:
    """Multinomial logistic calibration of per-class scores (or any feature columns); a class
    absent from `y` gets probability ~0. `balanced` weights classes equally, for a decision
    whose rarer classes matter as much (critical articles)."""
    coef = np.zeros((_as_columns(scores).shape[1], len(classes)))
    intercept = np.full(len(classes), -30.0)
    present = sorted({str(v) for v in y})
    if len(present) == 1:
        intercept[classes.index(present[0])] = 0.0
        return Softmax(coef, intercept)
    model = LogisticRegression(C=C, max_iter=1000, class_weight="balanced" if balanced else None)
    model.fit(_as_columns(scores), y)
    learned = [str(c) for c in model.classes_]
    if len(learned) == 2:  # scikit-learn stores one weight vector for two classes
        coef[:, classes.index(learned[1])] = model.coef_[0]
        intercept[classes.index(learned[1])] = model.intercept_[0]
        intercept[classes.index(learned[0])] = 0.0
    else:
        for row, cls in enumerate(learned):
            coef[:, classes.index(cls)] = model.coef_[row]
            intercept[classes.index(cls)] = model.intercept_[row]
    return Softmax(coef, intercept)



@dataclass
class MultilabelHead:
    """Topic head: one binary linear model per label, each with its own calibrator."""

    model: Any
    calibrators: list[Platt]

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = multilabel_scores(self.model, X)
        coef = np.array([c.coef[0] for c in self.calibrators])
        intercept = np.array([c.intercept for c in self.calibrators])
        return 1.0 / (1.0 + np.exp(-(scores * coef + intercept)))


@dataclass
class MulticlassHead:
    """Stance head: one multiclass linear model and a multinomial calibrator."""

    model: Any
    calibrator: Softmax
    classes: list[str]

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.calibrator(ordered_class_scores(self.model, X, self.classes))


@dataclass
class BinaryHead:
    """Scope head: one binary linear model on article vectors and its calibrator."""

    model: Any
    calibrator: Platt

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.calibrator(binary_scores(self.model, X))
