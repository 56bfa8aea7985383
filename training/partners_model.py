"""Fits the "about" decision: of the partners an article mentions, which is it about?

Gold comes from the headers: a candidate (a partner the matcher finds in the article) is
positive iff the header lists it. The model is a small logistic regression over the features
of `service.model.partners`, Platt-calibrated, with its decision threshold chosen out of fold.

Evaluation is nested and grouped by writing batch (`Article.batch`): batches share writers,
outlets and events, so a batch never sits on both sides of a split. For each held-out batch the
calibration and threshold come from an inner cross-validation over the other batches only, so
the printed precision, recall and F1 are honest. Header partners the text never mentions can
never be found by this model; they count as misses and give the recall ceiling.

Run `python -m training.partners_model [data_dir]` to print the figures.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut

from service.model.partners import FEATURE_NAMES, AboutModel, Gazetteer
from service.model.scoring import Platt, fit_binary_calibrator
from training.corpus import Article
from training.gazetteer import build_gazetteer, parseable_articles

REGULARISATION_C = 0.3


@dataclass
class CandidateTable:
    """One row per (article, mentioned partner), plus the header partners never mentioned."""

    features: np.ndarray           # (candidates, FEATURE_NAMES)
    gold: np.ndarray               # (candidates,) bool: the header lists it
    groups: np.ndarray             # (candidates,) the article's writing batch
    article: np.ndarray            # (candidates,) index into `articles`
    in_scope: np.ndarray           # (candidates,) bool: the article is in scope
    partner: list[str]
    articles: list[Article]
    unmentioned: list[tuple[int, str]] = field(default_factory=list)  # (article index, partner)

    def unmentioned_in(self, batches: set[str]) -> int:
        return sum(self.articles[i].batch in batches for i, _ in self.unmentioned)


def candidate_table(articles: Sequence[Article], gazetteer: Gazetteer) -> CandidateTable:
    """Candidates and features of every article, as the service will see it (all paragraphs,
    furniture included, since the service cannot tell furniture apart before scoring)."""
    rows, gold, groups, index, names, unmentioned = [], [], [], [], [], []
    for i, article in enumerate(articles):
        partners, features, _ = gazetteer.partner_features(article.title, [p.text for p in article.paragraphs])
        rows.append(features)
        gold += [p in article.partners for p in partners]
        groups += [article.batch] * len(partners)
        index += [i] * len(partners)
        names += partners
        unmentioned += [(i, p) for p in article.partners if p not in partners]
    in_scope = np.array([articles[i].in_scope for i in index], dtype=bool)
    return CandidateTable(np.vstack(rows) if rows else np.zeros((0, len(FEATURE_NAMES))),
                          np.array(gold, dtype=bool), np.array(groups), np.array(index), in_scope, names,
                          list(articles), unmentioned)


def _fit_logistic(features: np.ndarray, gold: np.ndarray) -> dict[str, Any]:
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=REGULARISATION_C, max_iter=1000).fit((features - mean) / scale, gold)
    return {"mean": mean, "scale": scale, "coef": model.coef_[0], "intercept": float(model.intercept_[0])}


def _raw(params: dict[str, Any], features: np.ndarray) -> np.ndarray:
    return ((features - params["mean"]) / params["scale"]) @ params["coef"] + params["intercept"]


def _fit_platt(raw: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """The shared Platt calibrator (which also copes with a fold where every candidate agrees),
    kept as the two numbers `AboutModel` stores."""
    platt = fit_binary_calibrator(raw, gold, C=1e4)
    return float(platt.coef[0]), platt.intercept


def _platt(raw: np.ndarray, platt: tuple[float, float]) -> np.ndarray:
    return Platt(np.array([platt[0]]), platt[1])(raw)


def _best_threshold(probs: np.ndarray, gold: np.ndarray, missed: int) -> float:
    """The threshold with the best micro-F1, counting header partners never mentioned as misses."""
    best, best_f1 = 0.5, -1.0
    for threshold in np.unique(np.round(probs, 4)):
        f1 = scores(probs >= threshold, gold, missed)["f1"]
        if f1 > best_f1:
            best, best_f1 = float(threshold), f1
    return best


def _out_of_fold_raw(table: CandidateTable, rows: np.ndarray) -> np.ndarray:
    """Raw scores of `rows`, each from a model that never saw its batch."""
    raw = np.zeros(len(rows))
    groups = table.groups[rows]
    for inside, outside in LeaveOneGroupOut().split(rows, groups=groups):
        params = _fit_logistic(table.features[rows[inside]], table.gold[rows[inside]])
        raw[outside] = _raw(params, table.features[rows[outside]])
    return raw


def fit_about_model(table: CandidateTable, rows: np.ndarray | None = None) -> dict[str, Any]:
    """The about model on `rows` (default: the candidates of in-scope articles), as the plain
    dict `AboutModel` reads: logistic on all rows; Platt scaling and threshold from
    batch-grouped out-of-fold scores of those rows.

    Out-of-scope articles have no partners by definition (data/README.md), so they are left to
    the scope head: the model answers "which partners", given that the article is in scope.
    """
    rows = np.flatnonzero(table.in_scope) if rows is None else rows
    params = _fit_logistic(table.features[rows], table.gold[rows])
    several = len(set(table.groups[rows])) > 1
    raw = _out_of_fold_raw(table, rows) if several else _raw(params, table.features[rows])
    platt = _fit_platt(raw, table.gold[rows])
    missed = table.unmentioned_in(set(table.groups[rows]))
    threshold = _best_threshold(_platt(raw, platt), table.gold[rows], missed)
    return {
        "feature_names": list(FEATURE_NAMES),
        "mean": params["mean"].tolist(), "scale": params["scale"].tolist(),
        "coef": params["coef"].tolist(), "intercept": params["intercept"],
        "platt": list(platt), "threshold": threshold,
    }


@dataclass
class AboutEvaluation:
    probability: np.ndarray   # (candidates,) out-of-fold calibrated probability
    kept: np.ndarray          # (candidates,) out-of-fold decision with the fold's own threshold
    thresholds: dict[str, float]


def cross_validate(table: CandidateTable) -> AboutEvaluation:
    """Nested, batch-grouped: each held-out batch (all its candidates, out-of-scope articles
    included) is scored by a model, calibration and threshold fitted on the in-scope articles
    of the other batches alone."""
    probability = np.zeros(len(table.gold))
    kept = np.zeros(len(table.gold), dtype=bool)
    thresholds: dict[str, float] = {}
    every = np.arange(len(table.gold))
    for inside, outside in LeaveOneGroupOut().split(every, groups=table.groups):
        model = AboutModel(fit_about_model(table, inside[table.in_scope[inside]]))
        probability[outside] = model.probabilities(table.features[outside])
        kept[outside] = probability[outside] >= model.threshold
        thresholds[str(table.groups[outside[0]])] = model.threshold
    return AboutEvaluation(probability, kept, thresholds)


def scores(kept: np.ndarray, gold: np.ndarray, missed: int) -> dict[str, float]:
    """Article-level micro precision, recall and F1 (a header partner never mentioned is a miss)."""
    tp = int((kept & gold).sum())
    fp = int((kept & ~gold).sum())
    fn = int((~kept & gold).sum()) + missed
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def load_articles(data_dir: Path) -> list[Article]:
    """The validated corpus; while writers are mid-way and validation refuses, the files that
    parse cleanly on their own."""
    from training.validation import CorpusInvalid, load_corpus

    try:
        return list(load_corpus(data_dir).articles)
    except CorpusInvalid:
        return parseable_articles(data_dir)


def _score_line(name: str, kept: np.ndarray, gold: np.ndarray, missed: int) -> str:
    s = scores(kept, gold, missed)
    return (f"{name}: P {s['precision']:.3f} R {s['recall']:.3f} F1 {s['f1']:.3f} "
            f"(tp {s['tp']}, fp {s['fp']}, fn {s['fn']})")


def report(table: CandidateTable, evaluation: AboutEvaluation) -> list[str]:
    """The figures: on in-scope articles (the model's task), and on every article with no scope
    gate at all (the worst case: a scope head that lets everything through)."""
    inside = table.in_scope
    gold, kept, missed = table.gold[inside], evaluation.kept[inside], len(table.unmentioned)
    n_gold = int(gold.sum()) + missed
    is_top = table.features[inside, FEATURE_NAMES.index("is_top")] > 0
    negatives = ~gold
    lines = [
        f"articles {len(table.articles)} ({sum(a.in_scope for a in table.articles)} in scope), "
        f"batches {len(set(a.batch for a in table.articles))}, candidates {len(table.gold)} "
        f"({int(inside.sum())} in in-scope articles), header partners {n_gold}",
        f"header partners never mentioned: {missed} -> recall ceiling {1 - missed / max(n_gold, 1):.3f}",
        "-- in-scope articles, nested batch-grouped out-of-fold (micro, article level):",
        _score_line("about model", kept, gold, missed),
        _score_line("baseline: every mentioned partner", np.ones_like(gold), gold, missed),
        _score_line("baseline: most mentioned partner(s)", is_top, gold, missed),
        f"mentioned but not about: {int(negatives.sum())} candidates; wrongly kept {int((kept & negatives).sum())}",
        f"about and mentioned: {int(gold.sum())}; wrongly dropped {int((~kept & gold).sum())}",
        f"Brier score of out-of-fold probabilities: {float(np.mean((evaluation.probability[inside] - gold) ** 2)):.4f}",
        "-- every article, no scope gate (out-of-scope articles have no partners):",
        _score_line("about model", evaluation.kept, table.gold, missed),
        f"candidates in out-of-scope articles: {int((~inside).sum())}; kept {int(evaluation.kept[~inside].sum())}",
        "fold thresholds: " + ", ".join(f"{b} {t:.2f}" for b, t in sorted(evaluation.thresholds.items())),
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    data_dir = Path(args[0]) if args else Path("data")
    gazetteer = Gazetteer(build_gazetteer(data_dir))
    table = candidate_table(load_articles(data_dir), gazetteer)
    for line in report(table, cross_validate(table)):
        print(line)
    final = fit_about_model(table)
    print(f"final model threshold {final['threshold']:.3f}; coefficients: "
          + ", ".join(f"{n} {c:+.2f}" for n, c in zip(FEATURE_NAMES, final["coef"], strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
