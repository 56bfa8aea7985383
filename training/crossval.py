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

    topics: np.ndarray          # (paragraphs, topics)
    stance: np.ndarray          # (paragraphs, stances) in codebook order
    scope: np.ndarray           # (articles,)
    article_stance: np.ndarray  # (articles, stances) in codebook order
    furniture: np.ndarray       # (paragraphs,)


@dataclass
class Heads:
    """The fitted linear heads of one model, before calibration."""

    topic: object
    stance: object
    furniture: object
    scope: object
    article_stance: object


def all_rows(data: TrainingData) -> tuple[list[str], np.ndarray]:
    """Paragraph texts then titles, with the article owning each row (for article vectors)."""
    return data.texts + data.titles, np.concatenate([data.article_of, np.arange(data.n_articles)])


def content_rows(data: TrainingData) -> np.ndarray:
    """Which rows of `all_rows` enter the article vectors: every one but page furniture."""
    return np.concatenate([data.furniture == 0, np.ones(data.n_articles, dtype=bool)])


def fit_or_constant(estimator, X, y):
    """Fit, or predict the only class seen when the training subset has one (tiny folds,
    small learning-curve fractions); scikit-learn's linear models refuse a single class."""
    if len(set(np.asarray(y).tolist())) < 2:
        return DummyClassifier(strategy="most_frequent").fit(X, y)
    return estimator.fit(X, y)


def fit_heads(candidate: Candidate, seed: int, data: TrainingData, X_par, rows: np.ndarray,
              X_art, articles: np.ndarray) -> Heads:
    """Paragraph heads on paragraph rows; article heads on article vectors. The article stance
    head learns from in-scope articles only: out of scope, the stance is neutral by rule."""
    inside = articles[data.in_scope[articles] == 1]
    at = {a: i for i, a in enumerate(articles)}
    return Heads(
        topic=OneVsRestClassifier(build_head(candidate.head, seed)).fit(X_par, data.topics[rows]),
        stance=fit_or_constant(build_head(candidate.head, seed, multiclass=True), X_par, data.stance[rows]),
        furniture=fit_or_constant(build_head("logreg", seed), X_par, data.furniture[rows]),
        scope=fit_or_constant(build_head("logreg", seed), X_art, data.in_scope[articles]),
        article_stance=fit_or_constant(build_head("logreg", seed, multiclass=True),
                                       X_art[[at[a] for a in inside]], data.article_stance[inside]),
    )


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
    stances = data.codebook.stance_ids
    for candidate in wanted:
        rows = sp.hstack([blocks[k] for k in candidate.features.split("+")]).tocsr()
        vectors = article_vectors(rows, owners, data.n_articles, content_rows(data))
        heads = fit_heads(candidate, seed, data, rows[train_rows], train_rows, vectors[train_articles],
                          train_articles)
        test_x, test_vectors = rows[test_rows], vectors[test_articles]
        out[candidate] = (test_rows, test_articles, multilabel_scores(heads.topic, test_x),
                          ordered_class_scores(heads.stance, test_x, stances),
                          binary_scores(heads.scope, test_vectors),
                          ordered_class_scores(heads.article_stance, test_vectors, stances),
                          binary_scores(heads.furniture, test_x))
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
    n_stances = len(data.codebook.stance_ids)
    scores = RawScores(np.zeros(data.topics.shape), np.zeros((len(data.texts), n_stances)),
                       np.zeros(data.n_articles), np.zeros((data.n_articles, n_stances)), np.zeros(len(data.texts)))
    for rows, articles, topics, stance, scope, article_stance, furniture in folds:
        scores.topics[rows], scores.stance[rows], scores.furniture[rows] = topics, stance, furniture
        scores.scope[articles], scores.article_stance[articles] = scope, article_stance
    return scores
