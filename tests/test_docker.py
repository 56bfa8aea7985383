"""The image builds, serves the bundled model as a non-root user, and classifies a seed article.

Uses ../shared/docker/local-engine.sh when no engine answers. With CI=true a Docker problem is a
failure, never a skip: the image is one of the three ways users run this.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.live_server import free_port

ROOT = Path(__file__).resolve().parent.parent
ENGINE_SCRIPT = ROOT.parent / "shared" / "docker" / "local-engine.sh"
IN_CI = os.environ.get("CI") == "true"

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"Docker test cannot run in CI: {reason}")
    pytest.skip(reason)


def _engine_ready() -> bool:
    if shutil.which("docker") is None:
        _unavailable("the docker client is not installed")
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0:
        return True
    if not ENGINE_SCRIPT.exists():
        _unavailable(f"no Docker engine and no {ENGINE_SCRIPT}")
    started = subprocess.run(["bash", str(ENGINE_SCRIPT)], capture_output=True, text=True, check=False, timeout=900)
    if started.returncode != 0:
        _unavailable(f"local-engine.sh failed: {started.stderr[-2000:]}")
    return True


@pytest.mark.timeout(2400)
def test_image_serves_the_bundled_model_as_non_root(seed_text: str) -> None:
    _engine_ready()
    tag = f"pakrel-classifier:test-{uuid.uuid4().hex[:8]}"
    name = f"pakrel-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    try:
        build = subprocess.run(["docker", "build", "--network", "host", "-t", tag, "."], cwd=ROOT,
                               capture_output=True, text=True, check=False, timeout=1800)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        run = subprocess.run(
            ["docker", "run", "-d", "--name", name, "--network", "host", "-e", "PAKREL_WORKERS=2", tag,
             "python", "-m", "service.api.serve", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True, text=True, check=False, timeout=600)
        assert run.returncode == 0, run.stderr
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{base}/health/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
        assert ready is not None and ready.status_code == 200, logs.stdout[-2000:] + logs.stderr[-2000:]
        shipped = (ROOT / "models" / "CURRENT").read_text().strip()
        assert ready.json()["model_version"] == shipped

        response = httpx.post(f"{base}/v1/classify", json={"text": seed_text, "id": "seed-002"}, timeout=30)
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["model_version"]) == ("seed-002", shipped)
        assert body["in_scope"]["label"] is True
        assert body["paragraphs"] and body["topics"]

        # The default target serves only: no training code, no corpus, no training extras.
        absent = subprocess.run(["docker", "exec", name, "python", "-c",
                                 "import importlib.util as u, pathlib as p; print(u.find_spec('matplotlib'), "
                                 "p.Path('/app/training').exists(), p.Path('/app/data/articles').exists())"],
                                capture_output=True, text=True, check=True)
        assert absent.stdout.split() == ["None", "False", "False"]

        uid = subprocess.run(["docker", "exec", name, "id", "-u"], capture_output=True, text=True, check=True)
        assert uid.stdout.strip() == "10001"
        user = subprocess.run(["docker", "inspect", "--format", "{{.Config.User}}", name],
                              capture_output=True, text=True, check=True)
        assert user.stdout.strip() == "app"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)
