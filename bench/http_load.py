"""A small closed-loop HTTP load generator: N clients, each sending its next request as soon as
the previous one is answered, for a fixed time.

Closed loop means concurrency is exactly N requests in flight, so latency and throughput at
concurrency 1, 8 and 64 are what a caller with that many parallel requests sees. Bodies are
serialised once up front so the generator spends its CPU on HTTP, not on JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

# 64 batches of 32 queued on one worker take about half a minute to drain.
REQUEST_TIMEOUT_S = 90.0
_JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    seconds: float
    requests: int
    errors: int
    latencies_ms: tuple[float, ...]
    error_kinds: dict[str, int]

    @property
    def requests_per_s(self) -> float:
        """Successful requests per second: an error is not throughput."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None

    def summary(self) -> dict[str, Any]:
        p50, p99, worst = self.percentile_ms(50), self.percentile_ms(99), self.percentile_ms(100)
        return {"concurrency": self.concurrency, "seconds": round(self.seconds, 2), "requests": self.requests,
                "errors": self.errors, "requests_per_s": round(self.requests_per_s, 1),
                "p50_ms": _rounded(p50), "p99_ms": _rounded(p99), "max_ms": _rounded(worst),
                "error_kinds": self.error_kinds}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run_load(url: str, bodies: Sequence[bytes], concurrency: int, seconds: float) -> LoadResult:
    """POST `bodies` round-robin to `url` from `concurrency` clients for `seconds`, then let the requests
    in flight finish (they count). Any answer other than 200, and any transport error, is an error."""
    return asyncio.run(_load(url, bodies, concurrency, seconds))


async def _load(url: str, bodies: Sequence[bytes], concurrency: int, seconds: float) -> LoadResult:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        next_body = itertools.cycle(bodies)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        started = time.perf_counter()
        deadline = started + seconds

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                body = next(next_body)
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=_JSON)
                except httpx.HTTPError as exc:
                    errors[f"{type(exc).__name__} {exc}".strip()] += 1
                    continue
                if response.status_code == 200:
                    latencies.append(1000 * (time.perf_counter() - sent))
                else:
                    errors[f"HTTP {response.status_code} {response.text[:200]}"] += 1

        # A request that started before the deadline may finish after it; the wait is bounded by the timeout.
        async with asyncio.timeout(seconds + REQUEST_TIMEOUT_S + 5), asyncio.TaskGroup() as clients:
            for _ in range(concurrency):
                clients.create_task(one_client())
        elapsed = time.perf_counter() - started
        failed = sum(errors.values())
        return LoadResult(concurrency, elapsed, len(latencies) + failed, failed, tuple(latencies), dict(errors))
