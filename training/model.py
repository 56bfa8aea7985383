"""The candidate models: feature pipelines and linear heads, as plain scikit-learn objects.

Model selection compares every (features, head) pair listed here; the chosen pair is refitted
on the whole corpus. Preprocessing lives only in the feature Pipeline built here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from service.model.text_features import normalise_texts

# "word" drops function words (its n-grams are built from content words only), so explanations
# name terms an analyst can use; "wordall" keeps them and is compared to measure what that costs.
FEATURE_SETS = ("word", "wordall", "char", "word+char")
HEAD_KINDS = ("logreg", "linear_svc", "sgd", "complement_nb")
# Function words: scikit-learn's English stop list, plus the prepositions, auxiliaries and
# connectives it lacks, less the few content words it also holds that matter in this domain
# ("cross-border fire", "interest payments", "a finance bill").
_MISSING_FUNCTION_WORDS = {"amid", "amidst", "despite", "did", "does", "furthermore", "having", "inside", "just",
                           "like", "near", "outside", "shall", "theirs", "till", "unless", "unlike", "via", "per",
                           "upon", "onto", "including", "said", "says"}
_DOMAIN_WORDS = {"fire", "interest", "bill", "system", "serious", "call", "found", "move"}
STOP_WORDS = sorted((ENGLISH_STOP_WORDS | _MISSING_FUNCTION_WORDS) - _DOMAIN_WORDS)


@dataclass(frozen=True)
class Candidate:
    features: str
    head: str

    @property
    def name(self) -> str:
        return f"{self.features} / {self.head}"


# The comparison `make train` repeats on every run. The rest of the grid (function words kept,
# linear SVM, complement NB) lost on batch-grouped cross-validation by a margin the fold spread
# does not cover (README, "Model selection"); `--all-candidates` runs the whole grid again.
ROUTINE_FEATURE_SETS = ("word", "char", "word+char")
ROUTINE_HEAD_KINDS = ("logreg", "sgd")


def candidates(everything: bool = False) -> list[Candidate]:
    features, heads = (FEATURE_SETS, HEAD_KINDS) if everything else (ROUTINE_FEATURE_SETS, ROUTINE_HEAD_KINDS)
    return [Candidate(f, h) for f in features for h in heads]


# What batch-grouped selection chose on the 471-article corpus; `train --fast` fits it alone.
DEFAULT_CANDIDATE = Candidate("word+char", "logreg")


def build_vectoriser(kind: str) -> TfidfVectorizer:
    """One TF-IDF block; sizes are capped so the shipped artifact stays a few MB."""
    if kind in ("word", "wordall"):
        return TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.9, sublinear_tf=True,
                               stop_words=STOP_WORDS if kind == "word" else None,
                               max_features=40000, lowercase=False, dtype=np.float32)
    if kind == "char":
        # (3, 5) with 30,000 features against (2, 5) with 60,000, batch-grouped, word+char / logreg:
        # article topic macro-F1 0.823 against 0.817, stance 0.835 both, and about a third less
        # transform time and half the model file.
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2,
                               sublinear_tf=True, max_features=30000, lowercase=False,
                               dtype=np.float32)
    raise ValueError(f"unknown vectoriser {kind!r}")


def build_features(feature_set: str) -> Pipeline:
    """Raw paragraph text in, one sparse row out: all preprocessing in one Pipeline."""
    blocks = [(kind, build_vectoriser(kind)) for kind in feature_set.split("+")]
    return Pipeline([
        ("normalise", FunctionTransformer(normalise_texts)),
        ("tfidf", FeatureUnion(blocks)),
    ])


def build_head(kind: str, seed: int, multiclass: bool = False) -> ClassifierMixin:
    """An unfitted linear classifier; class weighting makes rare labels count.

    Logistic regression is solved in the dual (liblinear): with far more features than
    paragraphs that is the same L2 objective about ten times faster (1.9 s against 20 s for the
    ten topic heads on word+char features), and a multiclass head is one-vs-rest for the same
    reason (its scores are calibrated jointly afterwards)."""
    if kind == "logreg":
        binary = LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear", dual=True, max_iter=2000,
                                    random_state=seed)  # the dual solver shuffles: same seed, same model
        return OneVsRestClassifier(binary) if multiclass else binary
    if kind == "linear_svc":
        return LinearSVC(C=0.3, class_weight="balanced")
    if kind == "sgd":
        return SGDClassifier(loss="modified_huber", alpha=2e-4, class_weight="balanced",
                             max_iter=50, tol=None, random_state=seed)
    if kind == "complement_nb":
        return ComplementNB(alpha=0.3)
    raise ValueError(f"unknown head {kind!r}")


def weights_as_float32(heads: object) -> None:
    """Store the linear heads' weights in float32, the dtype of the features they multiply: half
    the model file (the char and word vocabularies times 18 heads), and scores that differ from
    float64 ones by about 1e-7, far below the calibrators' resolution."""
    for head in vars(heads).values():
        for estimator in getattr(head, "estimators_", [head]):
            for name in ("coef_", "intercept_"):
                value = getattr(estimator, name, None)
                if isinstance(value, np.ndarray) and value.dtype == np.float64:
                    setattr(estimator, name, value.astype(np.float32))


def shrink_for_shipping(features: Pipeline) -> None:
    """Drop `stop_words_` (every pruned term, kept only for introspection): it would triple the file."""
    for _, vectoriser in features.named_steps["tfidf"].transformer_list:
        if hasattr(vectoriser, "stop_words_"):
            del vectoriser.stop_words_
