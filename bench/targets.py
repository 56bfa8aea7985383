"""The speed and memory targets, judged on a benchmark's results.

All are ratios to what the same model does in process on this machine, so they hold whatever model
ships. The 1-worker server is pinned to its own core (the load generator gets the others), so its
CPU per request is what HTTP adds to classification; the default-workers server (PAKREL_WORKERS'
default: one per core) shares the cores with the load generator, as a real deployment shares them
with its neighbours.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

CPU_OVERHEAD_MS = 1.0
FLEET_RATIO = 0.75
TAIL_FACTOR = 4.0
RSS_LIMIT_MB = 200.0


@dataclass(frozen=True)
class Target:
    name: str
    value: str
    limit: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def evaluate_targets(results: dict[str, Any]) -> list[Target]:
    points = results["http"]
    in_process = {row["batch_size"]: row for row in results["in_process"]}
    one_at_a_time = in_process[1]
    cores = results.get("environment", {}).get("cpus") or os.cpu_count() or 1
    default = results.get("default_workers", cores)
    rss = [memory["rss"] for server in results["servers"] for memory in server["worker_memory_mb"]]
    return [
        _cpu_per_request(_find(points, 1, "single", 1), one_at_a_time["ms_per_article"]),
        _fleet_rate(_find(points, default, "single", 8), one_at_a_time["articles_per_s"], cores, default),
        _tail(_find(points, default, "single", 64), _find(points, default, "single", 8), default),
        _at_most(f"resident memory per worker after the batch load (largest of {len(rss)})",
                 max(rss) if rss else None, RSS_LIMIT_MB, "MB"),
        Target("errors, all HTTP points", str(sum(p["errors"] for p in points)), "0",
               sum(p["errors"] for p in points) == 0 if points else None),
    ]


def _find(points: list[dict[str, Any]], workers: int, kind: str, concurrency: int) -> dict[str, Any] | None:
    return next((p for p in points if (p["workers"], p["kind"], p["concurrency"]) == (workers, kind, concurrency)),
                None)


def _cpu_per_request(point: dict[str, Any] | None, classify_ms: float) -> Target:
    name = "server CPU per request, 1 worker, concurrency 1 (in-process classify + overhead)"
    limit = f"<= {classify_ms:.2f} + {CPU_OVERHEAD_MS:g} ms"
    if point is None or point.get("server_cpu_ms_per_request") is None:
        return Target(name, "n/a", limit, None)
    cpu = point["server_cpu_ms_per_request"]
    return Target(name, f"{cpu:.2f} ms ({cpu - classify_ms:+.2f} ms over classify)", limit,
                  cpu <= classify_ms + CPU_OVERHEAD_MS)


def _fleet_rate(point: dict[str, Any] | None, rate: float, cores: int, workers: int) -> Target:
    name = f"single articles, {workers} workers (default), concurrency 8 / (in-process rate x {cores} cores)"
    limit = f">= {FLEET_RATIO:.0%}"
    if point is None:
        return Target(name, "n/a", limit, None)
    ratio = point["articles_per_s"] / (rate * cores)
    return Target(name, f"{ratio:.0%} ({point['articles_per_s']:.1f} / {rate * cores:.1f} articles/s)", limit,
                  ratio >= FLEET_RATIO)


def _tail(at_64: dict[str, Any] | None, at_8: dict[str, Any] | None, workers: int) -> Target:
    name = f"p99 at concurrency 64 / p50 at concurrency 8 ({workers} workers), and no failed request at 64"
    limit = f"<= {TAIL_FACTOR:g}x, 0 failed"
    if at_64 is None or at_8 is None or not at_8["p50_ms"] or at_64["p99_ms"] is None:
        return Target(name, "n/a", limit, None)
    factor = at_64["p99_ms"] / at_8["p50_ms"]
    # Little's law: 64 requests always in flight at this throughput wait 64 / throughput on average, so
    # no order of service brings the p99 below that without refusing requests; shown beside the target.
    floor = 1000 * at_64["concurrency"] / at_64["requests_per_s"] / at_8["p50_ms"] if at_64["requests_per_s"] else None
    shown = f"{factor:.1f}x ({at_64['p99_ms']:.0f} / {at_8['p50_ms']:.0f} ms), {at_64['errors']} failed"
    if floor is not None:
        shown += f"; the mean wait alone (64 / throughput) is {floor:.1f}x"
    return Target(name, shown, limit, factor <= TAIL_FACTOR and at_64["errors"] == 0)


def _at_most(name: str, value: float | None, limit: float, unit: str) -> Target:
    shown = "n/a" if value is None else f"{value:.1f} {unit}"
    return Target(name, shown, f"<= {limit:g} {unit}", None if value is None else value <= limit)
