"""The paragraph-to-article rule: from paragraph probabilities to article labels and evidence.

Written once. The service, the bulk command and the cross-validated evaluation all call
`article_labels`, so the figures in the report are the figures of the rule users get.

The rule, following the codebook: an article topic needs a meaningful share of the text (its
score combines the strongest paragraph with the length-weighted share of text about it). The
article stance and the scope are stacked decisions: a head that reads the whole article, the
length-weighted stance mix of the topical paragraphs and the strongest paragraph of each stance
(an article that is mainly a complaint is critical even if it opens politely; a calm report of
arrears is critical though most of its paragraphs are figures). Pasted page furniture weighs
nothing and carries no topic. An out-of-scope article gets no topics and the neutral stance.
Every article-level score is fitted on out-of-fold articles, so it is a probability too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from service.model.scoring import Platt, Softmax

# Guards against an empty or all-whitespace weighting (never divide by zero).
_MIN_WEIGHT = 1e-9
# A byline still counts a little towards the stance, so an article of bylines has one.
_MIN_TOPICALITY = 0.05


@dataclass
class ArticleRule:
    """Everything the rule needs besides the paragraph probabilities, all tuned out of fold."""

    topics: list[str]
    stances: list[str]
    neutral_stance: str
    paragraph_topic_thresholds: np.ndarray
    article_topic_calibrators: list[Platt]
    article_topic_thresholds: np.ndarray
    article_stance_stacker: Softmax
    scope_stacker: Platt
    scope_threshold: float
    uncertainty_margin: float = 0.1
    furniture_threshold: float = 0.5


@dataclass
class ParagraphLabels:
    topics: list[str]
    topic_scores: dict[str, float]
    stance: str
    stance_scores: dict[str, float]
    furniture: bool = False


@dataclass
class Evidence:
    """Indices of the paragraphs that support each article-level label."""

    topics: dict[str, list[int]]
    stance: list[int]
    in_scope: list[int]


@dataclass
class ArticleLabels:
    in_scope: bool
    in_scope_score: float
    topics: list[tuple[str, float]]
    topic_scores: dict[str, float]
    stance: str
    stance_scores: dict[str, float]
    uncertain: bool
    paragraphs: list[ParagraphLabels]
    evidence: Evidence


@dataclass(frozen=True)
class ArticleScores:
    """One article's model outputs: per paragraph (rows) and for the whole article."""

    topic_proba: np.ndarray      # (paragraphs, topics)
    stance_proba: np.ndarray     # (paragraphs, stances)
    furniture_proba: np.ndarray  # (paragraphs,)
    lengths: np.ndarray          # (paragraphs,) characters
    article_stance: np.ndarray   # (stances,) from the head that reads the whole article
    scope: float                 # from the head that reads the whole article
    ties: np.ndarray = field(default_factory=lambda: np.zeros(3))  # names signal, see scope_features

    def weights(self) -> np.ndarray:
        """Text length, discounted by how surely a paragraph is page furniture."""
        return np.asarray(self.lengths, dtype=float) * (1.0 - np.asarray(self.furniture_proba, dtype=float))


def topic_features(topic_proba: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per topic: [strongest paragraph, weighted share of the text], shape (topics, 2)."""
    share = weights / max(float(weights.sum()), _MIN_WEIGHT)
    strongest = (topic_proba * (weights > 0)[:, None]).max(axis=0)
    return np.column_stack([strongest, share @ topic_proba])


def stance_features(scores: ArticleScores) -> np.ndarray:
    """The stance stacker's inputs, shape (3 x stances,): the whole-article head's log
    probabilities, the log stance mix of the topical text, and each stance's strongest topical
    paragraph."""
    weights = scores.weights() * np.maximum(scores.topic_proba.max(axis=1), _MIN_TOPICALITY)
    mix = weights @ scores.stance_proba / max(float(weights.sum()), _MIN_WEIGHT)
    strongest = (scores.stance_proba * (weights / max(float(weights.max()), _MIN_WEIGHT))[:, None]).max(axis=0)
    return np.concatenate([_log(scores.article_stance), _log(mix), strongest])


def scope_features(scores: ArticleScores) -> np.ndarray:
    """The scope stacker's inputs: the whole-article head's log-odds, the strongest topical
    paragraph, the topical share of the text, and the names signal (Pakistan's mentions, the
    partners named, the paragraphs naming both: `ties`)."""
    weights = scores.weights()
    topicality = scores.topic_proba.max(axis=1)
    share = float(weights @ topicality) / max(float(weights.sum()), _MIN_WEIGHT)
    p = float(np.clip(scores.scope, 1e-6, 1 - 1e-6))
    return np.concatenate([[np.log(p / (1 - p)), float((topicality * (weights > 0)).max()), share],
                           scores.ties])


def article_stance(rule: ArticleRule, scores: ArticleScores) -> tuple[str, np.ndarray]:
    """The stance the stacker gives these scores: of a whole article, or of the paragraphs that
    name one partner."""
    stance_scores = rule.article_stance_stacker(stance_features(scores).reshape(1, -1))[0]
    return rule.stances[int(np.argmax(stance_scores))], stance_scores


def _log(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-6, 1.0))


def article_labels(rule: ArticleRule, scores: ArticleScores) -> ArticleLabels:
    """Article labels from one article's scores."""
    features = topic_features(scores.topic_proba, scores.weights())
    coef = np.array([c.coef for c in rule.article_topic_calibrators])
    intercept = np.array([c.intercept for c in rule.article_topic_calibrators])
    topic_scores = 1.0 / (1.0 + np.exp(-((features * coef).sum(axis=1) + intercept)))
    stance_label, stance_scores = article_stance(rule, scores)
    scope_score = float(rule.scope_stacker(scope_features(scores).reshape(1, -1))[0])
    in_scope = bool(scope_score >= rule.scope_threshold)
    paragraphs = [_paragraph_labels(rule, scores.topic_proba[i], scores.stance_proba[i],
                                    float(scores.furniture_proba[i]))
                  for i in range(len(scores.topic_proba))]
    if in_scope:
        chosen = [j for j in np.argsort(-topic_scores) if topic_scores[j] >= rule.article_topic_thresholds[j]]
        topics = [(rule.topics[j], float(topic_scores[j])) for j in chosen]
        stance = stance_label
    else:
        topics, stance = [], rule.neutral_stance
    return ArticleLabels(
        in_scope=in_scope,
        in_scope_score=scope_score,
        topics=topics,
        topic_scores={t: float(s) for t, s in zip(rule.topics, topic_scores, strict=True)},
        stance=stance,
        stance_scores={s: float(p) for s, p in zip(rule.stances, stance_scores, strict=True)},
        uncertain=_is_uncertain(rule, scope_score, stance_scores),
        paragraphs=paragraphs,
        evidence=_evidence(rule, topics, stance, scores.topic_proba, paragraphs),
    )


def _paragraph_labels(rule: ArticleRule, topic_row: np.ndarray, stance_row: np.ndarray,
                      furniture_score: float) -> ParagraphLabels:
    """Page furniture gets no topic and the neutral stance: it evaluates no relationship."""
    furniture = furniture_score >= rule.furniture_threshold
    order = np.argsort(-topic_row)
    return ParagraphLabels(
        topics=[] if furniture else [rule.topics[j] for j in order
                                     if topic_row[j] >= rule.paragraph_topic_thresholds[j]],
        topic_scores={t: float(p) for t, p in zip(rule.topics, topic_row, strict=True)},
        stance=rule.neutral_stance if furniture else rule.stances[int(np.argmax(stance_row))],
        stance_scores={s: float(p) for s, p in zip(rule.stances, stance_row, strict=True)},
        furniture=furniture,
    )


def _is_uncertain(rule: ArticleRule, scope_score: float, stance_scores: np.ndarray) -> bool:
    top_two = np.sort(stance_scores)[-2:]
    close_scope = abs(scope_score - rule.scope_threshold) < rule.uncertainty_margin
    close_stance = len(top_two) == 2 and (top_two[1] - top_two[0]) < rule.uncertainty_margin
    return bool(close_scope or close_stance)


def _evidence(rule: ArticleRule, topics: list[tuple[str, float]], stance: str,
              topic_proba: np.ndarray, paragraphs: list[ParagraphLabels]) -> Evidence:
    """Each article topic points at the paragraphs carrying it (at least its strongest one);
    the stance at the topical paragraphs sharing it; the scope at the topical paragraphs."""
    by_topic: dict[str, list[int]] = {}
    for topic, _ in topics:
        carrying = [i for i, p in enumerate(paragraphs) if topic in p.topics]
        by_topic[topic] = carrying or [int(np.argmax(topic_proba[:, rule.topics.index(topic)]))]
    topical = [i for i, p in enumerate(paragraphs) if p.topics]
    pool = topical or [i for i, p in enumerate(paragraphs) if not p.furniture]
    return Evidence(topics=by_topic,
                    stance=[i for i in pool if paragraphs[i].stance == stance],
                    in_scope=topical)
