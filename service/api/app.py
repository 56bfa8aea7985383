"""`create_app(settings)`: the FastAPI application, its lifespan and its parts.

Run with `uvicorn service.api.app:app` (settings from the environment) or build an app on any
settings in tests. The model is loaded in the lifespan, off the event loop, so /health/live
answers at once and /health/ready turns 200 when a verified model is in place.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from service.api import admin as api_admin
from service.api import classify as api_classify
from service.api import feedback as api_feedback
from service.api import health as api_health
from service.api import page
from service.api.errors import install_error_handlers
from service.api.metrics import create_metrics
from service.api.middleware import RequestGuard
from service.api.openapi_labels import install_label_aware_openapi
from service.model.lifecycle import ModelHolder, ModelLoadError
from service.settings import Settings

log = logging.getLogger("pakrel")

DESCRIPTION = """Labels English-language news about Pakistan's foreign relations: topics (multi-label), stance
(supportive / neutral / critical) and scope, for the article and for each paragraph, with the paragraphs
that support every article-level label. Scores are calibrated probabilities.

Errors always have the body `{"error": code, "message": how to fix, "fields": [...]}`."""


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")


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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    _configure_logging(settings.log_level)
    metrics = create_metrics()
    holder = ModelHolder(settings.model_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hup = _install_sighup(app)
        status, body = await run_in_threadpool(api_admin.reload_and_report, app)
        if status != 200:
            log.error("starting without a model: %s", body["error"])
        yield
        if hup:
            with suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    app = FastAPI(title="Pakistan foreign-relations article classifier", version="1", description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings, app.state.metrics, app.state.holder = settings, metrics, holder
    install_error_handlers(app)
    install_label_aware_openapi(app)
    for module in (api_classify, api_admin, api_feedback, api_health, page):
        app.include_router(module.router)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, metrics=metrics)
    return app


def __getattr__(name: str) -> FastAPI:
    """`uvicorn service.api.app:app` builds the app from the environment on first use, not at import."""
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)


__all__ = ["ModelLoadError", "create_app"]
