"""Closed by default, named keys, and a bounded queue: who may do what, and what happens when busy."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

import service.api.classify_queue as classify_queue
from service.api.app import create_app
from service.feedback.__main__ import main as feedback_admin
from service.settings import NO_KEY_WARNING, Settings
from tests.conftest import LOOPBACK

PARAGRAPH = "Pakistan and Japan signed a memorandum on trade facilitation in Tokyo."
CORRECTION = {"level": "paragraph", "text": PARAGRAPH, "topics": ["trade"], "stance": "neutral"}
FORBIDDEN = {"error": "forbidden",
             "message": "no API key is configured, so this endpoint answers only clients on loopback: set "
                        "PAKREL_API_KEY (or named keys in PAKREL_API_KEYS) on the server and send it in the "
                        "X-API-Key header"}
UNAUTHORIZED = {"error": "unauthorized", "message": "missing or wrong API key: send it in the X-API-Key header"}


def test_without_a_key_admin_and_corrections_answer_only_loopback(tmp_path: Path, model_dir_copy: Path) -> None:
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb")
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.7", 40000)) as remote:
        for method, path, body in (("POST", "/v1/admin/reload", None), ("GET", "/v1/feedback", None),
                                   ("POST", "/v1/feedback", CORRECTION)):
            response = remote.request(method, path, json=body)
            assert (response.status_code, response.json()) == (403, FORBIDDEN), path
        assert remote.post("/v1/classify", json={"text": PARAGRAPH}).status_code == 200
        assert remote.get("/v1/model").status_code == 200
    for host in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        with TestClient(app, client=(host, 40000)) as local:
            assert local.post("/v1/admin/reload").status_code == 200, host
            assert local.get("/v1/feedback").status_code == 200, host
    with TestClient(app, client=("testclient", 50000)) as not_an_address:
        assert not_an_address.get("/v1/feedback").status_code == 403
    assert (tmp_path / "fb").exists() is False  # nothing was stored by the refused POST


def test_startup_warns_once_when_no_key_is_configured(tmp_path: Path, model_dir_copy: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pakrel"), \
            TestClient(create_app(Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb")), client=LOOPBACK):
        pass
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [NO_KEY_WARNING]
    caplog.clear()
    keyed = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", api_key="k")
    with caplog.at_level(logging.WARNING, logger="pakrel"), TestClient(create_app(keyed)):
        pass
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == []


def test_named_keys_record_who_posted_each_correction_and_one_contributor_can_be_dropped(
        tmp_path: Path, model_dir_copy: Path, capsys: pytest.CaptureFixture) -> None:
    feedback = tmp_path / "fb"
    settings = Settings(model_dir=model_dir_copy, feedback_dir=feedback, api_keys="alice:key-a, bob:key-b",
                        api_key="key-ops")
    with TestClient(create_app(settings), client=("203.0.113.7", 40000)) as client:
        for key, client_id in (("key-a", "a-1"), ("key-b", "b-1"), ("key-b", "b-2")):
            response = client.post("/v1/feedback", json={**CORRECTION, "client_id": client_id},
                                   headers={"X-API-Key": key})
            assert response.status_code == 201
        no_key = client.post("/v1/feedback", json=CORRECTION)
        assert (no_key.status_code, no_key.json()) == (401, UNAUTHORIZED)
        assert client.post("/v1/feedback", json=CORRECTION, headers={"X-API-Key": "key-c"}).status_code == 401
        listed = client.get("/v1/feedback", headers={"Authorization": "Bearer key-ops"}).json()["records"]
        assert [(r["client_id"], r["contributor"]) for r in listed] == [("a-1", "alice"), ("b-1", "bob"),
                                                                        ("b-2", "bob")]
        with TestClient(client.app, client=LOOPBACK) as local:  # keys configured: loopback needs one too
            assert local.get("/v1/feedback").status_code == 401

        assert feedback_admin(["contributors", "--store", str(feedback)]) == 0
        assert capsys.readouterr().out == "alice\t1\nbob\t2\n"
        assert feedback_admin(["drop", "--contributor", "bob", "--store", str(feedback)]) == 0
        assert capsys.readouterr().out == "dropped 2 correction(s) of bob\n"
        remaining = client.get("/v1/feedback", headers={"X-API-Key": "key-ops"}).json()["records"]
        assert [(r["client_id"], r["contributor"]) for r in remaining] == [("a-1", "alice")]


@pytest.mark.parametrize(("keys", "message"), [
    ("alice", "PAKREL_API_KEYS entry 'alice' is not `name:key` (name of letters, digits, ._@-; a non-empty key): "
              "write PAKREL_API_KEYS=alice:KEY1,bob:KEY2"),
    ("alice:k1,alice:k2", "PAKREL_API_KEYS names 'alice' twice (or also as PAKREL_API_KEY's 'default'): give "
                          "every key its own name"),
    ("alice:k1,bob:k1", "PAKREL_API_KEYS gives 'bob' a key already used by another name: every contributor needs "
                        "a key of their own"),
])
def test_malformed_named_keys_are_refused_at_startup_with_the_fix(keys: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(api_keys=keys)
    assert raised.value.errors()[0]["msg"] == f"Value error, {message}"


def test_beyond_the_queue_depth_requests_get_503_with_retry_after_at_once(
        tmp_path: Path, model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb", max_queue=2)
    release, started = threading.Event(), threading.Semaphore(0)
    real = classify_queue.classify_articles

    def held_classify(*args, **kwargs):  # the first requests hold their place until released
        started.release()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(classify_queue, "classify_articles", held_classify)
    results: list[int] = []
    with TestClient(create_app(settings), client=LOOPBACK) as client:
        def post() -> None:
            results.append(client.post("/v1/classify", json={"text": PARAGRAPH}).status_code)

        held = [threading.Thread(target=post) for _ in range(2)]
        for thread in held:
            thread.start()
        assert started.acquire(timeout=30)  # one is classifying, the other waits for the classify thread
        deadline = time.monotonic() + 30
        while client.app.state.classify_queue.held < 2 and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        assert client.app.state.classify_queue.held == 2
        refused = client.post("/v1/classify", json={"text": PARAGRAPH})
        batch = client.post("/v1/classify/batch", json={"items": [{"text": PARAGRAPH}]})
        release.set()
        for thread in held:
            thread.join(30)
        after = client.post("/v1/classify", json={"text": PARAGRAPH})
    overloaded = {"error": "overloaded",
                  "message": "this worker already holds 2 classify requests (PAKREL_MAX_QUEUE=2); retry after 1 s"}
    assert (refused.status_code, refused.json(), refused.headers["retry-after"]) == (503, overloaded, "1")
    assert (batch.status_code, batch.json()) == (503, overloaded)
    assert results == [200, 200] and after.status_code == 200
