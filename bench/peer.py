"""`python -m bench.run --peer`: the shipped model behind the servers a user might pick instead of ours,
loaded by the same generator with the same single-article bodies, so the figures sit beside ours.

- MLServer 1.7.1 with its default settings (one inference worker) and with `parallel_workers: 2`, through
  bench/mlserver_runtime.py. It lives in its own venv: it pins a FastAPI older than ours, and its inference
  workers stop at start with uvloop 0.22 or later (`asyncio.get_event_loop()` raises there), so uvloop is
  held at 0.21.0.
- gunicorn with uvicorn-worker's UvicornWorker and 2 workers running our app, the usual alternative to our
  launcher, from the serving venv plus those two packages, with the environment our launcher sets up.

Before any load, every benchmark article is sent to each peer and the answer must equal what our own
server answers for it (`python -m service.api.serve`, started here for that), or the section fails: a
faster peer that answers something else proves nothing. Each server runs in its own session and its
process group is stopped however the run ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.http_load import run_load
from bench.points import Load, measure_point, progress, wait_settled
from bench.uvicorn_server import (
    ServerFailed,
    cpu_seconds,
    free_port,
    live_processes,
    stop_process_group,
    summed_memory_mb,
    uvicorn_server,
    wait_ready,
)
from bench.venvs import CONSTRAINTS, ensure_venv
from service.api.serve import LEAN_WORKER_ENV
from service.settings import MULTIPROC_ENV, ROOT, WARNED_ENV

PEER_WORKERS = 2
MODEL_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib")
# MLServer's pins, and the HTTP stack pip resolved for it when this section was written: held so the
# figures do not move with unrelated releases.
MLSERVER_REQUIREMENTS = ("mlserver==1.7.1", "uvloop==0.21.0", "fastapi==0.115.14", "starlette==0.46.2",
                         "uvicorn==0.55.0", "pydantic==2.14.4", "orjson==3.13.0")
GUNICORN_REQUIREMENTS = ("gunicorn==27.0.1", "uvicorn-worker==0.4.0")
MLSERVER_VERSIONS = ("mlserver", "fastapi", "starlette", "uvicorn", "uvloop", "pydantic", "orjson", *MODEL_LIBRARIES)
GUNICORN_VERSIONS = ("gunicorn", "uvicorn-worker", "uvicorn", "uvloop", "httptools", "fastapi", "starlette")
WARM_UP_TRIES = 20


class PeerMismatch(RuntimeError):
    """A peer answered an article differently from our service: its figures would compare nothing."""


@dataclass(frozen=True)
class Launch:
    """How one peer is started: its command, environment and working folder, and where it says it is ready."""

    command: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    ready_prefix: str  # before /health/ready: "/v2" for MLServer's V2 health route


@dataclass(frozen=True)
class Peer:
    name: str
    workers: int  # processes that classify
    python: Callable[[], Path]  # builds the peer's venv on first use
    versions: tuple[str, ...]  # the distributions worth naming in the results
    launch: Callable[[Path, Path, Path], Launch]  # (venv python, model folder, scratch folder)


@dataclass
class PeerServer:
    """A running peer, shaped as bench.points' `measure_point` expects a server (base_url, workers, cpu_seconds)."""

    name: str
    process: subprocess.Popen
    base_url: str
    workers: int
    cold_start_s: float

    def pids(self) -> list[int]:
        """Every process of the server's session: MLServer's HTTP process, its inference workers and the
        multiprocessing resource tracker; gunicorn's arbiter and workers."""
        return [pid for pid, _, group in live_processes() if group == self.process.pid]

    def cpu_seconds(self) -> float:
        """All the group's CPU: in MLServer the HTTP process parses and encodes while a worker classifies."""
        return sum(cpu_seconds(pid) for pid in self.pids())


def peer_section(model_dir: Path, load: Load, concurrencies: Sequence[int], seconds: float,
                 log_dir: Path) -> dict[str, Any]:
    """Points (the fields of bench.points' `measure_point`, plus `server`) and per-server facts for every peer."""
    progress(f"peers: our server's answers to the {len(load.bodies)} articles, for the equality check")
    reference = _our_answers(model_dir, load, log_dir / "peer-reference.log")
    points: list[dict[str, Any]] = []
    servers: list[dict[str, Any]] = []
    for peer in PEERS:
        built = time.perf_counter()
        python = peer.python()
        venv_s = time.perf_counter() - built
        with tempfile.TemporaryDirectory(prefix="pakrel-peer-") as scratch, \
                _serving(peer, peer.launch(python, model_dir.resolve(), Path(scratch)), log_dir) as server:
            progress(f"{peer.name}: ready after {server.cold_start_s:.2f} s")
            check = _check_answers(server, load, reference)
            _warm_up(server, load)
            for concurrency in concurrencies:
                points.append({"server": peer.name, **measure_point(server, load, concurrency, seconds)})
            wait_settled(server.cpu_seconds)
            servers.append({"server": peer.name, "workers": peer.workers, "venv_ready_s": round(venv_s, 1),
                            "cold_start_s": round(server.cold_start_s, 3), "answers": check,
                            "versions": _versions(python, peer.versions), **_group_memory(server)})
    return {"points": points, "servers": servers}


def _our_answers(model_dir: Path, load: Load, log_path: Path) -> list[Any]:
    """What `python -m service.api.serve` answers for each body: the reference every peer must match."""
    with uvicorn_server(model_dir, 1, log_path) as ours:
        return [json.loads(body) for body in _answers(ours.base_url + load.path, load.bodies)]


def _answers(url: str, bodies: Sequence[bytes]) -> list[bytes]:
    with httpx.Client(timeout=30.0) as client:
        responses = [client.post(url, content=body, headers={"content-type": "application/json"}) for body in bodies]
    failed = [(i, r.status_code, r.text[:300]) for i, r in enumerate(responses) if r.status_code != 200]
    if failed:
        raise PeerMismatch(f"{url} refused {len(failed)} of {len(bodies)} articles, first: {failed[0]}")
    return [response.content for response in responses]


def _check_answers(server: PeerServer, load: Load, reference: list[Any]) -> dict[str, int]:
    """Equal JSON for every article, or PeerMismatch naming the first that differs."""
    answers = _answers(server.base_url + load.path, load.bodies)
    for index, (answer, expected) in enumerate(zip(answers, reference, strict=True)):
        if json.loads(answer) != expected:
            theirs = answer[:600].decode(errors="replace")
            raise PeerMismatch(f"{server.name} answered article {index} differently from our service:\n"
                               f"  ours:   {json.dumps(expected)[:600]}\n  theirs: {theirs}")
    print(f"[peer check] {server.name}: {len(answers)} of {len(reference)} answers equal ours", file=sys.stderr,
          flush=True)
    return {"articles": len(answers), "equal": len(answers)}


def _warm_up(server: PeerServer, load: Load) -> None:
    """Load until one second passes without an error: a server says ready when its first process is, and
    the others (gunicorn's second worker, MLServer's second inference worker) may still be loading."""
    for _ in range(WARM_UP_TRIES):
        if run_load(server.base_url + load.path, load.bodies, 2 * server.workers, 1.0).errors == 0:
            return
    raise ServerFailed(f"{server.name} still failed requests after {WARM_UP_TRIES} s of warm-up")


def _group_memory(server: PeerServer) -> dict[str, Any]:
    """Resident memory of the whole group after the load (peers run several processes)."""
    pids = server.pids()
    return {"processes": len(pids), "memory_mb": summed_memory_mb(pids)}


def _versions(python: Path, names: Sequence[str]) -> dict[str, str]:
    script = ("import importlib.metadata as m, json, sys; "
              "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    return json.loads(subprocess.run([str(python), "-c", script, *names], capture_output=True, text=True,
                                     check=True).stdout)


@contextmanager
def _serving(peer: Peer, launch: Launch, log_dir: Path) -> Iterator[PeerServer]:
    """Start in its own session, wait for ready, yield, and stop the whole process group whatever happens."""
    log_path = log_dir / f"peer-{peer.name.split()[0].lower()}-{peer.workers}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(launch.command, env=launch.env, cwd=launch.cwd, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base_url = f"http://127.0.0.1:{launch.port}"
        ready = wait_ready(process, base_url + launch.ready_prefix, log_path)
        yield PeerServer(peer.name, process, base_url, peer.workers, ready - started)
    finally:
        stop_process_group(process)


def _pins(names: Sequence[str]) -> list[str]:
    """Our constraints.txt lines for `names`: the model is a pickle that loads only with these versions."""
    pins = {line.split("==")[0].strip().lower(): line.strip() for line in CONSTRAINTS.read_text().splitlines()
            if "==" in line and not line.lstrip().startswith("#")}
    return [pins[name.lower()] for name in names]


def _mlserver_python() -> Path:
    # Unconstrained: constraints.txt pins our FastAPI, which MLServer 1.7.1 refuses (it wants < 0.116).
    return ensure_venv("mlserver", [*MLSERVER_REQUIREMENTS, *_pins(MODEL_LIBRARIES)], constrained=False)


def _gunicorn_python() -> Path:
    """The serving venv (`pip install -e .` under constraints.txt, as the image installs it) plus gunicorn."""
    return ensure_venv("serve-gunicorn", ["-e", ".", *GUNICORN_REQUIREMENTS])


def _mlserver_launch(parallel_workers: int | None) -> Callable[[Path, Path, Path], Launch]:
    """MLServer's defaults but for the addresses (loopback, free ports) and, when given, parallel_workers."""

    def launch(python: Path, model_dir: Path, scratch: Path) -> Launch:
        http, grpc, metrics = free_port(), free_port(), free_port()
        settings: dict[str, Any] = {"host": "127.0.0.1", "http_port": http, "grpc_port": grpc, "metrics_port": metrics}
        if parallel_workers is not None:
            settings["parallel_workers"] = parallel_workers
        (scratch / "settings.json").write_text(json.dumps(settings))
        (scratch / "pakrel").mkdir()
        (scratch / "pakrel" / "model-settings.json").write_text(json.dumps({
            "name": "pakrel", "implementation": "bench.mlserver_runtime.PakrelRuntime",
            "parameters": {"uri": str(model_dir)}}))
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        # The scratch folder is the working folder: MLServer keeps its .metrics and .envs there.
        return Launch([str(python.parent / "mlserver"), "start", str(scratch)], {**os.environ, "PYTHONPATH": path},
                      scratch, http, "/v2")

    return launch


def _gunicorn_launch(python: Path, model_dir: Path, scratch: Path) -> Launch:
    """What `python -m service.api.serve` sets up around uvicorn, done by hand for gunicorn: the same lean
    worker settings, an empty multiprocess metrics folder, the no-key warning already given, the same log level."""
    port = free_port()
    metrics = scratch / "metrics"
    metrics.mkdir()
    env = {**os.environ, "PAKREL_MODEL_DIR": str(model_dir), "PAKREL_LOG_LEVEL": "WARNING",
           **LEAN_WORKER_ENV, MULTIPROC_ENV: str(metrics), WARNED_ENV: "1"}
    command = [str(python), "-m", "gunicorn", "service.api.app:app", "--worker-class", "uvicorn_worker.UvicornWorker",
               "--workers", str(PEER_WORKERS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    return Launch(command, env, ROOT, port, "")


PEERS = (
    Peer("MLServer 1.7.1, default settings", 1, _mlserver_python, MLSERVER_VERSIONS, _mlserver_launch(None)),
    Peer(f"MLServer 1.7.1, parallel_workers {PEER_WORKERS}", PEER_WORKERS, _mlserver_python, MLSERVER_VERSIONS,
         _mlserver_launch(PEER_WORKERS)),
    Peer(f"gunicorn + UvicornWorker, {PEER_WORKERS} workers", PEER_WORKERS, _gunicorn_python, GUNICORN_VERSIONS,
         _gunicorn_launch),
)
