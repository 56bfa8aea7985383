"""A real uvicorn serving the service for the benchmark, started and always stopped by its pid.

The server runs in its own session, so its process group id is its pid: stopping kills that
group (supervisor and every worker) and checks that nothing of it is left, whatever way the
benchmark ends (normal exit, exception, Ctrl+C).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.venvs import serving_python

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
_POLL_S = 0.01


class ServerFailed(RuntimeError):
    """The server exited or never became ready; the message carries the tail of its log."""


@dataclass
class RunningServer:
    process: subprocess.Popen
    base_url: str
    workers: int
    cold_start_s: float
    log_path: Path

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the workers have used so far."""
        return sum(cpu_seconds(pid) for pid in self.worker_pids())

    def worker_pids(self) -> list[int]:
        """With one worker uvicorn serves from the process it started as; with more, from spawned children."""
        if self.workers == 1:
            return [self.process.pid]
        return [pid for pid, parent, _ in live_processes()
                if parent == self.process.pid and b"spawn_main" in _cmdline(pid)]


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory of a process: `rss` (the figure `ps` and the target use), split into `anon` (its own
    heap) and `file` (mapped libraries, shared between workers), and `pss` (shared pages divided among
    the processes mapping them: what each worker adds to the machine)."""
    status = _kb_fields(Path(f"/proc/{pid}/status"), ("VmRSS", "RssAnon", "RssFile"))
    rollup = _kb_fields(Path(f"/proc/{pid}/smaps_rollup"), ("Pss",))
    return {"rss": round(status["VmRSS"] / 1024, 1), "anon": round(status["RssAnon"] / 1024, 1),
            "file": round(status["RssFile"] / 1024, 1), "pss": round(rollup["Pss"] / 1024, 1)}


def summed_memory_mb(pids: list[int]) -> dict[str, float]:
    """Several processes' resident memory added up: RSS counts the libraries they share once per
    process, PSS shares them out (what the group really costs the machine)."""
    memories = [memory_mb(pid) for pid in pids]
    return {"rss": round(sum(m["rss"] for m in memories), 1), "pss": round(sum(m["pss"] for m in memories), 1)}


def _kb_fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in names:
            values[name] = int(rest.split()[0])
    missing = set(names) - set(values)
    if missing:
        raise ServerFailed(f"{path} has no {', '.join(sorted(missing))}")
    return values


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def uvicorn_server(model_dir: Path, workers: int, log_path: Path, cpus: set[int] | None = None,
                   ) -> Iterator[RunningServer]:
    """Start the service as the image does (`python -m service.api.serve`: uvicorn's supervisor and its
    workers, default settings, the project installed without extras), wait for /health/ready, yield,
    then stop the whole process group.

    `cpus` pins the server (affinity is inherited by its workers) so the load generator cannot
    take the cores it is being measured on.
    """
    port = free_port()
    command = [str(serving_python()), "-m", "service.api.serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    env = {**os.environ, "PAKREL_MODEL_DIR": str(model_dir.resolve()), "PAKREL_LOG_LEVEL": "WARNING"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=Path(__file__).resolve().parent.parent,
                                   preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    try:
        base_url = f"http://127.0.0.1:{port}"
        cold_start = wait_ready(process, base_url, log_path) - started
        yield RunningServer(process, base_url, workers, cold_start, log_path)
    finally:
        stop_process_group(process)


def wait_ready(process: subprocess.Popen, base_url: str, log_path: Path) -> float:
    deadline = time.perf_counter() + READY_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise ServerFailed(f"uvicorn exited with code {process.returncode}:\n{_tail(log_path)}")
            try:
                if client.get(f"{base_url}/health/ready").status_code == 200:
                    return time.perf_counter()
            except httpx.TransportError:
                pass
            time.sleep(_POLL_S)
    raise ServerFailed(f"/health/ready not 200 after {READY_TIMEOUT_S:.0f} s:\n{_tail(log_path)}")


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the group (uvicorn shuts its workers down gracefully), SIGKILL whatever outlives the grace time."""
    group = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.killpg(group, sig)
        if _group_gone(process, group):
            break
    process.wait(timeout=STOP_TIMEOUT_S)
    left = [pid for pid, _, pgrp in live_processes() if pgrp == group]
    if left:
        raise ServerFailed(f"processes {left} of server group {group} survived SIGKILL")


def _group_gone(process: subprocess.Popen, group: int) -> bool:
    deadline = time.perf_counter() + STOP_TIMEOUT_S
    while time.perf_counter() < deadline:
        process.poll()  # reap the supervisor so it does not linger as a zombie
        if not any(pgrp == group for _, _, pgrp in live_processes()):
            return True
        time.sleep(0.05)
    return False


def live_processes() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live, non-zombie process, from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z":
            yield int(stat.parent.name), int(fields[1]), int(fields[2])


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
