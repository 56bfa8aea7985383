"""The speed and memory targets of issue 7, judged on a benchmark's results.

Throughput ratios compare one uvicorn worker, pinned to its own core, with the in-process figure
(one thread): the same cores doing the same classification, so the ratio is what HTTP costs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LATENCY_800_MS = 10.0
SINGLE_RATIO = 0.5
BATCH_RATIO = 0.8
RSS_LIMIT_MB = 250.0


@dataclass(frozen=True)
class Target:
    name: str
    value: str
    limit: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "MISS", None: "n/a"}[self.passed]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def evaluate_targets(results: dict[str, Any]) -> list[Target]:
    points = results["http"]
    in_process = {row["batch_size"]: row for row in results["in_process"]}
    latency = next((p for p in points if p["kind"] == "latency"), None)
    single = _best(points, "single")
    batch = _best(points, "batch")
    one_at_a_time = in_process[1]["articles_per_s"]
    batched = max(row["articles_per_s"] for size, row in in_process.items() if size > 1)
    rss = [memory["rss"] for server in results["servers"] for memory in server["worker_memory_mb"]]
    errors = sum(p["errors"] for p in points)
    return [
        _at_most("800-word article, p50 over HTTP at concurrency 1", latency and latency["p50_ms"],
                 LATENCY_800_MS, "ms"),
        _ratio("single-article HTTP throughput / in-process (1 worker)", single, one_at_a_time, SINGLE_RATIO),
        _ratio("batch-of-32 HTTP throughput / in-process (1 worker)", batch, batched, BATCH_RATIO),
        _at_most("resident memory per worker (largest)", max(rss) if rss else None, RSS_LIMIT_MB, "MB"),
        Target("errors, all HTTP points", str(errors), "0", errors == 0 if points else None),
    ]


def _best(points: list[dict[str, Any]], kind: str) -> float | None:
    rates = [p["articles_per_s"] for p in points if p["kind"] == kind and p["workers"] == 1]
    return max(rates) if rates else None


def _at_most(name: str, value: float | None, limit: float, unit: str) -> Target:
    shown = "n/a" if value is None else f"{value:.1f} {unit}"
    return Target(name, shown, f"< {limit:g} {unit}", None if value is None else value < limit)


def _ratio(name: str, http: float | None, in_process: float, limit: float) -> Target:
    if http is None:
        return Target(name, "n/a", f">= {limit:.0%}", None)
    ratio = http / in_process
    return Target(name, f"{ratio:.0%} ({http:.1f} / {in_process:.1f} articles/s)", f">= {limit:.0%}", ratio >= limit)
