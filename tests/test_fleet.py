"""The service as a fleet: two worker processes behind one socket, started by the launcher
(`python -m service.api.serve`), follow models/CURRENT by themselves, and /metrics from either
reports both. Real processes on loopback, a real model swap written the way `make train` writes it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.settings import NO_KEY_WARNING
from tests.live_server import free_port, wait_ready
from tests.test_model_lifecycle import ARTICLE, publish_copy

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 1.0
pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(model_dir_copy: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """Two workers on a free port, polling CURRENT every POLL_S; yields (base URL, launcher process, its log)."""
    port = free_port()
    env = {**os.environ, "PAKREL_MODEL_DIR": str(model_dir_copy), "PAKREL_FEEDBACK_DIR": str(tmp_path / "fb"),
           "PAKREL_MODEL_POLL_SECONDS": str(POLL_S), "PAKREL_WORKERS": "2", "PAKREL_ACCESS_LOG": "false"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "service.api.serve", "--port", str(port)], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, log, timeout_s=60)
        yield base, server, log
    finally:
        server.terminate()
        server.wait(timeout=30)


def fresh(base: str, path: str, **kwargs) -> httpx.Response:
    """One request on a new connection: successive connections are spread over the workers."""
    with httpx.Client(base_url=base, timeout=30) as client:
        return client.request(kwargs.pop("method", "GET"), path, **kwargs)


def every_worker(base: str, count: int = 2, timeout_s: float = 30) -> dict[int, dict]:
    """/health/ready of each worker, by pid (asking on new connections until each has answered)."""
    seen: dict[int, dict] = {}
    deadline = time.monotonic() + timeout_s
    while len(seen) < count and time.monotonic() < deadline:
        body = fresh(base, "/health/ready").json()
        seen[body["worker"]] = body
    assert len(seen) == count, f"only workers {sorted(seen)} answered"
    return seen


class Load:
    """Steady load on fresh connections from 4 threads, recording (sent at, status, model_version)."""

    def __init__(self, base: str) -> None:
        self.base, self.stop, self.results = base, threading.Event(), []
        self.threads = [threading.Thread(target=self._run) for _ in range(4)]

    def _run(self) -> None:
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                response = fresh(self.base, "/v1/classify", method="POST", json={"text": ARTICLE})
                version = response.json().get("model_version") if response.status_code == 200 else response.text
                self.results.append((sent, response.status_code, version))
            except httpx.HTTPError as exc:
                self.results.append((sent, 0, repr(exc)))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def _samples(metrics: str, name: str) -> dict[str, float]:
    return {labels: float(value) for labels, value in re.findall(rf"^{name}\{{(.*)\}} (\S+)$", metrics, re.M)}


def test_two_workers_follow_current_under_load_and_keep_the_old_model_when_the_new_one_is_corrupt(
        fleet: tuple[str, subprocess.Popen, Path], model_dir_copy: Path) -> None:
    base, _, log = fleet
    old = fresh(base, "/v1/model").json()["model_version"]
    pids = sorted(every_worker(base))
    with Load(base) as load:
        time.sleep(1)
        new = publish_copy(model_dir_copy, "20990301-000000")
        published = time.monotonic()
        time.sleep(POLL_S + 3)
        corrupt = publish_copy(model_dir_copy, "20990301-000001", corrupt=True, source=new)
        time.sleep(POLL_S + 3)
    assert [r for r in load.results if r[1] != 200] == []
    late_old = [sent - published for sent, _, version in load.results if version == old and sent > published]
    assert max(late_old, default=0) <= POLL_S + 1, f"the old model answered {max(late_old):.2f} s after the swap"
    assert {version for sent, _, version in load.results if sent > published + POLL_S + 1} == {new}

    workers = every_worker(base)
    assert sorted(workers) == pids
    for pid, ready in workers.items():
        assert ready["model_version"] == new, pid
        assert ready["last_reload_error"].startswith(f"model {corrupt}: checksum mismatch"), pid
    metrics = fresh(base, "/metrics").text
    assert _samples(metrics, "pakrel_model_reload_failing") == {f'pid="{pid}"': 1.0 for pid in pids}
    info = _samples(metrics, "pakrel_model_info")
    assert {k: v for k, v in info.items() if v == 1.0} == {f'pid="{pid}",version="{new}"': 1.0 for pid in pids}
    # The counters are the sum over both workers: every 200 answered above, plus nothing else on the route.
    requests = _samples(metrics, "pakrel_http_requests_total")
    assert requests['method="POST",route="/v1/classify",status="200"'] == len(load.results)
    reloads = _samples(metrics, "pakrel_model_reloads_total")
    assert reloads == {'result="ok"': 4.0, 'result="failed"': 2.0}  # 2 at start + 2 swaps; 2 refusals
    assert log.read_text().count(NO_KEY_WARNING) == 1  # once for the fleet, not once per worker


def test_sighup_to_the_launcher_makes_every_worker_check_current_now(
        fleet: tuple[str, subprocess.Popen, Path], model_dir_copy: Path) -> None:
    base, launcher, _ = fleet
    pids = sorted(every_worker(base))
    # CURRENT is unchanged, so the poll does nothing: each reload counted here is one worker's SIGHUP.
    before = _samples(fresh(base, "/metrics").text, "pakrel_model_reloads_total")['result="ok"']
    launcher.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    after = before
    while time.monotonic() < deadline and after < before + 2:
        time.sleep(0.2)
        after = _samples(fresh(base, "/metrics").text, "pakrel_model_reloads_total")['result="ok"']
    assert after == before + 2
    assert sorted(every_worker(base)) == pids  # reloaded in place, not restarted
