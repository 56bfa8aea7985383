"""Out-of-fold raw scores for every candidate model, fold by fold.

Each fold fits its vectorisers on the training articles only. Word and character blocks are
fitted once per fold and shared by every head (the union is their horizontal stack, exactly what
`FeatureUnion` computes), which keeps full model selection within the training time budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.dummy import DummyClassifier
from sklearn.multiclass import OneVsRestClassifier

from service.model.classifier import article_vectors
from service.model.scoring import binary_scores, multilabel_scores, ordered_class_scores
from service.model.text_features import normalise_texts
from training.dataset import TrainingData
from training.model import Candidate, build_head, build_vectoriser


@dataclass
class RawScores:
    """Uncalibrated out-of-fold scores of one candidate for the whole corpus."""

    topics: np.ndarray   # (paragraphs, topics)
    stance: np.ndarray   # (paragraphs, stances) in codebook order
    scope: np.ndarray    # (articles,)


def all_rows(data: TrainingData) -> tuple[list[str], np.ndarray]:
    """Paragraph texts then titles, with the article owning each row (for article vectors)."""
    return data.texts + data.titles, np.concatenate([data.article_of, np.arange(data.n_articles)])


def fit_or_constant(estimator, X, y):
    """Fit, or predict the only class seen when the training subset has one (tiny folds,
    small learning-curve fractions); scikit-learn's linear models refuse a single class."""
    if len(set(np.asarray(y).tolist())) < 2:
        return DummyClassifier(strategy="most_frequent").fit(X, y)
    return estimator.fit(X, y)


def fit_heads(candidate: Candidate, seed: int, X_par, y_topics, y_stance, X_art, y_scope):
    topic = OneVsRestClassifier(build_head(candidate.head, seed)).fit(X_par, y_topics)
    stance = fit_or_constant(build_head(candidate.head, seed, multiclass=True), X_par, y_stance)
    scope = fit_or_constant(build_head("logreg", seed), X_art, y_scope)
    return topic, stance, scope


def _fold_scores(data: TrainingData, fold_of: np.ndarray, fold: int,
                 wanted: list[Candidate], seed: int, train_fraction: float = 1.0):
    train_articles = np.flatnonzero(fold_of != fold)
    if train_fraction < 1.0:
        rng = np.random.default_rng(seed + fold)
        keep = max(2, round(train_fraction * len(train_articles)))
        train_articles = np.sort(rng.choice(train_articles, size=keep, replace=False))
    test_articles = np.flatnonzero(fold_of == fold)
    train_rows = data.paragraphs_of(train_articles)
    test_rows = data.paragraphs_of(test_articles)
    texts, owners = all_rows(data)
    normalised = normalise_texts(texts)
    blocks = {}
    for kind in sorted({k for c in wanted for k in c.features.split("+")}):
        vectoriser = build_vectoriser(kind).fit([normalised[i] for i in train_rows])
        blocks[kind] = vectoriser.transform(normalised)
    out = {}
    for candidate in wanted:
        rows = sp.hstack([blocks[k] for k in candidate.features.split("+")]).tocsr()
        vectors = article_vectors(rows, owners, data.n_articles)
        topic, stance, scope = fit_heads(
            candidate, seed, rows[train_rows], data.topics[train_rows], data.stance[train_rows],
            vectors[train_articles], data.in_scope[train_articles])
        stance_raw = ordered_class_scores(stance, rows[test_rows], data.codebook.stance_ids)
        out[candidate] = (test_rows, test_articles, multilabel_scores(topic, rows[test_rows]),
                          stance_raw, binary_scores(scope, vectors[test_articles]))
    return out


def out_of_fold_scores(data: TrainingData, fold_of: np.ndarray, wanted: list[Candidate],
                       seed: int, n_jobs: int = 2, train_fraction: float = 1.0) -> dict[Candidate, RawScores]:
    return learning_curve_scores(data, fold_of, wanted, seed, (train_fraction,), n_jobs)[train_fraction]


def learning_curve_scores(data: TrainingData, fold_of: np.ndarray, wanted: list[Candidate], seed: int,
                          fractions: tuple[float, ...], n_jobs: int = 2) -> dict[float, dict[Candidate, RawScores]]:
    """Out-of-fold scores for each training fraction; every (fraction, fold) pair is one job,
    so both cores stay busy to the end."""
    n_folds = int(fold_of.max()) + 1
    tasks = [(fraction, k) for fraction in fractions for k in range(n_folds)]
    outputs = Parallel(n_jobs=n_jobs)(
        delayed(_fold_scores)(data, fold_of, k, wanted, seed, fraction) for fraction, k in tasks)
    result: dict[float, dict[Candidate, RawScores]] = {}
    for fraction in fractions:
        per_fold = [out for (f, _), out in zip(tasks, outputs, strict=True) if f == fraction]
        result[fraction] = {c: _assemble(data, [fold[c] for fold in per_fold]) for c in wanted}
    return result


def _assemble(data: TrainingData, folds: list[tuple]) -> RawScores:
    scores = RawScores(np.zeros(data.topics.shape), np.zeros((len(data.texts), len(data.codebook.stance_ids))),
                       np.zeros(data.n_articles))
    for rows, articles, topics, stance, scope in folds:
        scores.topics[rows], scores.stance[rows], scores.scope[articles] = topics, stance, scope
    return scores
