"""The readable evaluation report: `models/report.md` with PNG figures in `models/figures/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import calibration_curve

from training.artifact import atomic_write_bytes

FIGURES = "figures"


def write_report(models_dir: Path, evaluation: dict[str, Any]) -> Path:
    figures = models_dir / FIGURES
    figures.mkdir(parents=True, exist_ok=True)
    m = evaluation["metrics"]
    _calibration_plot(evaluation["calibration"], figures / "calibration.png")
    if "learning_curve" in m:
        _learning_curve_plot(m["learning_curve"], figures / "learning_curve.png")
    _confusion_plot(m["article"]["stance"]["confusion"], m["paragraph"]["stance"]["confusion"],
                    m["labels"]["stances"], figures / "stance_confusion.png")
    lines = [
        f"# Evaluation of model {m['model_version']}",
        "",
        "Every figure is out of fold: 5-fold cross-validation grouped by **writing batch** (no batch",
        "in both training and validation folds), with calibrators, thresholds and the article rule",
        "fitted on the other folds only. Batch-grouped figures are the honest estimate of how the",
        "model does on text nobody here wrote; article-grouped folds share writers and briefs and",
        "overstate it (both are shown below). Averages are followed by their spread across folds.",
        "",
        f"Chosen model: **{m['chosen']}**, selected on batch-grouped article-level macro-F1 "
        "(mean of topic and stance macro-F1) among candidates with word features (explanations must",
        "name words) whose transform of an 800-word article fits the 12 ms budget.",
        "",
        "## Batch-grouped against article-grouped (chosen model)",
        "",
        _grouping_table(m),
        "",
        "## Model selection",
        "",
        "| candidate | article macro-F1 | topics | stance | transform ms / 800-word article | explainable |",
        "| --- | ---: | ---: | ---: | ---: | :---: |",
        *[f"| {r['candidate']} | {r['article_macro_f1']:.3f} | {r.get('article_topics_macro_f1', 0):.3f} | "
          f"{r.get('article_stance_macro_f1', 0):.3f} | {r['ms_per_article']:.2f} | "
          f"{'yes' if r['explainable'] else 'no'} |" for r in m["candidates"]],
        "",
        "## Article level",
        "",
        _averages_line("topics", m["article"]["topics"]),
        _averages_line("stance", m["article"]["stance"]),
        "",
        _label_table(m["article"]["topics"]["per_label"]),
        "",
        _label_table(m["article"]["stance"]["per_label"]),
        "",
        "Out of scope: " + ", ".join(f"{k} {v}" for k, v in m["article"]["out_of_scope"].items()),
        "",
        "Stance confusion (rows: truth, columns: prediction):",
        "",
        _confusion_table(m["article"]["stance"]["confusion"], m["labels"]["stances"]),
        "",
        *_partner_lines(m.get("partners")),
        "## Paragraph level",
        "",
        _averages_line("topics", m["paragraph"]["topics"]),
        _averages_line("stance", m["paragraph"]["stance"]),
        "",
        _label_table(m["paragraph"]["topics"]["per_label"]),
        "",
        _label_table(m["paragraph"]["stance"]["per_label"]),
        "",
        _confusion_table(m["paragraph"]["stance"]["confusion"], m["labels"]["stances"]),
        "",
        "![stance confusion](figures/stance_confusion.png)",
        "",
        "## Calibration",
        "",
        "Reliability of the out-of-fold paragraph probabilities (topics, top stance) and of the",
        "article scope probability: points near the diagonal mean a score of p is right p of the time.",
        "",
        "![calibration](figures/calibration.png)",
        "",
        *_learning_curve_lines(m.get("learning_curve")),
        "## Most weighted terms per label (sanity check)",
        "",
        *[f"- **{label}**: {', '.join(terms)}" for label, terms in evaluation["top_terms"].items()],
        "",
    ]
    path = models_dir / "report.md"
    atomic_write_bytes(path, "\n".join(lines).encode())
    return path


def _partner_lines(partners: dict[str, Any] | None) -> list[str]:
    """Micro precision, recall and F1 over (article, partner) pairs, headers as gold, each
    writing batch scored by an about model fitted on the other batches."""
    if not partners:
        return []
    rows = [("about model, in-scope articles (its task)", partners["in_scope_articles"]),
            ("end to end: behind the out-of-fold scope decision", partners["end_to_end"]),
            ("baseline: every partner mentioned", partners["baseline_every_mention"]),
            ("baseline: the most mentioned partner", partners["baseline_most_mentioned"])]
    confusion = partners["mentioned_not_about"]
    return [
        "## Partners (article level, batch-held-out)",
        "",
        "| | precision | recall | F1 |",
        "| --- | ---: | ---: | ---: |",
        *[f"| {name} | {f['precision']:.3f} | {f['recall']:.3f} | {f['f1']:.3f} |" for name, f in rows],
        "",
        f"Mentioned but not about (in-scope articles): {confusion['candidates']} candidates, "
        f"{confusion['wrongly_kept']} wrongly kept; about but dropped: {partners['about_not_kept']}; "
        f"header partners never named in the text: {partners['never_mentioned']}.",
        "",
    ]


def _learning_curve_lines(points: list[dict[str, float]] | None) -> list[str]:
    if not points:
        return ["## Learning curve", "",
                "Not computed for this model (`python -m training train --learning-curve`).", ""]
    return [
        "## Learning curve (batch-grouped)",
        "",
        "| fraction of training articles | article macro-F1 |",
        "| ---: | ---: |",
        *[f"| {p['fraction']:.2f} | {p['article_macro_f1']:.3f} |" for p in points],
        "",
        "![learning curve](figures/learning_curve.png)",
        "",
    ]


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """The figures the README and the closing notes quote, from one article-level block."""
    art = metrics["article"]
    critical = art["stance"]["per_label"].get("critical", {})
    return {
        "topics macro-F1": art["topics"]["macro_f1"],
        "stance macro-F1": art["stance"]["macro_f1"],
        "critical precision": critical.get("precision", 0.0),
        "critical recall": critical.get("recall", 0.0),
        "scope recall (in scope)": art["in_scope"]["recall"],
        "scope precision (in scope)": art["in_scope"]["precision"],
        "out-of-scope F1": art["out_of_scope"]["f1"],
    }


def _grouping_table(m: dict[str, Any]) -> str:
    batch = headline(m)
    article = headline(m["article_grouped"]) if "article_grouped" in m else {}
    rows = ["| article level | batch-grouped (honest) | article-grouped |", "| --- | ---: | ---: |"]
    rows += [f"| {name} | {value:.3f} | {article[name]:.3f} |" if name in article else
             f"| {name} | {value:.3f} | - |" for name, value in batch.items()]
    return "\n".join(rows)


def _averages_line(name: str, block: dict[str, Any]) -> str:
    return (f"- {name}: micro-F1 {block['micro_f1']:.3f} ± {block['micro_f1_fold_std']:.3f}, "
            f"macro-F1 {block['macro_f1']:.3f} ± {block['macro_f1_fold_std']:.3f}")


def _label_table(per_label: dict[str, dict[str, float]]) -> str:
    rows = ["| label | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    rows += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
             for k, v in per_label.items()]
    return "\n".join(rows)


def _confusion_table(matrix: list[list[int]], labels: list[str]) -> str:
    rows = ["| truth \\ predicted | " + " | ".join(labels) + " |", "| --- |" + " ---: |" * len(labels)]
    rows += [f"| {label} | " + " | ".join(str(v) for v in row) + " |"
             for label, row in zip(labels, matrix, strict=True)]
    return "\n".join(rows)


def _calibration_plot(data: dict[str, list], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], "k:", label="perfect")
    for name in ("topic", "stance", "scope"):
        truth, proba = np.array(data[f"{name}_truth"]), np.array(data[f"{name}_proba"])
        if truth.min() == truth.max():
            continue
        bins = 10 if name != "scope" else 5
        frac, mean = calibration_curve(truth, proba, n_bins=bins, strategy="quantile")
        ax.plot(mean, frac, "o-", label=name)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title("Reliability (out of fold)")
    ax.legend()
    _save(fig, path)


def _learning_curve_plot(points: list[dict[str, float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot([p["fraction"] for p in points], [p["article_macro_f1"] for p in points], "o-")
    ax.set_xlabel("fraction of training articles per fold")
    ax.set_ylabel("article macro-F1")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    _save(fig, path)


def _confusion_plot(article: list[list[int]], paragraph: list[list[int]], labels: list[str], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, matrix, title in ((axes[0], article, "article stance"), (axes[1], paragraph, "paragraph stance")):
        values = np.array(matrix)
        ax.imshow(values, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("truth")
        ax.set_title(title)
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, str(v), ha="center", va="center",
                    color="white" if v > values.max() / 2 else "black")
    _save(fig, path)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
