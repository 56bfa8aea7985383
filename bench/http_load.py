"""Closed-loop HTTP load with wrk: N connections, each sending its next request as soon as the
previous one is answered, for a fixed time.

Closed loop means concurrency is exactly N requests in flight, so latency and throughput at
concurrency 1, 8 and 64 are what a caller with that many parallel requests sees. wrk is C on one
thread: on a 2-core machine the generator must leave the server its cores (the Python generator
this replaced took a quarter of a core at concurrency 8). A Lua script sends the bodies
round-robin, formatted once, and prints wrk's own summary and latency percentiles as JSON.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# 64 batches of 32 queued on one worker take about half a minute to drain.
REQUEST_TIMEOUT_S = 90
_MARK = "WRK-RESULT "

# Bodies are separated by NUL, which JSON text never holds unescaped.
_SCRIPT = """
local requests, next_index = {}, 1
function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local headers = {["Content-Type"] = "application/json"}
  for body in string.gmatch(data, "([^%z]+)") do
    requests[#requests + 1] = wrk.format("POST", args[2], headers, body)
  end
end
function request()
  local formatted = requests[next_index]
  next_index = next_index % #requests + 1
  return formatted
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT {\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, " ..
    "\\"status\\": %d, \\"timeout\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


class LoadFailed(RuntimeError):
    """wrk is missing or did not report; the message says which and what it printed."""


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    seconds: float
    requests: int  # sent: answered, or lost to a socket error
    errors: int
    answered: int  # the server's work: what its CPU time is divided by
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    error_kinds: dict[str, int]

    @property
    def requests_per_s(self) -> float:
        """Successful requests per second: an error is not throughput."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "seconds": round(self.seconds, 2), "requests": self.requests,
                "errors": self.errors, "requests_per_s": round(self.requests_per_s, 1),
                "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms,
                "error_kinds": self.error_kinds}


def run_load(url: str, bodies: Sequence[bytes], concurrency: int, seconds: float) -> LoadResult:
    """POST `bodies` round-robin to `url` from `concurrency` connections (one wrk thread) for `seconds`.
    Any answer other than 2xx/3xx, an answer later than the timeout and a socket error are errors;
    latency percentiles are over all answers (wrk's own rules)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadFailed("wrk is not installed: `make system-deps` (Debian package wrk) installs it")
    parts = urlsplit(url)
    with tempfile.TemporaryDirectory(prefix="pakrel-load-") as folder:
        script, data = Path(folder) / "post.lua", Path(folder) / "bodies"
        script.write_text(_SCRIPT, encoding="utf-8")
        data.write_bytes(b"\0".join(bodies))
        command = [wrk, "--threads", "1", "--connections", str(concurrency), "--duration", f"{max(1, round(seconds))}s",
                   "--timeout", f"{REQUEST_TIMEOUT_S}s", "--script", str(script),
                   f"{parts.scheme}://{parts.netloc}", "--", str(data), _target(parts.path, parts.query)]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + REQUEST_TIMEOUT_S + 30)
    line = next((line for line in finished.stdout.splitlines() if line.startswith(_MARK)), None)
    if finished.returncode != 0 or line is None:
        output = f"{finished.stdout[-2000:]}\n{finished.stderr[-2000:]}"
        raise LoadFailed(f"wrk exited with {finished.returncode}:\n{output}")
    return _result(concurrency, json.loads(line.removeprefix(_MARK)))


def _result(concurrency: int, report: dict[str, int]) -> LoadResult:
    """wrk's `requests` are the answers received (2xx or not, slow ones included: its `timeout` counts
    answers later than --timeout among them); socket errors are requests that got no answer."""
    kinds = {"non-2xx answer": report["status"], "later than the timeout": report["timeout"],
             "connect error": report["connect"], "read error": report["read"], "write error": report["write"]}
    errors = {kind: count for kind, count in kinds.items() if count}
    answered = report["requests"]
    unanswered = report["connect"] + report["read"] + report["write"]
    return LoadResult(concurrency, report["duration_us"] / 1e6, answered + unanswered, sum(errors.values()), answered,
                      _ms(report["p50_us"]) if answered else None, _ms(report["p99_us"]) if answered else None,
                      _ms(report["max_us"]) if answered else None, errors)


def _target(path: str, query: str) -> str:
    return (path or "/") + (f"?{query}" if query else "")


def _ms(microseconds: int) -> float:
    return round(microseconds / 1000, 2)
