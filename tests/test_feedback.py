"""Corrections: stored once, durably, safely under concurrency and crashes, and learned from."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from service.feedback.store import DB_FILE, add_feedback, read_feedback
from service.model.classifier import ArticleInput, classify_articles
from service.model.lifecycle import load_verified_model
from service.settings import Settings
from tests.conftest import copy_tiny_corpus, train_tiny
from training.feedback_merge import merge_feedback
from training.validation import load_corpus

ROOT = Path(__file__).resolve().parent.parent
PARAGRAPH = "Bilateral trade between Pakistan and Japan stood at $1.54 billion in FY2024-25, officials said."


def test_post_feedback_stores_once_per_client_id_and_lists_it(client: TestClient, settings: Settings) -> None:
    version = client.get("/v1/model").json()["model_version"]
    payload = {"level": "paragraph", "text": PARAGRAPH, "topics": ["trade"], "stance": "neutral",
               "note": "figures only", "annotator": "amina", "client_id": "c-1", "model_version": version}
    first = client.post("/v1/feedback", json=payload)
    assert first.status_code == 201
    body = first.json()
    assert set(body) == {"id", "created", "stored_at"} and body["created"] is True
    again = client.post("/v1/feedback", json=payload)
    assert again.status_code == 200
    assert again.json() == {**body, "created": False}
    (record,) = client.get("/v1/feedback").json()["records"]
    assert record == {"id": body["id"], "client_id": "c-1", "created": body["stored_at"], "level": "paragraph",
                      "text": PARAGRAPH, "title": None, "topics": ["trade"], "stance": "neutral",
                      "in_scope": None, "paragraphs": None, "note": "figures only", "annotator": "amina",
                      "model_version": version}
    assert client.get("/v1/feedback", params={"since": body["stored_at"]}).json() == {"records": []}
    assert (settings.feedback_dir / DB_FILE).exists()


def test_unknown_labels_are_refused_listing_the_valid_ones(client: TestClient) -> None:
    response = client.post("/v1/feedback", json={"text": PARAGRAPH, "level": "paragraph",
                                                 "topics": ["trades"], "stance": "positive"})
    assert response.status_code == 422
    topics = ("diplomacy, trade, investment_finance, development_aid, infrastructure, energy_climate, defense, "
              "security, regional_conflict, people_exchange")
    fields = [{"field": "topics", "message": f"unknown label 'trades'; valid: {topics}"},
              {"field": "stance", "message": "unknown label 'positive'; valid: supportive, neutral, critical"}]
    assert response.json() == {"error": "invalid_feedback",
                               "message": "; ".join(f"{f['field']}: {f['message']}" for f in fields),
                               "fields": fields}


def test_feedback_shape_errors(client: TestClient) -> None:
    nothing = client.post("/v1/feedback", json={"text": PARAGRAPH})
    assert nothing.status_code == 422
    assert nothing.json()["fields"] == [{"field": "body",
                                         "message": "send at least one of topics, stance, in_scope, paragraphs"}]
    index = client.post("/v1/feedback",
                        json={"text": "One.\n\nTwo.", "paragraphs": [{"index": 5, "stance": "neutral"}]})
    assert index.json()["fields"] == [{"field": "paragraphs[0].index", "message": "the text has 2 paragraphs "
                                                                                  "(indices 0 to 1)"}]


def _writer(folder: str, start: int, count: int) -> None:
    for i in range(start, start + count):
        add_feedback(Path(folder), {"level": "paragraph", "text": f"text {i}", "stance": "neutral",
                                    "client_id": f"id-{i % 150}"})


def test_concurrent_writers_in_several_processes_store_each_client_id_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(tmp_path), k * 50, 100)) for k in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    records = read_feedback(tmp_path)
    assert sorted(r.client_id for r in records) == sorted({f"id-{i % 150}" for i in range(0, 250)})
    assert len({r.id for r in records}) == len(records)


KILL_WRITER = """
import sys
from pathlib import Path
from service.feedback.store import add_feedback
folder = Path(sys.argv[1])
i = 0
while True:
    record, _ = add_feedback(folder, {"level": "paragraph", "text": "x" * 20000 + str(i), "stance": "neutral",
                                      "client_id": f"k-{i}"})
    print(record.client_id, flush=True)
    i += 1
"""


def test_a_writer_killed_mid_write_loses_nothing_acknowledged(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", KILL_WRITER, str(tmp_path)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    acknowledged = []
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        acknowledged.append(process.stdout.readline().strip())
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    acknowledged += [line.strip() for line in process.stdout.read().splitlines() if line.strip()]
    with sqlite3.connect(tmp_path / DB_FILE) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = {r.client_id for r in read_feedback(tmp_path)}
    assert len(acknowledged) >= 40
    assert set(acknowledged) <= stored
    add_feedback(tmp_path, {"level": "paragraph", "text": "after the crash", "stance": "neutral"})
    assert len(read_feedback(tmp_path)) == len(stored) + 1


def test_training_learns_a_correction_and_reports_rejected_ones(tmp_path: Path) -> None:
    data = copy_tiny_corpus(tmp_path / "data")
    corpus = load_corpus(data)
    article = next(a for a in corpus.articles if a.in_scope and any(p.stance == "supportive" for p in a.paragraphs))
    paragraph = next(p for p in article.paragraphs if p.stance == "supportive")
    before_dir = tmp_path / "before"
    train_tiny(data, before_dir)

    feedback = data / "feedback"
    add_feedback(feedback, {"level": "paragraph", "text": paragraph.text, "stance": "critical",
                            "topics": list(paragraph.topics)})
    add_feedback(feedback, {"level": "paragraph", "text": "Some new paragraph.", "stance": "sceptical",
                            "topics": ["trade"]})
    add_feedback(feedback, {"level": "paragraph", "text": "A brand new paragraph on Gwadar port works.",
                            "stance": "neutral", "topics": ["infrastructure"]})
    merged, report = merge_feedback(corpus, feedback)
    assert report.used == [1, 3] and report.new_articles == 1
    assert report.rejected == ["#2: unknown stance(s) sceptical"]
    relabelled = next(a for a in merged.articles if a.id == article.id)
    assert [p.stance for p in relabelled.paragraphs if p.text == paragraph.text] == ["critical"]
    new = [a for a in merged.articles if a.source == "feedback"]
    assert len(new) == 1 and new[0].group == new[0].id and new[0].topics == ("infrastructure",)

    after_dir = tmp_path / "after"
    train_tiny(data, after_dir)
    manifest = load_verified_model(after_dir).manifest
    assert manifest["feedback"] == {"used": 2, "used_ids": [1, 3], "new_articles": 1,
                                    "rejected": ["#2: unknown stance(s) sceptical"]}

    def critical_probability(models: Path) -> float:
        classifier = load_verified_model(models).classifier
        (result,) = classify_articles(classifier, [ArticleInput(paragraph.text)])
        return result.labels.paragraphs[0].stance_scores["critical"]

    assert critical_probability(after_dir) > critical_probability(before_dir) + 0.05
    assert np.isfinite(critical_probability(after_dir))
