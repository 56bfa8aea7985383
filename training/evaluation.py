"""Honest figures: article labels from the shipped rule, fitted on other folds only.

Each fold's articles are labelled by `service.aggregation.article_labels` (the code users get)
with a rule whose thresholds and calibrators were fitted on the other folds' out-of-fold
predictions, so no figure here has seen its own labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from service.model.aggregation import ArticleLabels, article_labels
from training.calibration import Probabilities
from training.dataset import TrainingData
from training.thresholds import fit_rule


@dataclass
class Predictions:
    articles: list[ArticleLabels]
    paragraph_topics: np.ndarray  # (paragraphs, topics) 0/1
    paragraph_stance: np.ndarray  # (paragraphs,)


def honest_predictions(data: TrainingData, probs: Probabilities, fold_of: np.ndarray) -> Predictions:
    articles: list[ArticleLabels | None] = [None] * data.n_articles
    paragraph_topics = np.zeros(data.topics.shape, dtype=int)
    stance_ids = np.array(data.codebook.stance_ids, dtype=object)
    for k in range(int(fold_of.max()) + 1):
        rule = fit_rule(data.codebook, data, np.flatnonzero(fold_of != k), probs)
        for a in np.flatnonzero(fold_of == k):
            rows = data.rows_of_article[a]
            articles[a] = article_labels(rule, probs.of_article(data, a))
            paragraph_topics[rows] = probs.topics[rows] >= rule.paragraph_topic_thresholds
    return Predictions(articles, paragraph_topics, stance_ids[np.argmax(probs.stance, axis=1)])  # type: ignore[arg-type]


def article_topic_matrix(data: TrainingData, preds: Predictions) -> np.ndarray:
    ids = data.codebook.topic_ids
    out = np.zeros(data.article_topics.shape, dtype=int)
    for a, labels in enumerate(preds.articles):
        for topic, _ in labels.topics:
            out[a, ids.index(topic)] = 1
    return out


def article_macro_f1(data: TrainingData, preds: Predictions, head: str) -> float:
    """Article-level macro-F1 of the topics or of the stance."""
    if head == "topics":
        return float(f1_score(data.article_topics, article_topic_matrix(data, preds), average="macro",
                              zero_division=0))
    return float(f1_score(data.article_stance, [p.stance for p in preds.articles], average="macro", zero_division=0))


def selection_score(data: TrainingData, preds: Predictions) -> float:
    """Article-level macro-F1: the mean of the topic macro-F1 and the stance macro-F1."""
    return (article_macro_f1(data, preds, "topics") + article_macro_f1(data, preds, "stance")) / 2


def per_label(truth: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    p, r, f, s = precision_recall_fscore_support(truth, predicted, zero_division=0)
    return {label: {"precision": round(float(p[j]), 3), "recall": round(float(r[j]), 3),
                    "f1": round(float(f[j]), 3), "support": int(s[j])} for j, label in enumerate(labels)}


def per_class(truth, predicted, labels: list[str]) -> dict[str, dict[str, float]]:
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    return {label: {"precision": round(float(p[j]), 3), "recall": round(float(r[j]), 3),
                    "f1": round(float(f[j]), 3), "support": int(s[j])} for j, label in enumerate(labels)}


def _averages(truth, predicted, fold_of_rows, multilabel: bool, labels=None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for average in ("micro", "macro"):
        overall = f1_score(truth, predicted, average=average, labels=labels, zero_division=0)
        per_fold = [f1_score(truth[fold_of_rows == k], predicted[fold_of_rows == k], average=average,
                             labels=labels, zero_division=0)
                    for k in range(int(fold_of_rows.max()) + 1)]
        out[f"{average}_f1"] = round(float(overall), 3)
        out[f"{average}_f1_fold_std"] = round(float(np.std(per_fold)), 3)
    return out


def metrics(data: TrainingData, preds: Predictions, fold_of: np.ndarray) -> dict[str, Any]:
    topics, stances = data.codebook.topic_ids, data.codebook.stance_ids
    row_folds = fold_of[data.article_of]
    art_topics = article_topic_matrix(data, preds)
    art_stance = np.array([p.stance for p in preds.articles], dtype=object)
    art_scope = np.array([int(p.in_scope) for p in preds.articles])
    out_truth, out_pred = 1 - data.in_scope, 1 - art_scope
    scope_p, scope_r, scope_f, _ = precision_recall_fscore_support(
        out_truth, out_pred, average="binary", zero_division=0)
    in_p, in_r, in_f, _ = precision_recall_fscore_support(data.in_scope, art_scope, average="binary", zero_division=0)
    return {
        "selection_score": round(selection_score(data, preds), 3),
        "paragraph": {
            "topics": {"per_label": per_label(data.topics, preds.paragraph_topics, topics),
                       **_averages(data.topics, preds.paragraph_topics, row_folds, True)},
            "stance": {"per_label": per_class(data.stance, preds.paragraph_stance, stances),
                       **_averages(data.stance, preds.paragraph_stance, row_folds, False, stances),
                       "confusion": confusion_matrix(data.stance, preds.paragraph_stance, labels=stances).tolist()},
        },
        "article": {
            "topics": {"per_label": per_label(data.article_topics, art_topics, topics),
                       **_averages(data.article_topics, art_topics, fold_of, True)},
            "stance": {"per_label": per_class(data.article_stance, art_stance, stances),
                       **_averages(data.article_stance, art_stance, fold_of, False, stances),
                       "confusion": confusion_matrix(data.article_stance, art_stance, labels=stances).tolist()},
            "out_of_scope": {"precision": round(float(scope_p), 3), "recall": round(float(scope_r), 3),
                             "f1": round(float(scope_f), 3), "support": int(out_truth.sum())},
            "in_scope": {"precision": round(float(in_p), 3), "recall": round(float(in_r), 3),
                         "f1": round(float(in_f), 3), "support": int(data.in_scope.sum())},
        },
        "labels": {"topics": topics, "stances": stances},
    }
