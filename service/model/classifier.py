"""The fitted model and the one function that labels articles with it.

`ArticleClassifier` is what `training/` pickles and the service loads: a single scikit-learn
feature Pipeline (all text preprocessing) shared by every calibrated head (paragraph topics,
paragraph stance, page furniture; article stance and scope on the article vector), so each
request's paragraphs go through the vectoriser exactly once. The partner gazetteer and the
"about" model ride along as plain data. `classify_articles` is called by the HTTP routes (single
and batch) and the bulk command; evaluation calls the same article rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import normalize

from service.model.aggregation import ArticleLabels, ArticleRule, ArticleScores, article_labels, article_stance
from service.model.article_partners import ArticlePartner, PartnerReader, partner_evidence
from service.model.codebook import Codebook
from service.model.paragraphs import Span, split_paragraphs
from service.model.partners import AboutModel, Gazetteer, Mention
from service.model.scoring import BinaryHead, MulticlassHead, MultilabelHead

EXPLAIN_TERMS = 8


@dataclass
class ArticleClassifier:
    codebook: Codebook
    features: Pipeline
    topic_head: MultilabelHead
    stance_head: MulticlassHead
    scope_head: BinaryHead
    rule: ArticleRule
    article_stance_head: MulticlassHead
    furniture_head: BinaryHead
    gazetteer: dict
    about_model: dict

    @property
    def partner_reader(self) -> PartnerReader:
        """Compiled once per loaded model: the matcher is one regular expression over ~1,300 names."""
        reader = self.__dict__.get("_partner_reader")
        if reader is None:
            reader = PartnerReader(Gazetteer(self.gazetteer), AboutModel(self.about_model))
            self.__dict__["_partner_reader"] = reader
        return reader

    @property
    def partner_names(self) -> list[str]:
        """Every canonical partner name the gazetteer knows, in its order (Pakistan is never one)."""
        return [name for name in self.gazetteer["entries"] if name != self.gazetteer["self"]]


@dataclass(frozen=True)
class ArticleInput:
    text: str
    title: str = ""


@dataclass
class Classification:
    labels: ArticleLabels
    spans: list[Span]
    explanation: dict[str, list[tuple[str, float]]] | None = None
    partners: list[ArticlePartner] | None = None


def article_vectors(rows: sp.csr_matrix, owners: Sequence[int], n_articles: int,
                    keep: np.ndarray | None = None) -> sp.csr_matrix:
    """Article feature vectors: the L2-normalised sum of the article's paragraph (and title) rows,
    leaving out the rows `keep` marks False (page furniture).

    Training builds the article heads' inputs with this same function, so there is one definition.
    """
    owners = np.asarray(owners)
    weights = np.ones(len(owners)) if keep is None else np.asarray(keep, dtype=float)
    membership = sp.csr_matrix((weights, (owners, np.arange(len(owners)))), shape=(n_articles, rows.shape[0]))
    return normalize(membership @ rows)


def classify_articles(model: ArticleClassifier, articles: Sequence[ArticleInput],
                      explain: bool = False) -> list[Classification]:
    """Label many articles with one vectoriser call over all their paragraphs and titles."""
    spans = [split_paragraphs(a.text) for a in articles]
    texts: list[str] = []
    owners: list[int] = []
    for index, (article, article_spans) in enumerate(zip(articles, spans, strict=True)):
        texts += [article.text[s.start:s.end] for s in article_spans]
        owners += [index] * len(article_spans)
    paragraph_count = len(texts)
    for index, article in enumerate(articles):
        if article.title.strip():
            texts.append(article.title)
            owners.append(index)
    rows = model.features.transform(texts)
    paragraph_rows = rows[:paragraph_count]
    topic_proba = model.topic_head.predict_proba(paragraph_rows)
    stance_proba = model.stance_head.predict_proba(paragraph_rows)
    furniture_proba = model.furniture_head.predict_proba(paragraph_rows)
    keep = np.concatenate([furniture_proba < model.rule.furniture_threshold,
                           np.ones(len(texts) - paragraph_count, dtype=bool)])
    vectors = article_vectors(rows, owners, len(articles), keep)
    scope = model.scope_head.predict_proba(vectors)
    article_stance_proba = model.article_stance_head.predict_proba(vectors)
    reader = model.partner_reader

    results: list[Classification] = []
    start = 0
    for index, (article, article_spans) in enumerate(zip(articles, spans, strict=True)):
        stop = start + len(article_spans)
        segments = reader.mentions(article.title, texts[start:stop])
        lengths = np.array([s.end - s.start for s in article_spans], dtype=float)
        scores = ArticleScores(topic_proba[start:stop], stance_proba[start:stop], furniture_proba[start:stop],
                               lengths, article_stance_proba[index], float(scope[index]),
                               reader.relationship_signal(segments))
        labels = article_labels(model.rule, scores)
        partners = (_partners(model, article.title, texts[start:stop], article_spans, segments, labels,
                              scores, paragraph_rows[start:stop], keep[start:stop])
                    if labels.in_scope else [])
        explanation = _explain(model, labels, vectors[index]) if explain else None
        results.append(Classification(labels, article_spans, explanation, partners))
        start = stop
    return results


def _partners(model: ArticleClassifier, title: str, texts: list[str], spans: list[Span],
              segments: list[list[Mention]], labels: ArticleLabels, scores: ArticleScores,
              rows: sp.csr_matrix, keep: np.ndarray) -> list[ArticlePartner]:
    """The partners the article is about. With two or more, each gets the stance of the
    paragraphs naming it, read by the same heads and rule as the article; with one, the
    article's stance is the stance toward it."""
    found = model.partner_reader.about_partners(title, texts, segments)
    evidence = [partner_evidence(name, segments[1:], spans) for name, _ in found]
    article_scores = np.array([labels.stance_scores[s] for s in model.rule.stances])
    stances = [(labels.stance, article_scores)] * len(found)
    if len(found) > 1:
        stances = _stances_of(model, scores, rows, keep, [paragraphs for paragraphs, _ in evidence], stances[0])
    return [ArticlePartner(name, salience, stance, dict(zip(model.rule.stances, map(float, p), strict=True)),
                           paragraphs, where)
            for (name, salience), (paragraphs, where), (stance, p) in zip(found, evidence, stances, strict=True)]


def _stances_of(model: ArticleClassifier, scores: ArticleScores, rows: sp.csr_matrix, keep: np.ndarray,
                groups: list[list[int]], whole: tuple[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """The stance of each group of paragraphs: their own article vector through the article
    stance head (one call for every group), then the same stacker as the whole article. A group
    with no paragraph (a partner named in the title only) gets the whole article's stance."""
    pairs = [(g, j) for g, paragraphs in enumerate(groups) for j in paragraphs]
    membership = sp.csr_matrix(([float(keep[j]) for _, j in pairs], ([g for g, _ in pairs], [j for _, j in pairs])),
                               shape=(len(groups), rows.shape[0]))
    head = model.article_stance_head.predict_proba(normalize(membership @ rows))
    out = []
    for g, paragraphs in enumerate(groups):
        if not paragraphs:
            out.append(whole)
            continue
        chosen = np.array(paragraphs)
        subset = ArticleScores(scores.topic_proba[chosen], scores.stance_proba[chosen],
                               scores.furniture_proba[chosen], scores.lengths[chosen], head[g], scores.scope,
                               scores.ties)
        out.append(article_stance(model.rule, subset))
    return out


def _explain(model: ArticleClassifier, labels: ArticleLabels,
             vector: sp.csr_matrix) -> dict[str, list[tuple[str, float]]]:
    """Per assigned label, the article's terms with the largest push towards it (value x weight)."""
    names = _feature_names(model)
    out: dict[str, list[tuple[str, float]]] = {}
    for topic, _ in labels.topics:
        estimator = model.topic_head.model.estimators_[model.rule.topics.index(topic)]
        out[topic] = _top_terms(vector, binary_weights(estimator), names)
    stance_model = model.article_stance_head.model
    classes = [str(c) for c in stance_model.classes_]
    if labels.in_scope and labels.stance in classes:
        out[labels.stance] = _top_terms(vector, class_weights(stance_model, classes.index(labels.stance)), names)
    out["in_scope" if labels.in_scope else "out_of_scope"] = _top_terms(
        vector, binary_weights(model.scope_head.model) * (1 if labels.in_scope else -1), names)
    return out


def _feature_names(model: ArticleClassifier) -> np.ndarray:
    """Readable names of the feature columns; character n-grams are named None because a
    fragment like " ja" explains nothing to an analyst (word terms are shown instead)."""
    cached = model.__dict__.get("_feature_names")
    if cached is None:
        raw = model.features.named_steps["tfidf"].get_feature_names_out()
        cached = np.array([None if name.startswith("char__") else name.split("__", 1)[-1] for name in raw],
                          dtype=object)
        model.__dict__["_feature_names"] = cached
    return cached


def binary_weights(estimator) -> np.ndarray:
    if hasattr(estimator, "coef_"):
        return np.asarray(estimator.coef_, dtype=float).ravel()
    log_prob = estimator.feature_log_prob_
    return np.asarray(log_prob[-1] - log_prob[0], dtype=float)


def class_weights(estimator, class_index: int) -> np.ndarray:
    if hasattr(estimator, "estimators_"):  # one-vs-rest: one binary model per class (one for two classes)
        if len(estimator.estimators_) == 1:
            return binary_weights(estimator.estimators_[0]) * (1 if class_index else -1)
        return binary_weights(estimator.estimators_[class_index])
    if hasattr(estimator, "coef_"):
        coef = np.asarray(estimator.coef_, dtype=float)
        return coef[class_index] if coef.shape[0] > 1 else coef[0] * (1 if class_index else -1)
    log_prob = np.asarray(estimator.feature_log_prob_, dtype=float)
    return log_prob[class_index] - log_prob.mean(axis=0)


def _top_terms(vector: sp.csr_matrix, weights: np.ndarray, names: np.ndarray) -> list[tuple[str, float]]:
    row = vector.tocsr()
    named = np.array([names[j] is not None for j in row.indices], dtype=bool)
    indices, values = row.indices[named], row.data[named]
    contributions = values * weights[indices]
    order = np.argsort(-contributions)[:EXPLAIN_TERMS]
    return [(str(names[indices[i]]), round(float(contributions[i]), 4))
            for i in order if contributions[i] > 0]
