"""`python -m service.api.serve` (also `pakrel-serve`): the service as PAKREL_WORKERS processes.

uvicorn's own supervisor runs the workers on one shared socket; it restarts a worker that dies.
This launcher adds what a fleet needs around it:
- PROMETHEUS_MULTIPROC_DIR, emptied at start, so /metrics from any worker counts the container;
- SIGHUP to the launcher is passed to every worker as "check CURRENT now" (uvicorn alone would
  restart them all); each worker also polls CURRENT by itself (PAKREL_MODEL_POLL_SECONDS);
- the warning about running without an API key, logged once for all workers.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
from contextlib import suppress
from pathlib import Path

import uvicorn
from uvicorn.supervisors import Multiprocess

from service.api.libc import limit_arenas
from service.settings import LOG_FORMAT, MULTIPROC_ENV, NO_KEY_WARNING, WARNED_ENV, Settings

APP = "service.api.app:app"
# Nothing that imports prometheus_client may be imported at module level here: it picks its
# single- or multi-process mode when imported, so PROMETHEUS_MULTIPROC_DIR must be set first.
log = logging.getLogger("pakrel")


class Fleet(Multiprocess):
    """uvicorn's supervisor, with SIGHUP meaning "reload the model" rather than "restart the workers",
    and the per-worker metrics of a worker that died dropped once it is replaced."""

    def handle_hup(self) -> None:
        for process in self.processes:
            if process.pid is not None:
                with suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGHUP)

    def keep_subprocess_alive(self) -> None:
        before = [p.pid for p in self.processes]
        super().keep_subprocess_alive()
        if [p.pid for p in self.processes] != before:
            from service.api.metrics import forget_dead_workers

            forget_dead_workers()


# Reach the spawned workers at their start (operators' own values win):
# - glibc gives threads their own malloc arenas, up to 8 per core; the thread pool's threads then keep
#   freed memory in several of them and a worker's resident memory creeps up. Two arenas are plenty
#   for one classifying thread and the event loop.
# - OpenBLAS starts a thread pool per core, with its buffers, in every worker, for dense algebra the
#   model does not do; with a worker per core those threads would only compete. One thread saves
#   about 10 MB per worker.
LEAN_WORKER_ENV = {"MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1"}


def _lean_workers() -> None:
    """LEAN_WORKER_ENV for the workers; mallopt applies the arenas to this process, the only worker when
    PAKREL_WORKERS=1."""
    for name, value in LEAN_WORKER_ENV.items():
        os.environ.setdefault(name, value)
    limit_arenas(int(os.environ["MALLOC_ARENA_MAX"]))


def _metrics_dir() -> tuple[Path, bool]:
    """The multiprocess metrics folder, emptied (samples of an earlier run must not count); True when
    it is a temporary folder of ours, to remove at exit."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for path in folder.glob("*.db"):
            path.unlink()
        return folder, False
    return Path(tempfile.mkdtemp(prefix="pakrel-metrics-")), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.api.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=None, help="default: PAKREL_WORKERS (the number of cores)")
    args = parser.parse_args(argv)
    settings = Settings()
    workers = args.workers or settings.workers
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    if not settings.named_keys():
        log.warning(NO_KEY_WARNING)
    os.environ[WARNED_ENV] = "1"
    _lean_workers()
    folder, ours = _metrics_dir()
    os.environ[MULTIPROC_ENV] = str(folder)
    log.info("serving on http://%s:%d with %d worker(s); metrics of all workers in %s", args.host, args.port,
             workers, folder)
    config = uvicorn.Config(APP, host=args.host, port=args.port, workers=workers, access_log=False,
                            log_level=settings.log_level.lower())
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            Fleet(config, target=server.run, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    finally:
        if ours:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
