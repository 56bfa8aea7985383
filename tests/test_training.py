"""Training: grouped folds, out-of-fold thresholds, the artifact and its manifest, staleness."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn

from service.model.classifier import ArticleInput, classify_articles
from service.model.files import current_version, file_sha256
from service.model.lifecycle import load_verified_model
from service.model.partners import Gazetteer
from tests.conftest import DATA, train_tiny
from training.artifact import data_fingerprint, rollback
from training.calibration import calibrated_everywhere
from training.crossval import out_of_fold_scores
from training.dataset import training_data
from training.folds import article_folds
from training.gazetteer import build_gazetteer
from training.model import DEFAULT_CANDIDATE
from training.partners_model import candidate_table, fit_about_model
from training.pipeline_run import _fit_final
from training.thresholds import GRID, tune_threshold, tune_thresholds
from training.validation import load_corpus

ROOT = Path(__file__).resolve().parent.parent
PROBE = [ArticleInput("Japan announced a grant for flood-hit schools in Sindh.\n\nThe money arrives next year.",
                      "Japan grant"),
         ArticleInput("The KSE-100 index closed higher on Monday as banks rallied.")]


def test_batch_folds_never_put_one_writing_batch_on_both_sides(tiny_data_dir: Path) -> None:
    data = training_data(load_corpus(tiny_data_dir))
    fold_of = article_folds(data, 5, seed=13)
    assert len(set(data.batches)) >= 5
    for batch in set(data.batches):
        assert len(set(fold_of[data.batches == batch])) == 1, batch


def test_folds_never_split_an_article_or_a_group(tiny_data_dir: Path) -> None:
    data = training_data(load_corpus(tiny_data_dir))
    data.groups[:4] = "shared-group"  # e.g. several corrections of one text
    fold_of = article_folds(data, 5, seed=3, grouping="article")
    assert set(fold_of) == set(range(5))
    assert len(set(fold_of[:4])) == 1
    for group in set(data.groups):
        assert len(set(fold_of[data.groups == group])) == 1
    paragraph_folds = fold_of[data.article_of]
    for article in range(data.n_articles):
        assert len(set(paragraph_folds[data.article_of == article])) == 1


def test_tune_threshold_picks_the_middle_of_the_best_f1_plateau() -> None:
    scores = np.array([0.05, 0.2, 0.42, 0.58, 0.8, 0.95])
    truth = np.array([0, 0, 0, 1, 1, 1])
    # Every threshold in (0.42, 0.58] separates perfectly: 0.45, 0.5, 0.55 -> the middle one.
    assert tune_threshold(scores, truth) == 0.5
    assert tune_threshold(scores, np.zeros(6)) == GRID[-1]


def test_thresholds_come_from_out_of_fold_predictions_not_the_training_fit(tiny_data_dir: Path) -> None:
    data = training_data(load_corpus(tiny_data_dir))
    fold_of = article_folds(data, 5, seed=13)
    raw = out_of_fold_scores(data, fold_of, [DEFAULT_CANDIDATE], seed=13, n_jobs=1)[DEFAULT_CANDIDATE]
    _, oof = calibrated_everywhere(data, raw)
    gazetteer = build_gazetteer(tiny_data_dir)
    about = fit_about_model(candidate_table(load_corpus(tiny_data_dir).articles, Gazetteer(gazetteer)))
    model, _ = _fit_final(data, DEFAULT_CANDIDATE, raw, seed=13, gazetteer=gazetteer, about_model=about)
    np.testing.assert_array_equal(model.rule.paragraph_topic_thresholds, tune_thresholds(oof.topics, data.topics))
    # The training fit is far more confident on its own paragraphs than out of fold: tuning on it would differ.
    texts = [ArticleInput(t) for t in data.texts[:40]]
    in_sample = model.topic_head.predict_proba(model.features.transform([a.text for a in texts]))
    assert np.abs(in_sample - oof.topics[:40]).mean() > 0.05


def test_training_writes_artifact_manifest_metrics_and_report(tiny_models_dir: Path, tiny_data_dir: Path) -> None:
    version = current_version(tiny_models_dir)
    folder = tiny_models_dir / version
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model_version"] == version
    assert manifest["model_sha256"] == file_sha256(folder / "model.joblib")
    assert manifest["data_fingerprint"] == data_fingerprint(tiny_data_dir)
    assert manifest["versions"]["scikit-learn"] == sklearn.__version__
    assert manifest["labels"]["topics"][0] == "diplomacy" and len(manifest["labels"]["topics"]) == 10
    assert set(manifest["thresholds"]) == {"paragraph_topics", "article_topics", "in_scope", "uncertainty_margin"}
    assert set(manifest["summary_metrics"]) >= {"article_topics_macro_f1", "article_stance_macro_f1",
                                                "out_of_scope_f1"}
    assert stat.S_IMODE((folder / "model.joblib").stat().st_mode) == 0o644
    assert (folder / "model.joblib").stat().st_size < 5 * 1024 * 1024
    metrics = json.loads((tiny_models_dir / "metrics.json").read_text())
    assert metrics["model_version"] == version
    assert set(metrics["article"]["topics"]["per_label"]) == set(manifest["labels"]["topics"])
    assert len(metrics["article"]["stance"]["confusion"]) == 3
    assert [p["fraction"] for p in metrics["learning_curve"]] == [0.25, 0.5, 0.75, 1.0]
    assert metrics["grouping"] == "batch"
    assert set(metrics["article_grouped"]["article"]) == set(metrics["article"])
    assert set(metrics["article"]["in_scope"]) == {"precision", "recall", "f1", "support"}
    report = (tiny_models_dir / "report.md").read_text()
    assert f"# Evaluation of model {version}" in report and "## Learning curve (batch-grouped)" in report
    assert "| article level | batch-grouped (honest) | article-grouped |" in report
    for figure in ("calibration.png", "learning_curve.png", "stance_confusion.png"):
        assert (tiny_models_dir / "figures" / figure).read_bytes()[:4] == b"\x89PNG"


def test_artifact_round_trip_gives_the_same_predictions(tiny_models_dir: Path) -> None:
    version = current_version(tiny_models_dir)
    in_memory = joblib.load(tiny_models_dir / version / "model.joblib")
    loaded = load_verified_model(tiny_models_dir)
    assert loaded.version == version
    a, b = classify_articles(in_memory, PROBE), classify_articles(loaded.classifier, PROBE)
    assert [x.labels.topic_scores for x in a] == [y.labels.topic_scores for y in b]


def test_same_data_and_seed_give_identical_predictions_and_rollback_restores(
        tmp_path: Path, tiny_data_dir: Path, tiny_models_dir: Path) -> None:
    models = tmp_path / "models"
    first = train_tiny(tiny_data_dir, models)
    second = train_tiny(tiny_data_dir, models)
    assert first != second
    again = load_verified_model(models)
    reference = load_verified_model(tiny_models_dir)
    for x, y in zip(classify_articles(again.classifier, PROBE), classify_articles(reference.classifier, PROBE),
                    strict=True):
        assert x.labels == y.labels
    assert json.loads((models / second / "manifest.json").read_text())["previous_version"] == first
    message = rollback(models)
    assert message == f"CURRENT is now {first} (was {second}); reload the service: POST /v1/admin/reload"
    assert current_version(models) == first


def test_training_refuses_an_invalid_corpus(tmp_path: Path, tiny_data_dir: Path, capsys) -> None:
    from training.__main__ import main

    bad = tmp_path / "data"
    (bad / "articles").mkdir(parents=True)
    (bad / "codebook.toml").write_bytes((tiny_data_dir / "codebook.toml").read_bytes())
    (bad / "articles" / "x.txt").write_text("not an article\n")
    assert main(["--data", str(bad), "--models", str(tmp_path / "models"), "train"]) == 1
    assert "malformed file" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_shipped_model_is_not_stale() -> None:
    """Fails when data/ changed without `make train` (and committing models/)."""
    loaded = load_verified_model(ROOT / "models")
    assert loaded.manifest["data_fingerprint"] == data_fingerprint(DATA), (
        "the committed model was trained on different data: run `make train` and commit models/")
    assert loaded.manifest["codebook_sha256"] == load_corpus(DATA).codebook.sha256()


@pytest.mark.parametrize("name", ["CURRENT", "metrics.json", "report.md"])
def test_shipped_model_folder_is_complete(name: str) -> None:
    assert (ROOT / "models" / name).is_file()
