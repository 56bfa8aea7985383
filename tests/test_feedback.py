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
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.feedback.store import DB_FILE, add_feedback, read_feedback
from service.model.classifier import ArticleInput, classify_articles
from service.model.lifecycle import load_verified_model
from service.settings import Settings
from tests.conftest import LOOPBACK, copy_tiny_corpus, train_tiny
from tests.live_server import free_port
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
                      "model_version": version, "contributor": "local"}
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


def _invalid_request(fields: list[dict[str, str]]) -> dict:
    return {"error": "invalid_request", "message": "; ".join(f"{f['field']}: {f['message']}" for f in fields),
            "fields": fields}


@pytest.mark.parametrize(("payload", "fields"), [
    ({"text": PARAGRAPH, "stance": "neutral"},
     [{"field": "level", "message": 'is required: "article" or "paragraph"'}]),
    ({"level": "sentence", "text": PARAGRAPH}, [{"field": "level", "message": 'must be "article" or "paragraph"'}]),
    ({"level": "paragraph", "text": PARAGRAPH, "in_scope": False, "paragraphs": []},
     [{"field": "in_scope", "message": 'is not a field of a level "paragraph" correction; remove it'},
      {"field": "paragraphs", "message": 'is not a field of a level "paragraph" correction; remove it'}]),
    ({"level": "article", "text": "One.", "paragraphs": [{"index": 1.5}]},
     [{"field": "paragraphs[0].index", "message": "Input should be a valid integer"}]),
    ({"level": "article", "text": "One.", "paragraphs": [{"index": "0"}]},
     [{"field": "paragraphs[0].index", "message": "Input should be a valid integer"}]),
    ({"level": "article", "text": "One.", "paragraphs": [{"index": -1}]},
     [{"field": "paragraphs[0].index", "message": "Input should be greater than or equal to 0"}]),
    ({"level": "article", "text": "One.", "in_scope": "yes"},
     [{"field": "in_scope", "message": "Input should be a valid boolean"}]),
])
def test_each_level_takes_its_own_fields_and_a_wrong_one_is_named(client: TestClient, payload: dict,
                                                                   fields: list[dict[str, str]]) -> None:
    response = client.post("/v1/feedback", json=payload)
    assert (response.status_code, response.json()) == (422, _invalid_request(fields))


def test_every_correction_the_schema_allows_is_stored(client: TestClient) -> None:
    """The schema cannot say that a paragraph index must exist in the text, nor that a correction needs a
    label: such corrections are stored, and training reports and skips them (test_training_learns...)."""
    bodies = [
        {"level": "article", "text": "One.\n\nTwo.", "in_scope": False, "paragraphs": [{"index": 1.0}]},
        {"level": "article", "text": "One.\n\nTwo.", "paragraphs": [{"index": 5, "stance": "neutral"}]},
        {"level": "paragraph", "text": PARAGRAPH, "note": "odd wording, have a look"},
    ]
    stored = [client.post("/v1/feedback", json=body) for body in bodies]
    assert [r.status_code for r in stored] == [201, 201, 201]
    records = client.get("/v1/feedback").json()["records"]
    empty = {"title": None, "topics": None, "stance": None, "in_scope": None, "paragraphs": None, "note": None,
             "annotator": None, "client_id": None, "model_version": None, "contributor": "local"}
    assert records == [
        {**empty, "id": r.json()["id"], "created": r.json()["stored_at"], **body}
        for r, body in zip(stored, [
            {**bodies[0], "paragraphs": [{"index": 1, "topics": None, "stance": None}]},
            {**bodies[1], "paragraphs": [{"index": 5, "topics": None, "stance": "neutral"}]},
            bodies[2]], strict=True)]


@pytest.mark.parametrize("since", ["null", "2026-01-31T09:30:00", "2026-01-31", "1769851800", "2026-02-30T00:00:00Z",
                                   "2026-01-31T24:00:00Z", "0000-01-01T00:00:00Z"])
def test_since_is_an_rfc3339_date_time_or_left_out(client: TestClient, since: str) -> None:
    response = client.get("/v1/feedback", params={"since": since})
    message = "must be an RFC 3339 date-time such as 2026-01-31T09:30:00Z"
    if since.startswith(("2026-02-30", "0000")):
        message += f" (no such date: {since[:10]})"
    assert (response.status_code, response.json()) == (422, _invalid_request([{"field": "since", "message": message}]))


def test_since_takes_any_rfc3339_instant_even_beyond_pythons_calendar(client: TestClient) -> None:
    stored = client.post("/v1/feedback", json={"level": "paragraph", "text": PARAGRAPH, "stance": "neutral"}).json()

    def listed(since: str) -> list[int]:
        response = client.get("/v1/feedback", params={"since": since})
        assert response.status_code == 200
        return [record["id"] for record in response.json()["records"]]

    assert listed("0001-01-01T00:30:00+01:00") == [stored["id"]]  # in year 0 once in UTC: everything is newer
    assert listed("2000-01-01t00:00:00.123456789z") == [stored["id"]]
    assert listed("9999-12-31T23:30:00-01:00") == []  # past year 9999 in UTC: nothing is newer
    assert listed(stored["stored_at"]) == []


def _writer(location: Path | str, start: int, count: int) -> None:
    for i in range(start, start + count):
        add_feedback(location, {"level": "paragraph", "text": f"text {i}", "stance": "neutral",
                                "client_id": f"id-{i % 150}"})


def test_concurrent_writers_in_several_processes_store_each_client_id_once(store_location: Path | str) -> None:
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(store_location, k * 50, 100)) for k in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    records = read_feedback(store_location)
    assert sorted(r.client_id for r in records) == sorted({f"id-{i % 150}" for i in range(0, 250)})
    assert len({r.id for r in records}) == len(records)


KILL_WRITER = """
import sys
from pathlib import Path
from service.feedback.store import add_feedback, is_url
location = sys.argv[1] if is_url(sys.argv[1]) else Path(sys.argv[1])
i = 0
while True:
    record, _ = add_feedback(location, {"level": "paragraph", "text": "x" * 20000 + str(i), "stance": "neutral",
                                      "client_id": f"k-{i}"})
    print(record.client_id, flush=True)
    i += 1
"""


def test_a_writer_killed_mid_write_loses_nothing_acknowledged(store_location: Path | str) -> None:
    process = subprocess.Popen([sys.executable, "-c", KILL_WRITER, str(store_location)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    acknowledged = []
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        acknowledged.append(process.stdout.readline().strip())
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    acknowledged += [line.strip() for line in process.stdout.read().splitlines() if line.strip()]
    if isinstance(store_location, Path):
        with sqlite3.connect(store_location / DB_FILE) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = {r.client_id for r in read_feedback(store_location)}
    assert len(acknowledged) >= 40
    assert set(acknowledged) <= stored
    add_feedback(store_location, {"level": "paragraph", "text": "after the crash", "stance": "neutral"})
    assert len(read_feedback(store_location)) == len(stored) + 1


def test_training_learns_a_correction_and_reports_rejected_ones(tmp_path: Path) -> None:
    data = copy_tiny_corpus(tmp_path / "data")
    corpus = load_corpus(data)
    article = next(a for a in corpus.articles if a.in_scope and any(p.stance == "supportive" for p in a.paragraphs))
    paragraph = next(p for p in article.paragraphs if p.stance == "supportive")
    before_dir = tmp_path / "before"
    train_tiny(data, before_dir)

    feedback = data / "feedback"
    add_feedback(feedback, {"level": "paragraph", "text": paragraph.text, "stance": "critical",
                            "topics": list(paragraph.topics), "contributor": "alice"})
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
                                    "contributors": {"alice": 1, "unnamed": 1},
                                    "rejected": ["#2: unknown stance(s) sceptical"]}

    def critical_probability(models: Path) -> float:
        classifier = load_verified_model(models).classifier
        (result,) = classify_articles(classifier, [ArticleInput(paragraph.text)])
        return result.labels.paragraphs[0].stance_scores["critical"]

    assert critical_probability(after_dir) > critical_probability(before_dir) + 0.05
    assert np.isfinite(critical_probability(after_dir))


def test_two_replicas_share_one_postgresql_store_and_training_reads_it(
        tmp_path: Path, model_dir_copy: Path, postgres_url: str) -> None:
    """Two apps (two containers) on one PostgreSQL: a retry reaching the other replica is stored once,
    each lists what the other stored, and training merges from the URL with each contributor named."""
    def replica() -> TestClient:
        return TestClient(create_app(Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "unused",
                                              feedback_url=postgres_url, api_keys="alice:key-a,bob:key-b")),
                          client=("203.0.113.7", 40000))

    payload = {"level": "paragraph", "text": PARAGRAPH, "topics": ["trade"], "stance": "neutral", "client_id": "c-9"}
    with replica() as one, replica() as two:
        first = one.post("/v1/feedback", json=payload, headers={"X-API-Key": "key-a"})
        retried = two.post("/v1/feedback", json=payload, headers={"X-API-Key": "key-a"})
        other = two.post("/v1/feedback", json={**payload, "client_id": None, "stance": "supportive"},
                         headers={"X-API-Key": "key-b"})
        assert (first.status_code, retried.status_code, other.status_code) == (201, 200, 201)
        assert retried.json() == {**first.json(), "created": False}
        listed = [one.get("/v1/feedback", headers={"X-API-Key": key}).json()["records"] for key in ("key-b", "key-a")]
    assert listed[0] == listed[1]
    assert [(r["client_id"], r["stance"], r["contributor"]) for r in listed[0]] == [
        ("c-9", "neutral", "alice"), (None, "supportive", "bob")]
    assert not (tmp_path / "unused").exists()

    corpus = load_corpus(copy_tiny_corpus(tmp_path / "data"))
    _, report = merge_feedback(corpus, postgres_url)
    assert report.as_dict() == {"used": 2, "used_ids": [r["id"] for r in listed[0]], "new_articles": 1,
                                "contributors": {"alice": 1, "bob": 1}, "rejected": []}
    assert report.summary() == "2 correction(s) used (1 new article(s); by alice 1, bob 1), 0 rejected"


def test_an_unreachable_postgresql_store_is_a_503_and_classification_goes_on(
        tmp_path: Path, model_dir_copy: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"  # nothing listens there
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", feedback_url=url)
    with TestClient(create_app(settings), client=LOOPBACK) as client:
        response = client.post("/v1/feedback", json={"level": "paragraph", "text": PARAGRAPH, "stance": "neutral"})
        assert client.post("/v1/classify", json={"text": PARAGRAPH}).status_code == 200
    assert response.status_code == 503 and response.headers["retry-after"] == "10"
    body = response.json()
    assert body["error"] == "feedback_unavailable"
    assert body["message"].startswith("the feedback database (PAKREL_FEEDBACK_URL) cannot be reached: ")
    assert body["message"].endswith("; the correction was not stored, send it again later")
