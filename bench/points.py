"""What one benchmark point is: the request bodies of a load, and one load run against a server with
its CPU counted, shared by our servers (bench/run.py) and the peers (bench/peer.py)."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bench.http_load import run_load
from service.model.classifier import ArticleInput

BATCH_SIZE = 32
LATENCY_WORDS = 800
IDLE_CPU_S = 0.02  # CPU a server may spend in half a second and still count as idle (the CURRENT poll)
IDLE_TIMEOUT_S = 60.0
# Memory is read this long after the server went idle: a worker hands freed memory back after a
# second without requests (service/api/classify_queue.py), as a real server between bursts would.
SETTLE_S = 2.0


class Server(Protocol):
    base_url: str
    workers: int

    def cpu_seconds(self) -> float: ...


@dataclass(frozen=True)
class Load:
    kind: str  # "single", "batch" or "latency": what the targets look up
    label: str
    path: str
    bodies: list[bytes]
    articles_per_request: int


def request_loads(articles: list[ArticleInput]) -> tuple[list[Load], Load]:
    """The bodies, serialised once: single articles, batches of exactly BATCH_SIZE (wrapping around the
    list until batches would repeat), and the article nearest LATENCY_WORDS words for the latency target."""
    items = [{"text": article.text, "title": article.title, "id": str(i)} for i, article in enumerate(articles)]
    single = [json.dumps(item).encode() for item in items]
    batches = [json.dumps({"items": [items[(start + j) % len(items)] for j in range(BATCH_SIZE)]}).encode()
               for start in range(0, math.lcm(len(items), BATCH_SIZE), BATCH_SIZE)]
    closest = min(range(len(articles)), key=lambda i: abs(len(articles[i].text.split()) - LATENCY_WORDS))
    words = len(articles[closest].text.split())
    return ([Load("single", "single article", "/v1/classify", single, 1),
             Load("batch", f"batch of {BATCH_SIZE}", "/v1/classify/batch", batches, BATCH_SIZE)],
            Load("latency", f"{LATENCY_WORDS}-word article ({words} words)", "/v1/classify", [single[closest]], 1))


def measure_point(server: Server, load: Load, concurrency: int, seconds: float) -> dict[str, Any]:
    """One closed-loop load. It starts once the server is idle, so the CPU of requests still running from
    the previous point (or their clients' abandoned requests being dropped) is not charged to this one."""
    wait_idle(server.cpu_seconds)
    progress(f"  {load.label}, concurrency {concurrency}, {server.workers} worker(s)")
    cpu_before = server.cpu_seconds()
    result = run_load(server.base_url + load.path, load.bodies, concurrency, seconds)
    cpu = server.cpu_seconds() - cpu_before
    return {"workers": server.workers, "kind": load.kind, "request": load.label, **result.summary(),
            "articles_per_s": round(result.requests_per_s * load.articles_per_request, 1),
            "server_cpu_ms_per_request": round(1000 * cpu / result.answered, 2) if result.answered else None}


def wait_settled(cpu_seconds: Callable[[], float]) -> None:
    """Idle, then SETTLE_S more: the state a server is left in after a load, where memory is read."""
    wait_idle(cpu_seconds)
    time.sleep(SETTLE_S)


def wait_idle(cpu_seconds: Callable[[], float]) -> None:
    """Until the server's CPU time stops growing: a load that ended leaves queued requests behind."""
    deadline = time.perf_counter() + IDLE_TIMEOUT_S
    before = cpu_seconds()
    while time.perf_counter() < deadline:
        time.sleep(0.5)
        now = cpu_seconds()
        if now - before < IDLE_CPU_S:
            return
        before = now
    progress(f"warning: the server still worked after {IDLE_TIMEOUT_S:.0f} s without load; measuring anyway")


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


