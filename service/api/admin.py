"""Model information and lifecycle: /v1/labels, /v1/model, /v1/admin/reload."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from service.api.auth import require_admin_key, require_key_if_protect_all
from service.api.classify import served_model
from service.api.errors import documented_errors
from service.api.metrics import record_model
from service.contract.schemas import ReloadResponse
from service.model.lifecycle import ModelHolder, ModelLoadError

router = APIRouter(prefix="/v1", tags=["model"])


@router.get("/labels", summary="The codebook of the loaded model", dependencies=[Depends(require_key_if_protect_all)],
            responses=documented_errors(401, 503))
async def get_labels(request: Request) -> dict:
    loaded = served_model(request)
    return {"model_version": loaded.version, "codebook": loaded.classifier.codebook.to_dict(),
            "partners": loaded.classifier.partner_names}


@router.get("/model", summary="Manifest and summary metrics of the loaded model",
            dependencies=[Depends(require_key_if_protect_all)],
            responses=documented_errors(401, 503))
async def get_model(request: Request) -> dict:
    loaded = served_model(request)
    manifest = {k: v for k, v in loaded.manifest.items() if k != "codebook"}
    return {"model_version": loaded.version, "loaded_at": loaded.loaded_at,
            "summary_metrics": loaded.manifest.get("summary_metrics", {}), "manifest": manifest}


def reload_and_report(app: FastAPI) -> tuple[int, dict]:
    """Shared by the endpoint and SIGHUP: verify the newest model, swap, report either way."""
    holder: ModelHolder = app.state.holder
    previous = holder.current.version if holder.current else None
    try:
        loaded = holder.reload()
    except ModelLoadError as exc:
        app.state.metrics.reloads.labels(result="failed").inc()
        app.state.metrics.reload_failing.set(1)
        current = holder.current.version if holder.current else None
        return 409, {"status": "failed", "model_version": current, "previous_version": previous, "error": str(exc)}
    app.state.metrics.reloads.labels(result="ok").inc()
    app.state.metrics.reload_failing.set(0)
    record_model(app.state.metrics, loaded.version)
    return 200, {"status": "reloaded", "model_version": loaded.version, "previous_version": previous, "error": None}


@router.post("/admin/reload", response_model=ReloadResponse, summary="Load the newest model without downtime",
             description="Checks CURRENT now, in the worker that answers (every worker also polls it by itself, "
                         "every PAKREL_MODEL_POLL_SECONDS).",
             dependencies=[Depends(require_admin_key)],
             responses={**documented_errors(401, 403, 413,
                                            because={413: "Body over PAKREL_MAX_BODY_BYTES (send none)."}),
                        409: {"model": ReloadResponse,
                                           "description": "The new model was refused; the old one still serves."}})
async def reload_model(request: Request):
    status, body = await run_in_threadpool(reload_and_report, request.app)
    return JSONResponse(body, status_code=status)
