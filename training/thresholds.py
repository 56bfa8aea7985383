"""Decision thresholds and the article rule's calibrators, fitted on out-of-fold predictions only."""

from __future__ import annotations

import numpy as np

from service.model.aggregation import ArticleRule, stance_features, topic_features
from service.model.codebook import Codebook
from service.model.scoring import (
    fit_binary_calibrator,
    fit_multiclass_calibrator,
)

# Thresholds are searched on a coarse grid and kept away from 0 and 1: with a few dozen
# positives per label, a finer search only fits noise.
GRID = np.round(np.arange(0.10, 0.91, 0.05), 2)


def f1_at_each_threshold(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """F1 of `scores >= t` for every t of GRID at once (the same figure as sklearn's f1_score)."""
    return _f1(np.asarray(scores)[:, None] >= GRID[None, :], truth)


def _f1(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    positive = np.asarray(truth, dtype=bool)[:, None]
    tp = (predicted & positive).sum(axis=0)
    denominator = predicted.sum(axis=0) + positive.sum()
    return np.divide(2 * tp, denominator, out=np.zeros(len(GRID)), where=denominator > 0)


def _middle_of_best(f1s: np.ndarray) -> float:
    best = np.flatnonzero(f1s >= f1s.max() - 1e-9)
    return float(GRID[best[len(best) // 2]])


def tune_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The F1-best threshold; among equally good ones, the middle of the best plateau."""
    if np.asarray(truth).sum() == 0:
        return float(GRID[-1])
    return _middle_of_best(f1_at_each_threshold(scores, truth))


def tune_thresholds(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.array([tune_threshold(scores[:, j], truth[:, j]) for j in range(truth.shape[1])])


def article_features(topic_proba, stance_proba, lengths, article_of, articles):
    """Per article: topic features (articles, topics, 2) and stance features (articles, stances)."""
    topic_rows, stance_rows = [], []
    for a in articles:
        rows = np.flatnonzero(article_of == a)
        topic_rows.append(topic_features(topic_proba[rows], lengths[rows]))
        stance_rows.append(stance_features(topic_proba[rows], stance_proba[rows], lengths[rows]))
    return np.array(topic_rows), np.array(stance_rows)


def fit_rule(codebook: Codebook, data, articles: np.ndarray, topic_proba: np.ndarray,
             stance_proba: np.ndarray, scope_proba: np.ndarray) -> ArticleRule:
    """Fit the article rule on the given articles' out-of-fold paragraph probabilities.

    `topic_proba`, `stance_proba` are indexed by paragraph, `scope_proba` by article, for the
    whole corpus; only rows of `articles` are used.
    """
    rows = data.paragraphs_of(articles)
    paragraph_thresholds = tune_thresholds(topic_proba[rows], data.topics[rows])
    topic_x, stance_x = article_features(topic_proba, stance_proba, data.lengths,
                                         data.article_of, articles)
    inside = data.in_scope[articles] == 1
    gold_topics = data.article_topics[articles][inside]
    calibrators = [fit_binary_calibrator(topic_x[inside, j, :], gold_topics[:, j])
                   for j in range(len(codebook.topic_ids))]
    calibrated = np.column_stack([c(topic_x[inside, j, :]) for j, c in enumerate(calibrators)])
    stance_calibrator = fit_multiclass_calibrator(stance_x[inside], data.article_stance[articles][inside],
                                                  codebook.stance_ids)
    scope_truth = data.in_scope[articles]
    return ArticleRule(
        topics=codebook.topic_ids,
        stances=codebook.stance_ids,
        neutral_stance=codebook.neutral_stance,
        paragraph_topic_thresholds=paragraph_thresholds,
        article_topic_calibrators=calibrators,
        article_topic_thresholds=tune_thresholds(calibrated, gold_topics),
        article_stance_calibrator=stance_calibrator,
        scope_threshold=_scope_threshold(scope_proba[articles], scope_truth),
    )


def _scope_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """Balances both kinds of scope error (macro-F1), since analysts lose by either."""
    if truth.min() == truth.max():
        return 0.5
    inside = np.asarray(scores)[:, None] >= GRID[None, :]
    macro = (_f1(inside, truth) + _f1(~inside, 1 - np.asarray(truth))) / 2
    return _middle_of_best(macro)
