"""Reliability: schema fuzzing, hostile inputs, and load while models are swapped (some broken).

Bounded in time: a fixed number of generated cases per operation, short load bursts. The fuzzing runs
every schemathesis check, none excluded: the schema states exactly what the service accepts.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
import schemathesis.pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, reject, settings
from schemathesis.checks import CHECKS, load_all_checks

from service.api.app import create_app
from service.settings import Settings
from tests.conftest import LOOPBACK
from tests.test_model_lifecycle import publish_copy

FUZZ_KEY = "fuzz-key"
# Generated examples per operation, on top of the schema's examples and the coverage phase's cases: 1,115
# requests across the ten operations at 200 (asserted below: at least FUZZ_MIN_REQUESTS), some 1,200 at 220,
# in about 90 s on two busy cores. Most go to the four operations that take a body or query parameters.
FUZZ_EXAMPLES = 220
FUZZ_MIN_REQUESTS = 1000
load_all_checks()
EVERY_CHECK = CHECKS.get_all()


@pytest.fixture(scope="module")
def api_schema(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The app's own OpenAPI schema, on a loaded tiny model (resolved lazily, at test time). With a key set,
    the admin and feedback endpoints are reached for real instead of answering 403 to a non-loopback client."""
    models = tmp_path_factory.mktemp("fuzz") / "models"
    shutil.copytree(tiny_models_dir, models)
    app = create_app(Settings(model_dir=models, feedback_dir=models.parent / "feedback", api_key=FUZZ_KEY))
    app.state.holder.reload()
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def requests_sent() -> Iterator[Counter[str]]:
    """Counts the generated requests per operation; after the run there must be at least FUZZ_MIN_REQUESTS."""
    sent: Counter[str] = Counter()
    yield sent
    assert sum(sent.values()) >= FUZZ_MIN_REQUESTS, f"only {sum(sent.values())} generated requests: {dict(sent)}"


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_fails_and_always_matches_its_schema(case, requests_sent: Counter[str]) -> None:
    if _unsendable_query(case):
        reject()
    requests_sent[case.operation.label] += 1
    case.call_and_validate(headers={"X-API-Key": FUZZ_KEY}, checks=EVERY_CHECK)


def _unsendable_query(case) -> bool:
    """Schemathesis 4.3 sometimes negates a query parameter into a value no HTTP client puts on the
    wire (None, an empty list or mapping, a list of None): requests drops it, the request goes out
    valid, and the API's 200 is reported as "accepted a schema-violating request" (seen twice in CI:
    GET /v1/feedback sent as `?limit=1`). Such a case tests nothing, so it is discarded; every check
    still runs on the rest. Whether a parameter survives is asked of requests' own encoding."""
    query = case.query or {}
    if not query:
        return False
    sent = parse_qs(urlsplit(requests.Request("GET", "http://fuzz/", params=query).prepare().url).query,
                    keep_blank_values=True)
    return any(name not in sent for name in query)


HOSTILE = [
    ("rtl and cjk", {"text": "پاکستان اور چین کے تعلقات\n\n中巴经济走廊 双边贸易\n\nPakistan and China"}),
    ("control characters", {"text": "Pakistan\x01\x02\x1b[31m and Japan\x7f signed \u200b\u202e an MoU."}),
    ("emoji and combining marks", {"text": "🇵🇰🤝🇯🇵 Pakistan and Japan e\u0301\u0301\u0301 trade"}),
    ("only punctuation", {"text": "!!! ??? ... ---"}),
    ("one character", {"text": "x"}),
    ("windows newlines", {"text": "Pakistan and Iran.\r\n\r\nBorder trade rose.\r\n"}),
]


@pytest.mark.parametrize(("name", "payload"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_but_valid_text_gets_a_correct_answer(client: TestClient, name: str, payload: dict) -> None:
    response = client.post("/v1/classify", json=payload)
    assert response.status_code == 200
    body = response.json()
    text = payload["text"]
    assert body["paragraphs"]
    for paragraph in body["paragraphs"]:
        assert text[paragraph["start"]:paragraph["end"]].strip() == text[paragraph["start"]:paragraph["end"]]
        assert paragraph["end"] > paragraph["start"]


@pytest.mark.parametrize(("content", "content_type", "status"), [
    (b'{"text": "ok"', "application/json", 422),
    (b"text=hello", "application/x-www-form-urlencoded", 422),
    (b"<xml>hello</xml>", "application/xml", 422),
    (b'{"text": "ok"}', "text/plain", 422),
    (b"", "application/json", 422),
    (b'{"text": "\xc3\x28 invalid"}', "application/json", 400),
    (("[" * 5000 + "]" * 5000).encode(), "application/json", 400),
    (json.dumps({"text": "a", "title": {"deep": [[[[[[[[{"x": 1}]]]]]]]]}}).encode(), "application/json", 422),
])
def test_malformed_requests_get_a_clear_4xx_and_the_server_keeps_serving(
        client: TestClient, content: bytes, content_type: str, status: int) -> None:
    response = client.post("/v1/classify", content=content, headers={"content-type": content_type})
    assert response.status_code == status
    assert set(response.json()) >= {"error", "message"}
    assert client.post("/v1/classify", json={"text": "Pakistan and Qatar signed an LNG deal."}).status_code == 200


def test_load_while_reloading_with_one_corrupt_model_fails_nothing(tmp_path: Path, model_dir_copy: Path) -> None:
    settings_ = Settings(model_dir=model_dir_copy, feedback_dir=tmp_path / "fb")
    texts = ["Pakistan and Saudi Arabia extended a $3 billion deposit.\n\nThe State Bank confirmed it.",
             "India and Pakistan traded accusations over the Line of Control.",
             "Lahore smog forced schools to close for a week."]
    failures: list[str] = []
    counts = {"ok": 0}
    stop = threading.Event()
    with TestClient(create_app(settings_), client=LOOPBACK) as client:
        original = client.get("/v1/model").json()["model_version"]

        def load(worker: int) -> None:
            i = worker
            while not stop.is_set():
                if i % 5 == 0:
                    response = client.post("/v1/classify/batch", json={"items": [{"text": t} for t in texts]})
                else:
                    response = client.post("/v1/classify", json={"text": texts[i % 3]})
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                else:
                    counts["ok"] += 1
                i += 1

        threads = [threading.Thread(target=load, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        outcomes = []
        try:
            for round_ in range(6):
                corrupt = round_ == 3
                publish_copy(model_dir_copy, f"20990201-00000{round_}", corrupt=corrupt, source=original)
                outcomes.append(client.post("/v1/admin/reload").status_code)
                time.sleep(0.3)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        final = client.get("/health/ready").json()
    assert failures == []
    assert counts["ok"] > 50
    assert outcomes == [200, 200, 200, 409, 200, 200]
    assert final["status"] == "ready" and final["model_version"] == "20990201-000005"
