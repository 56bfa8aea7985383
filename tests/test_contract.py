"""The OpenAPI document as an integrator uses it: valid OpenAPI, short stable operation ids, every error a route
can answer documented, and a typed Python client generated from it that classifies an article.

The schemathesis run over every operation with every check is in test_reliability.py.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.test_api import ARTICLE

OPERATION_IDS = {
    "POST /v1/classify": "classify",
    "POST /v1/classify/batch": "classify_batch",
    "GET /v1/labels": "get_labels",
    "GET /v1/model": "get_model",
    "POST /v1/admin/reload": "reload_model",
    "POST /v1/feedback": "post_feedback",
    "GET /v1/feedback": "list_feedback",
    "GET /health/live": "live",
    "GET /health/ready": "ready",
    "GET /metrics": "metrics",
}
# What each route can answer besides success: 400 needs a body to parse, 413 a POST body (the limit is enforced
# before routing), 403 the loopback rule of admin and feedback routes, 503 a route that needs the model or the store.
DOCUMENTED_STATUSES = {
    "POST /v1/classify": ["200", "400", "401", "413", "422", "503"],
    "POST /v1/classify/batch": ["200", "400", "401", "413", "422", "503"],
    "GET /v1/labels": ["200", "401", "503"],
    "GET /v1/model": ["200", "401", "503"],
    "POST /v1/admin/reload": ["200", "401", "403", "409", "413"],
    "POST /v1/feedback": ["200", "201", "400", "401", "403", "413", "422", "503"],
    "GET /v1/feedback": ["200", "401", "403", "422", "503"],
    "GET /health/live": ["200"],
    "GET /health/ready": ["200", "503"],
    "GET /metrics": ["200"],
}
GENERATOR_TIMEOUT_S = 120


def _operations(schema: dict) -> dict[str, dict]:
    return {f"{method.upper()} {path}": operation
            for path, operations in schema["paths"].items() for method, operation in operations.items()}


def test_the_document_is_valid_openapi(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1.")
    validate(schema)  # raises, naming the offending part, when it is not


def test_operations_have_short_stable_ids(client: TestClient) -> None:
    operations = _operations(client.get("/openapi.json").json())
    assert {label: operation["operationId"] for label, operation in operations.items()} == OPERATION_IDS


def test_every_route_documents_the_errors_it_can_answer_in_the_one_error_format(client: TestClient) -> None:
    operations = _operations(client.get("/openapi.json").json())
    assert {label: sorted(operation["responses"]) for label, operation in operations.items()} == DOCUMENTED_STATUSES
    own_bodies = {("POST /v1/admin/reload", "409"): "ReloadResponse", ("GET /health/ready", "503"): "ReadyResponse"}
    for label, operation in operations.items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == f"#/components/schemas/{own_bodies.get((label, status), 'ErrorResponse')}"


def _generator() -> str:
    """openapi-python-client, a dev dependency installed beside this Python. Outside CI a machine without it
    skips the test; with CI=true it fails."""
    found = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    if found is None:
        message = "openapi-python-client is not installed: pip install -e '.[dev]' -c constraints.txt"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return found


def test_a_generated_typed_client_classifies_an_article(client: TestClient, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_bytes(client.get("/openapi.json").content)
    config = tmp_path / "generator.yaml"
    config.write_text("post_hooks: []\n")  # no formatting pass: nothing to run but the generator itself
    generated = subprocess.run(
        [_generator(), "generate", "--path", str(spec), "--meta", "none", "--output-path",
         str(tmp_path / "pakrel_client"), "--config", str(config), "--fail-on-warning"],
        capture_output=True, text=True, timeout=GENERATOR_TIMEOUT_S)
    assert generated.returncode == 0, generated.stdout + generated.stderr  # a warning means a part was left out

    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        package = importlib.import_module("pakrel_client")
        classify = importlib.import_module("pakrel_client.api.classify.classify")
        models = importlib.import_module("pakrel_client.models")
        api = package.Client(base_url=str(client.base_url)).set_httpx_client(client)
        answer = classify.sync(client=api, body=models.ArticleRequest(text=ARTICLE, id="a-17"))
    finally:
        for name in [n for n in sys.modules if n == "pakrel_client" or n.startswith("pakrel_client.")]:
            del sys.modules[name]
    assert isinstance(answer, models.ClassifyResponse)
    assert answer.to_dict() == client.post("/v1/classify", json={"text": ARTICLE, "id": "a-17"}).json()
