"""Loading, verifying and hot-swapping models, with requests in flight."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import sklearn
from fastapi.testclient import TestClient

from service.model.files import current_version
from service.model.lifecycle import ModelLoadError, load_verified_model
from service.settings import Settings
from tests.live_server import free_port, wait_ready
from training.artifact import atomic_write_bytes, atomic_write_json

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "Pakistan and Turkey agreed to expand defence industry cooperation.\n\nTrade reached $1.4 billion."


def publish_copy(models: Path, name: str, *, corrupt: bool = False, manifest_edit: dict | None = None,
                 source: str | None = None) -> str:
    """A new model version made from `source` (default: the current one), optionally broken, and
    CURRENT pointed at it."""
    source = models / (source or current_version(models))
    target = models / name
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["model_version"] = name
    manifest.update(manifest_edit or {})
    atomic_write_json(target / "manifest.json", manifest)
    if corrupt:
        blob = bytearray((target / "model.joblib").read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        (target / "model.joblib").write_bytes(bytes(blob))
    atomic_write_bytes(models / "CURRENT", f"{name}\n".encode())
    return name


def test_checksum_mismatch_is_refused_with_the_fix(model_dir_copy: Path) -> None:
    publish_copy(model_dir_copy, "20990101-000000", corrupt=True)
    with pytest.raises(ModelLoadError) as caught:
        load_verified_model(model_dir_copy)
    message = str(caught.value)
    assert message.startswith("model 20990101-000000: checksum mismatch, manifest says ")
    assert message.endswith("the file is corrupt or was replaced: retrain with `make train` or restore it")


def test_library_version_mismatch_is_refused_naming_versions_and_fix(model_dir_copy: Path) -> None:
    versions = json.loads((model_dir_copy / current_version(model_dir_copy) / "manifest.json").read_text())["versions"]
    publish_copy(model_dir_copy, "20990101-000001", manifest_edit={"versions": {**versions, "scikit-learn": "1.0.2"}})
    with pytest.raises(ModelLoadError) as caught:
        load_verified_model(model_dir_copy)
    assert str(caught.value) == (
        f"model 20990101-000001 was trained with scikit-learn 1.0.2, this process has {sklearn.__version__}: "
        "retrain with `make train` or `pip install scikit-learn==1.0.2`")


@pytest.mark.parametrize(("current", "expected"), [
    ("../../etc", "names '../../etc', which is not a model version folder"),
    ("missing-version", "manifest"),
])
def test_current_must_name_a_real_version_folder(model_dir_copy: Path, current: str, expected: str) -> None:
    (model_dir_copy / "CURRENT").write_text(current)
    with pytest.raises(ModelLoadError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_verified_model(model_dir_copy)


def test_reload_swaps_to_the_newest_model(client: TestClient, settings: Settings) -> None:
    old = client.get("/v1/model").json()["model_version"]
    new = publish_copy(settings.model_dir, "20990101-000002")
    response = client.post("/v1/admin/reload")
    assert response.status_code == 200
    assert response.json() == {"status": "reloaded", "model_version": new, "previous_version": old, "error": None}
    assert client.post("/v1/classify", json={"text": ARTICLE}).json()["model_version"] == new


def test_failed_reload_keeps_the_old_model_and_reports_everywhere(client: TestClient, settings: Settings,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    old = client.get("/v1/model").json()["model_version"]
    publish_copy(settings.model_dir, "20990101-000003", corrupt=True)
    response = client.post("/v1/admin/reload")
    assert response.status_code == 409
    body = response.json()
    assert (body["status"], body["model_version"], body["previous_version"]) == ("failed", old, old)
    assert body["error"].startswith("model 20990101-000003: checksum mismatch")
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model_version": old, "reason": None,
                            "last_reload_error": body["error"], "worker": os.getpid()}
    assert client.post("/v1/classify", json={"text": ARTICLE}).json()["model_version"] == old
    assert any("model reload failed, still serving" in r.getMessage() for r in caplog.records)
    assert 'pakrel_model_reloads_total{result="failed"} 1.0' in client.get("/metrics").text


def test_reload_under_concurrent_requests_fails_no_request(client: TestClient, settings: Settings) -> None:
    original = client.get("/v1/model").json()["model_version"]
    versions = {original}
    failures: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            response = client.post("/v1/classify", json={"text": ARTICLE})
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")
            else:
                seen.add(response.json()["model_version"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(5):
            corrupt = i == 2
            name = publish_copy(settings.model_dir, f"20990102-00000{i}", corrupt=corrupt, source=original)
            status = client.post("/v1/admin/reload").status_code
            assert status == (409 if corrupt else 200)
            if not corrupt:
                versions.add(name)
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert seen <= versions and len(seen) >= 2


def test_sighup_reloads_a_running_server(model_dir_copy: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PAKREL_MODEL_DIR": str(model_dir_copy), "PAKREL_FEEDBACK_DIR": str(tmp_path / "fb")}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.api.app:app", "--host", "127.0.0.1",
                               "--port", str(port), "--no-access-log"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, timeout_s=30)
        new = publish_copy(model_dir_copy, "20990103-000000")
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        version = None
        while time.monotonic() < deadline:
            version = httpx.get(f"{base}/v1/model", timeout=2).json()["model_version"]
            if version == new:
                break
            time.sleep(0.2)
        assert version == new
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=10)
