"""Liveness, readiness and Prometheus metrics: what orchestrators and dashboards poll."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.metrics import exposition
from service.contract.schemas import ReadyResponse

router = APIRouter(tags=["health"])


@router.get("/health/live", summary="The process is up")
async def live() -> dict:
    return {"status": "alive"}


@router.get("/health/ready", response_model=ReadyResponse, summary="A verified model is loaded",
            responses={503: {"model": ReadyResponse, "description": "No verified model yet; `reason` says why."}})
async def ready(request: Request):
    holder = request.app.state.holder
    loaded = holder.current
    if loaded is None:
        return JSONResponse({"status": "not_ready", "model_version": None,
                             "reason": holder.last_error or "the model is still loading",
                             "last_reload_error": holder.last_error, "worker": os.getpid()}, status_code=503)
    return {"status": "ready", "model_version": loaded.version, "reason": None,
            "last_reload_error": holder.last_error, "worker": os.getpid()}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
async def metrics(request: Request) -> Response:
    return Response(exposition(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
