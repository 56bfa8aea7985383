"""`pakrel-bulk classify`: label a whole archive with the model and code the service uses.

The archive is cut into partitions (`bulk_io`); workers (local processes, or Dask workers with
`--engine dask`) each load and verify the model once and label partitions (`bulk_partition`);
this process writes their results strictly in input order, a whole chunk per write, so the
output is at every moment a valid prefix of the full answer. A rerun with the same `--out`
therefore skips what is there and carries on. Bad records go to the errors file with their
line and reason; they never stop the run.

    pakrel-bulk classify --in archive.jsonl --out labels.jsonl [--jobs N] [--engine dask] [--partner NAME ...]
    pakrel-bulk partners labels.jsonl      # articles per partner and stance, from an output
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType

from tqdm import tqdm

from service.bulk.archive import BadRecord, BulkError, Partition, Plan, archive_kind, plan_partitions
from service.bulk.output import FORMATS, JSONL, Completed, ErrorsSink, completed, open_sink
from service.bulk.partition import PartitionResult, WorkerSetup, label_partition, results_in_order
from service.bulk.partners import SUMMARY_FORMATS, partner_summary, resolve_partners
from service.model.lifecycle import LoadedModel, ModelLoadError, load_verified_model
from service.settings import Settings

DEFAULT_CHUNK = 250
ENGINES = ("local", "dask")
INTERRUPTED = 130


@dataclass(frozen=True)
class BulkJob:
    source: Path
    out: Path
    settings: Settings
    errors: Path | None = None
    jobs: int = 0  # 0: every core this process may use
    chunk_size: int = DEFAULT_CHUNK
    fmt: str = JSONL
    engine: str = "local"
    scheduler: str | None = None
    explain: bool = False
    progress: bool = True
    partners: tuple[str, ...] = ()  # keep only articles about one of these (checked against the model)

    @property
    def errors_path(self) -> Path:
        return self.errors or self.out.with_name(self.out.name + ".errors.jsonl")

    @property
    def workers(self) -> int:
        if self.jobs:
            return self.jobs
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class Summary:
    labelled: int = 0
    errors: int = 0
    skipped: int = 0
    elapsed: float = 0.0
    interrupted: bool = False
    filtered: int | None = None  # with --partner: articles about none of the chosen partners
    errors_path: Path | None = None
    out: Path | None = None

    def line(self) -> str:
        rate = self.labelled / self.elapsed if self.elapsed else 0.0
        text = (f"pakrel-bulk: {self.labelled:,} articles labelled, {self.errors:,} errors (in {self.errors_path}), "
                f"{self.skipped:,} skipped (already in {self.out}), {rate:,.1f} articles/s, "
                f"{self.elapsed:,.1f} s elapsed")
        if self.filtered is not None:
            text += f", {self.filtered:,} about none of the chosen partners (not written)"
        if self.interrupted:
            text += "; interrupted: rerun the same command to continue"
        return text


def run(job: BulkJob) -> Summary:
    started = time.perf_counter()
    _check_job(job)
    loaded = load_verified_model(job.settings.model_dir)
    partners = resolve_partners(job.partners, loaded.classifier.partner_names)
    done = completed(job.out, job.fmt)
    _check_same_model(done, loaded, job.out)
    plan = plan_partitions(job.source, job.chunk_size, job.settings)
    # Workers need only the limits: the API key stays in this process.
    setup = WorkerSetup(job.settings.model_copy(update={"api_key": None}), frozenset(done.ids), job.explain,
                        partners)
    sink, errors = open_sink(job.out, job.fmt), ErrorsSink(job.errors_path)
    summary = Summary(errors_path=job.errors_path, out=job.out, filtered=0 if partners else None)
    try:
        with (_StopRequest() as stop,
              tqdm(total=plan.records, initial=min(len(done.ids), plan.records), unit=" articles",
                   disable=None if job.progress else True, dynamic_ncols=True, smoothing=0.1) as progress,
              closing(_results(job, plan, loaded, setup)) as results):
            seen: set[str] = set()
            for written, result in enumerate(results, start=1):
                filtered_before = summary.filtered or 0
                lines, bad = _in_order(result, seen, summary)
                sink.write(lines)
                errors.write(bad)
                summary.labelled, summary.errors = summary.labelled + len(lines), summary.errors + len(bad)
                progress.update(len(lines) + len(bad) + (summary.filtered or 0) - filtered_before)
                if stop.requested and written < len(plan.partitions):
                    summary.interrupted = True
                    break
    finally:
        sink.close()
        errors.close()
    summary.elapsed = time.perf_counter() - started
    return summary


def _in_order(result: PartitionResult, seen: set[str], summary: Summary) -> tuple[list[str], list[BadRecord]]:
    """A partition's lines to append and bad records to report; the first record with an id
    wins, so a repeated id is reported at every later line (an id names one label line)."""
    lines: list[str] = []
    bad = list(result.bad)
    for item in result.labelled:
        if item.id in seen:
            bad.append(BadRecord(item.source, item.line, item.id, "duplicate_id", "an earlier record has this id "
                                 "and was labelled under it: give each article its own id"))
            continue
        seen.add(item.id)
        if not item.chosen:
            summary.filtered = (summary.filtered or 0) + 1
        elif item.body is None:
            summary.skipped += 1
        else:
            lines.append(item.body)
    bad.sort(key=lambda r: (r.source, r.line or 0))
    return lines, bad


def _results(job: BulkJob, plan: Plan, loaded: LoadedModel, setup: WorkerSetup) -> Iterator[PartitionResult]:
    if job.engine == "dask":
        from service.bulk.dask_engine import dask_results

        return dask_results(plan.partitions, loaded, setup, job.scheduler, job.workers)
    return _local_results(plan.partitions, loaded, setup, min(job.workers, max(1, len(plan.partitions))))


def _local_results(partitions: list[Partition], loaded: LoadedModel, setup: WorkerSetup,
                   jobs: int) -> Iterator[PartitionResult]:
    if jobs == 1:
        for partition in partitions:
            yield label_partition(loaded, partition, setup)
        return
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                               initargs=(setup.settings.model_dir, loaded.version, setup))
    try:
        yield from results_in_order(partial(pool.submit, _label_in_worker), partitions, window=2 * jobs)
    except BrokenProcessPool as exc:
        raise BulkError("a worker process died (see above: out of memory, killed, or the model could not be "
                        "loaded); rerun the same command to continue") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_worker: tuple[LoadedModel, WorkerSetup] | None = None


def _start_worker(model_dir: Path, version: str, setup: WorkerSetup) -> None:
    """Runs once in each worker process: load and verify the model the parent verified."""
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop, after a whole chunk
    _exit_with_parent()
    loaded = load_verified_model(model_dir)
    if loaded.version != version:
        raise BulkError(f"the model changed during the run ({version} became {loaded.version}): "
                        "rerun the command with a new --out")
    _worker = (loaded, setup)


def _exit_with_parent() -> None:
    """A worker whose parent was killed (kill -9) has nobody to answer to: end it, not orphan it."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()


def _label_in_worker(partition: Partition) -> PartitionResult:
    assert _worker is not None, "the pool initializer loads the model first"
    loaded, setup = _worker
    return label_partition(loaded, partition, setup)


class _StopRequest:
    """Ctrl+C or SIGTERM: finish writing the chunk at hand, then stop with a valid file.
    A second Ctrl+C stops at once (the next run cuts off any half line)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *_: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\npakrel-bulk: stopping after the chunk in hand (Ctrl+C again to stop at once)", file=sys.stderr)


def _check_job(job: BulkJob) -> None:
    if job.engine not in ENGINES:
        raise BulkError(f"--engine must be one of {', '.join(ENGINES)}, not {job.engine!r}")
    if job.fmt not in FORMATS:
        raise BulkError(f"--format must be one of {', '.join(FORMATS)}, not {job.fmt!r}")
    if job.jobs < 0 or job.chunk_size < 1:
        raise BulkError("--jobs must be 0 (every core) or more, and --chunk-size at least 1")
    if job.scheduler and job.engine != "dask":
        raise BulkError("--scheduler needs --engine dask")
    archive_kind(job.source)
    paths = {job.source.resolve(), job.out.resolve(), job.errors_path.resolve()}
    if len(paths) < 3:
        raise BulkError("--in, --out and the errors file must be three different paths")


def _check_same_model(done: Completed, loaded: LoadedModel, out: Path) -> None:
    others = sorted(done.model_versions - {loaded.version})
    if others:
        raise BulkError(f"{out} holds labels from model {', '.join(others)} and the current model is "
                        f"{loaded.version}: continuing would mix two models in one file; choose another --out, "
                        f"or delete {out} to label everything again")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pakrel-bulk", description="Label a whole archive of articles.")
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser(
        "classify", help="label an archive; rerun the same command to continue an interrupted run",
        description="Input: JSONL or CSV with id, text and optional title (other fields are ignored; a number "
                    "id is written as text), or a folder of .txt files (id = file name without .txt). "
                    "Output: one /v1/classify response body per article. "
                    "Limits and the model folder come from the service's settings (PAKREL_* variables).")
    classify.add_argument("--in", dest="source", type=Path, required=True, help="archive: .jsonl, .csv or a folder")
    classify.add_argument("--out", type=Path, required=True, help="labels: a .jsonl file, or a folder for parquet")
    classify.add_argument("--errors", type=Path, help="bad records (default: <out>.errors.jsonl)")
    classify.add_argument("--jobs", type=int, default=0,
                          help="worker processes, or Dask local workers (default: every core)")
    classify.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK,
                          help=f"articles per chunk: the unit of work, of writing and of loss on a kill "
                               f"(default {DEFAULT_CHUNK})")
    classify.add_argument("--engine", choices=ENGINES, default="local")
    classify.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (default: a local "
                                              "cluster of --jobs workers)")
    classify.add_argument("--format", dest="fmt", choices=FORMATS, default=JSONL)
    classify.add_argument("--model-dir", type=Path, help="model folder (default: PAKREL_MODEL_DIR or models/)")
    classify.add_argument("--explain", action="store_true", help="add the terms behind each label, as ?explain=true")
    classify.add_argument("--partner", dest="partners", action="append", default=[], metavar="NAME",
                          help="write only articles about this partner (a name GET /v1/labels lists under "
                               "\"partners\", any case); repeat for several. A rerun must choose the same ones")
    classify.add_argument("--no-progress", action="store_true", help="no progress bar")
    partners = commands.add_parser(
        "partners", help="count the articles of an output per partner and stance",
        description="Reads a classify output (a .jsonl file or a parquet folder, finished or not) and prints, "
                    "per partner, the articles about it by the stance toward it; an article about two partners "
                    "counts for both. Needs no model.")
    partners.add_argument("out", type=Path, help="the --out of a pakrel-bulk classify run")
    partners.add_argument("--format", dest="fmt", choices=SUMMARY_FORMATS, default="table")
    return parser


def _print_partners(out: Path, fmt: str) -> int:
    try:
        summary = partner_summary(out)
    except BulkError as exc:
        print(f"pakrel-bulk: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(summary.csv() if fmt == "csv" else summary.table())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "partners":
        return _print_partners(args.out, args.fmt)
    settings = Settings()
    if args.model_dir is not None:
        settings = settings.model_copy(update={"model_dir": args.model_dir})
    job = BulkJob(args.source, args.out, settings, args.errors, args.jobs, args.chunk_size, args.fmt, args.engine,
                  args.scheduler, args.explain, progress=not args.no_progress, partners=tuple(args.partners))
    try:
        summary = run(job)
    except (BulkError, ModelLoadError) as exc:
        print(f"pakrel-bulk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pakrel-bulk: stopped at once; rerun the same command to continue", file=sys.stderr)
        return INTERRUPTED
    print(summary.line())
    return INTERRUPTED if summary.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
