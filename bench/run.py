"""`make bench` (`python -m bench.run`): measure, print the table, write bench/results/latest.json.

In process first (the ceiling), then a real uvicorn per worker count under closed-loop load, then
the targets. Every server is stopped by its process group before the next starts, also when the
run is interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.articles import benchmark_articles
from bench.http_load import run_load
from bench.in_process import time_classification
from bench.points import BATCH_SIZE, measure_point, progress, request_loads, wait_settled
from bench.table import render
from bench.targets import evaluate_targets
from bench.uvicorn_server import RunningServer, memory_mb, summed_memory_mb, uvicorn_server
from service.model.classifier import ArticleInput
from service.model.lifecycle import LoadedModel, load_verified_model
from service.model.paragraphs import split_paragraphs
from service.settings import ROOT, Settings

RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_WORKERS = Settings().workers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="load time per HTTP point (default 20)")
    parser.add_argument("--runs", type=int, default=5, help="in-process runs; the median is reported (default 5)")
    parser.add_argument("--workers", type=_int_list, default=sorted({1, DEFAULT_WORKERS}),
                        help=f"worker counts (default 1,{DEFAULT_WORKERS}: one, and PAKREL_WORKERS' default)")
    parser.add_argument("--concurrency", type=_int_list, default=[1, 8, 64], help="default 1,8,64")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data", help="corpus the articles are drawn from")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument("--bulk", action="store_true", help="also time the bulk command (bench/bulk_bench.py)")
    parser.add_argument("--peer", action="store_true",
                        help="also serve the model with MLServer and gunicorn and load them alike (bench/peer.py)")
    return parser


def _int_list(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # SIGTERM becomes an exception so the servers' `finally` blocks run, as they do on Ctrl+C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = " ".join(["python -m bench.run", *(sys.argv[1:] if argv is None else argv)])
    started = datetime.now(UTC).isoformat(timespec="seconds")
    environment = _environment()
    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        progress(f"warning: the machine is busy (load average {environment['load_average_before']}); "
                  "the figures will be low and noisy")
    articles = benchmark_articles(args.data_dir)
    loaded = load_verified_model(args.model_dir)
    progress(f"in process: {args.runs} runs, one article a call and batches of {BATCH_SIZE}")
    in_process = [time_classification(loaded.classifier, articles, size, args.runs).summary()
                  for size in (1, BATCH_SIZE)]
    points, servers = _http_section(args, articles)
    results: dict[str, Any] = {
        "command": command, "started": started, "environment": environment,
        "seconds": args.seconds, "runs": args.runs, "model": _model_facts(loaded, args.model_dir),
        "articles": _article_facts(articles), "in_process": in_process, "http": points, "servers": servers,
    }
    if args.peer:
        from bench.peer import peer_section  # builds its own venvs; needed only with --peer

        results["peers"] = peer_section(args.model_dir, request_loads(articles)[0][0], args.concurrency,
                                        args.seconds, args.out.parent)
    if args.bulk:
        from bench.bulk_bench import bulk_section  # its own dependencies are needed only with --bulk

        progress("bulk: the bulk command on generated archives (several minutes)")
        results["bulk"] = bulk_section(args.model_dir)
    results["default_workers"] = DEFAULT_WORKERS
    results["targets"] = [target.as_dict() for target in evaluate_targets(results)]
    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    progress(f"wrote {args.out}")
    return 0


def _http_section(args: argparse.Namespace, articles: list[ArticleInput]) -> tuple[list[dict], list[dict]]:
    loads, latency = request_loads(articles)
    points: list[dict] = []
    servers: list[dict] = []
    for workers in args.workers:
        server_cpus, generator_cpus = _core_split() if workers == 1 else (None, None)
        log_path = args.out.parent / f"uvicorn-{workers}-workers.log"
        with uvicorn_server(args.model_dir, workers, log_path, server_cpus) as server, _pinned(generator_cpus):
            progress(f"{workers} worker(s) ready after {server.cold_start_s:.2f} s")
            started_pids = server.worker_pids()
            run_load(server.base_url + loads[0].path, loads[0].bodies, 2 * workers, 1.0)  # warm-up, not counted
            # The latency point runs first, next to the single-article points it is compared with.
            if workers == args.workers[0]:
                points.append(measure_point(server, latency, 1, args.seconds))
            after_single: dict[str, float] | None = None
            for load in loads:
                points += [measure_point(server, load, concurrency, args.seconds) for concurrency in args.concurrency]
                wait_settled(server.cpu_seconds)  # memory is read once the server has settled after the load
                if load.kind == "single":  # what the peers, loaded with single articles only, are compared with
                    after_single = _all_memory(server)
            servers.append({**_server_facts(server, started_pids), "memory_after_single_mb": after_single})
    return points, servers


def _server_facts(server: RunningServer, started_pids: list[int]) -> dict[str, Any]:
    """Memory is read after the load, so it includes what the heaviest point left behind. A worker pid
    that was not there at the start is a worker uvicorn restarted (crashed or failed its health check)."""
    pids = server.worker_pids()
    supervisor = None if server.workers == 1 else memory_mb(server.process.pid)
    return {"workers": server.workers, "cold_start_s": round(server.cold_start_s, 3),
            "worker_restarts": len(set(pids) - set(started_pids)),
            "worker_memory_mb": [memory_mb(pid) for pid in pids], "supervisor_memory_mb": supervisor}


def _all_memory(server: RunningServer) -> dict[str, float]:
    """Every process of the server summed, as the peers' are: the workers and, with several, uvicorn's
    supervisor."""
    return summed_memory_mb(server.worker_pids() + ([server.process.pid] if server.workers > 1 else []))


def _core_split() -> tuple[set[int] | None, set[int] | None]:
    """The last allowed core for the server, the others for the load generator (if there are others)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return {cores[-1]}, set(cores[:-1])


@contextmanager
def _pinned(cpus: set[int] | None) -> Iterator[None]:
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _model_facts(loaded: LoadedModel, model_dir: Path) -> dict[str, Any]:
    manifest = loaded.manifest
    model_file = model_dir / loaded.version / str(manifest.get("model_file", "model.joblib"))
    chosen = manifest.get("model") or {}
    return {"version": loaded.version, "features": chosen.get("features"), "head": chosen.get("head"),
            "file_bytes": model_file.stat().st_size, "file_mb": round(model_file.stat().st_size / 1e6, 3),
            "training_seconds": manifest.get("training_seconds")}


def _article_facts(articles: list[ArticleInput]) -> dict[str, Any]:
    words = [len(article.text.split()) for article in articles]
    paragraphs = [len(split_paragraphs(article.text)) for article in articles]
    return {"count": len(articles), "min_words": min(words), "max_words": max(words),
            "median_words": statistics.median(words), "mean_paragraphs": statistics.fmean(paragraphs)}


def _environment() -> dict[str, Any]:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")
    return {"cpus": os.cpu_count(),
            "cpu_model": cpu_model, "python": platform.python_version(), "platform": platform.platform(),
            "load_average_before": ", ".join(f"{x:.2f}" for x in os.getloadavg())}


if __name__ == "__main__":
    raise SystemExit(main())
