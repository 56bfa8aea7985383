"""`create_app(settings)`: the FastAPI application, its lifespan and its parts.

Run with `uvicorn service.api.app:app` (settings from the environment) or build an app on any
settings in tests. The model is loaded in the lifespan, off the event loop, so /health/live
answers at once and /health/ready turns 200 when a verified model is in place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from service.api import admin as api_admin
from service.api import classify as api_classify
from service.api import feedback as api_feedback
from service.api import health as api_health
from service.api import page
from service.api.classify_queue import ClassifyQueue
from service.api.errors import install_error_handlers
from service.api.metrics import create_metrics, forget_dead_workers, worker_stopped
from service.api.middleware import RequestGuard
from service.api.model_watch import current_signature, follow_current
from service.api.openapi_labels import install_label_aware_openapi
from service.api.query_parameters import refuse_unknown_query_parameters
from service.feedback.store import open_store
from service.model.lifecycle import ModelHolder, ModelLoadError
from service.settings import LOG_FORMAT, NO_KEY_WARNING, WARNED_ENV, Settings

log = logging.getLogger("pakrel")

DESCRIPTION = """Labels English-language news about Pakistan's foreign relations: topics (multi-label), stance
(supportive / neutral / critical) and scope, for the article and for each paragraph, with the paragraphs
that support every article-level label. Scores are calibrated probabilities.

Errors always have the body `{"error": code, "message": how to fix, "fields": [...]}`."""


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)


def _install_sighup(app: FastAPI) -> bool:
    """SIGHUP reloads the model like POST /v1/admin/reload (main thread of a Unix process only)."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task] = set()

    def on_hup() -> None:
        task = loop.create_task(run_in_threadpool(api_admin.reload_and_report, app))
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


def operation_id(route: APIRoute) -> str:
    """The route function's name (`classify`, `list_feedback`, `reload_model`): short, stable operation ids, so
    generated clients read `classify(...)`, not FastAPI's default `classify_v1_classify_post(...)`."""
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    _configure_logging(settings.log_level)
    metrics = create_metrics()
    holder = ModelHolder(settings.model_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.named_keys() and not os.environ.get(WARNED_ENV):
            log.warning(NO_KEY_WARNING)
        forget_dead_workers()
        hup = _install_sighup(app)
        seen = current_signature(settings.model_dir)
        status, body = await run_in_threadpool(api_admin.reload_and_report, app)
        if status != 200:
            log.error("starting without a model: %s", body["error"])
        poll = (asyncio.get_running_loop().create_task(follow_current(app, settings.model_poll_seconds, seen))
                if settings.model_poll_seconds > 0 else None)
        yield
        if poll is not None:
            poll.cancel()
            with suppress(asyncio.CancelledError):
                await poll
        if hup:
            with suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        await run_in_threadpool(app.state.feedback_store.close)
        worker_stopped()

    app = FastAPI(title="Pakistan foreign-relations article classifier", version="1", description=DESCRIPTION,
                  lifespan=lifespan, generate_unique_id_function=operation_id,
                  dependencies=[Depends(refuse_unknown_query_parameters)])
    app.state.settings, app.state.metrics, app.state.holder = settings, metrics, holder
    app.state.feedback_store = open_store(settings.feedback_location(), pooled=True)
    app.state.classify_queue = ClassifyQueue(settings.max_queue, metrics.classify_call_articles.observe)
    install_error_handlers(app)
    install_label_aware_openapi(app)
    for module in (api_classify, api_admin, api_feedback, api_health, page):
        app.include_router(module.router)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, metrics=metrics,
                       access_log=settings.access_log)
    return app


def __getattr__(name: str) -> FastAPI:
    """`uvicorn service.api.app:app` builds the app from the environment on first use, not at import."""
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)


__all__ = ["ModelLoadError", "create_app"]
