"""Prometheus metrics, one registry per app (tests build several apps in one process).

With several uvicorn workers each worker exposes its own counters; scrape them through the
load balancer or run one worker per container, as the README says.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    predicted: Counter
    model_info: Gauge
    reloads: Counter


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
        model_info=Gauge("pakrel_model_info", "The loaded model version (value 1).", ["version"],
                         registry=registry),
        reloads=Counter("pakrel_model_reloads_total", "Model reload attempts by result.", ["result"],
                        registry=registry),
    )


def record_model(metrics: Metrics, version: str) -> None:
    metrics.model_info.clear()
    metrics.model_info.labels(version=version).set(1)
