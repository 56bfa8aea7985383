"""Prometheus metrics: one registry per app (tests build several apps in one process), and
prometheus-client's multiprocess mode when several workers serve one container.

With `PROMETHEUS_MULTIPROC_DIR` set (the launcher, `service.api.serve`, sets it for its workers),
every worker writes its samples to files in that folder and `/metrics`, from whichever worker
answers, reads them all: counters and histograms are the container's sums, while the model
version and a refused reload stay per worker (`pid` label, live workers only).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

from service.settings import MULTIPROC_ENV

_LIVE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db$")


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    predicted: Counter
    classify_call_articles: Histogram
    model_info: Gauge
    reloads: Counter
    reload_failing: Gauge
    versions_served: set[str] = field(default_factory=set)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def create_metrics() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        requests=Counter("pakrel_http_requests_total", "HTTP requests by route and status.",
                         ["method", "route", "status"], registry=registry),
        latency=Histogram("pakrel_http_request_duration_seconds", "Request latency by route.", ["route"],
                          buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                          registry=registry),
        predicted=Counter("pakrel_predicted_labels_total", "Article-level labels predicted.",
                          ["kind", "label"], registry=registry),
        classify_call_articles=Histogram(
            "pakrel_classify_call_articles", "Articles per classify call (requests that waited together share one).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=registry),
        model_info=Gauge("pakrel_model_info", "The loaded model version (value 1), per worker.", ["version"],
                         registry=registry, multiprocess_mode="liveall"),
        reloads=Counter("pakrel_model_reloads_total", "Model reload attempts by result.", ["result"],
                        registry=registry),
        reload_failing=Gauge("pakrel_model_reload_failing",
                             "1 while the worker's last reload was refused (it serves its previous model).",
                             registry=registry, multiprocess_mode="liveall"),
    )


def record_model(metrics: Metrics, version: str) -> None:
    if multiprocess_dir():
        # Labels cannot be removed in multiprocess mode: the versions this worker served before read 0.
        for old in metrics.versions_served - {version}:
            metrics.model_info.labels(version=old).set(0)
    else:
        metrics.model_info.clear()
    metrics.model_info.labels(version=version).set(1)
    metrics.versions_served.add(version)


def exposition(metrics: Metrics) -> bytes:
    """The text format: this app's registry, or every worker's files in multiprocess mode."""
    folder = multiprocess_dir()
    if folder is None:
        return generate_latest(metrics.registry)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    return generate_latest(registry)


def forget_dead_workers() -> None:
    """Drop the per-worker gauges of workers that are gone (killed, or replaced by the supervisor),
    so a scrape shows the live workers only; counters keep their contributions, as they should."""
    folder = multiprocess_dir()
    if folder is None:
        return
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        match = _LIVE_FILE.search(os.path.basename(path))
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), folder)


def worker_stopped() -> None:
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.mark_process_dead(os.getpid(), folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
