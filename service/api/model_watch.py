"""Every worker follows `models/CURRENT`: one model across the fleet without anyone signalling it.

Each worker stats CURRENT every PAKREL_MODEL_POLL_SECONDS (a stat, no read, when nothing changed).
`make train` and `make rollback` replace CURRENT atomically (write, then rename), so any change
shows in its inode, size or mtime; the worker then runs the same verify-then-swap as
POST /v1/admin/reload. A refused model leaves the old one serving, and the refusal is reported
on /health/ready and in metrics by that worker; it is not retried until CURRENT changes again.
With several containers on one models/ volume, every worker of every container follows it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from service.api.admin import reload_and_report
from service.model.files import CURRENT_FILE, current_version
from service.model.lifecycle import ModelHolder

log = logging.getLogger("pakrel.model")


def current_signature(model_dir: Path) -> tuple[int, int, int, int] | None:
    try:
        stat = os.stat(model_dir / CURRENT_FILE)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def reload_if_changed(app: FastAPI) -> None:
    """CURRENT changed on disk: swap unless it still names the model this worker serves."""
    holder: ModelHolder = app.state.holder
    named = current_version(holder.model_dir)
    if holder.current is not None and named == holder.current.version and holder.last_error is None:
        return
    status, body = reload_and_report(app)
    if status == 200:
        log.info("CURRENT changed: now serving %s (was %s)", body["model_version"], body["previous_version"])


async def follow_current(app: FastAPI, interval_s: float, seen: tuple | None) -> None:
    """Runs for the app's lifetime; `seen` is CURRENT's signature when the startup load began."""
    model_dir = app.state.holder.model_dir
    while True:
        await asyncio.sleep(interval_s)
        signature = current_signature(model_dir)
        if signature == seen:
            continue
        seen = signature
        try:
            await run_in_threadpool(reload_if_changed, app)
        except Exception:  # the poll must outlive any surprise; the next change is tried again
            log.exception("following %s failed", model_dir / CURRENT_FILE)
