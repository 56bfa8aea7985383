"""Decision thresholds and the article rule's calibrators, fitted on out-of-fold predictions only."""

from __future__ import annotations

import numpy as np

from service.model.aggregation import ArticleRule, scope_features, stance_features, topic_features
from service.model.codebook import Codebook
from service.model.scoring import (
    fit_binary_calibrator,
    fit_multiclass_calibrator,
)

# Thresholds are searched on a coarse grid and kept away from 0 and 1: with a few dozen
# positives per label, a finer search only fits noise.
GRID = np.round(np.arange(0.10, 0.91, 0.05), 2)
# The stance and scope stackers are regularised: their inputs are probabilities fitted on our own
# prose, and an unregularised stacker learned to trust them fully (0.99 on real text it got wrong).
STACKER_C = 1.0


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


def fit_rule(codebook: Codebook, data, articles: np.ndarray, probs) -> ArticleRule:
    """Fit the article rule on the given articles' out-of-fold probabilities (`probs` covers the
    whole corpus; only rows of `articles` are used)."""
    rows = data.paragraphs_of(articles)
    paragraph_thresholds = tune_thresholds(probs.topics[rows], data.topics[rows])
    scores = [probs.of_article(data, int(a)) for a in articles]
    topic_x = np.array([topic_features(s.topic_proba, s.weights()) for s in scores])
    stance_x = np.array([stance_features(s) for s in scores])
    scope_x = np.array([scope_features(s) for s in scores])
    inside = data.in_scope[articles] == 1
    gold_topics = data.article_topics[articles][inside]
    calibrators = [fit_binary_calibrator(topic_x[inside, j, :], gold_topics[:, j])
                   for j in range(len(codebook.topic_ids))]
    calibrated = np.column_stack([c(topic_x[inside, j, :]) for j, c in enumerate(calibrators)])
    stance_stacker = fit_multiclass_calibrator(stance_x[inside], data.article_stance[articles][inside],
                                               codebook.stance_ids, C=STACKER_C, balanced=True)
    scope_truth = data.in_scope[articles]
    scope_stacker = fit_binary_calibrator(scope_x, scope_truth, C=STACKER_C)
    return ArticleRule(
        topics=codebook.topic_ids,
        stances=codebook.stance_ids,
        neutral_stance=codebook.neutral_stance,
        paragraph_topic_thresholds=paragraph_thresholds,
        article_topic_calibrators=calibrators,
        article_topic_thresholds=tune_thresholds(calibrated, gold_topics),
        article_stance_stacker=stance_stacker,
        scope_stacker=scope_stacker,
        scope_threshold=_scope_threshold(scope_stacker(scope_x), scope_truth),
    )
def _scope_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """Balances both kinds of scope error (macro-F1), since analysts lose by either."""
    if truth.min() == truth.max():
        return 0.5
    inside = np.asarray(scores)[:, None] >= GRID[None, :]
    macro = (_f1(inside, truth) + _f1(~inside, 1 - np.asarray(truth))) / 2
    return _middle_of_best(macro)
