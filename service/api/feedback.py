"""POST /v1/feedback (store an analyst's correction) and GET /v1/feedback (list them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from service.api.auth import require_admin_key
from service.api.classify import served_model
from service.api.errors import documented_errors
from service.contract.errors import ApiError
from service.contract.limits import check_limits
from service.contract.query import OptionalTimestamp
from service.contract.schemas import FeedbackCreated, FeedbackList, FeedbackRequest
from service.feedback.store import FeedbackStore, FeedbackUnavailable
from service.model.codebook import Codebook

router = APIRouter(prefix="/v1", tags=["feedback"])
SINCE_HELP = "Only records stored after this time (RFC 3339, e.g. 2026-01-31T09:30:00Z)."
STORE_DOWN = "The feedback store cannot be reached (`feedback_unavailable`): retry after Retry-After seconds."
STORE_OR_MODEL_DOWN = ("No verified model is loaded yet (`model_not_ready`), or the feedback store cannot be "
                       "reached (`feedback_unavailable`): retry after Retry-After seconds.")


def _label_problems(body: FeedbackRequest, codebook: Codebook) -> list[dict[str, str]]:
    topics, stances = codebook.topic_ids, codebook.stance_ids
    problems = []

    def check(field: str, values: list[str] | None, valid: list[str]) -> None:
        for value in values or []:
            if value not in valid:
                problems.append({"field": field, "message": f"unknown label '{value}'; valid: {', '.join(valid)}"})

    check("topics", body.topics, topics)
    check("stance", [body.stance] if body.stance is not None else None, stances)
    for i, p in enumerate(getattr(body, "paragraphs", None) or []):
        check(f"paragraphs[{i}].topics", p.topics, topics)
        check(f"paragraphs[{i}].stance", [p.stance] if p.stance is not None else None, stances)
    return problems


async def _in_store(request: Request, call):
    """Run a store call in the thread pool; an unreachable database is a 503 the client can retry."""
    store: FeedbackStore = request.app.state.feedback_store
    try:
        return await run_in_threadpool(call, store)
    except FeedbackUnavailable as exc:
        raise ApiError(503, "feedback_unavailable", f"{exc}; the correction was not stored, send it again later",
                       headers={"Retry-After": "10"}) from exc


@router.post("/feedback", status_code=201, response_model=FeedbackCreated, summary="Store a correction",
             responses={200: {"model": FeedbackCreated, "description": "This client_id was already stored."},
                        **documented_errors(400, 401, 403, 413, 422, 503, because={503: STORE_OR_MODEL_DOWN})})
async def post_feedback(body: FeedbackRequest, request: Request, contributor: str = Depends(require_admin_key)):
    check_limits(body.text, request.app.state.settings, "text")
    loaded = served_model(request)
    problems = _label_problems(body, loaded.classifier.codebook)
    if problems:
        raise ApiError(422, "invalid_feedback", "; ".join(f"{p['field']}: {p['message']}" for p in problems), problems)
    fields = body.model_dump()
    fields["model_version"] = body.model_version or None
    fields["contributor"] = contributor
    record, created = await _in_store(request, lambda store: store.add(fields))
    return JSONResponse({"id": record.id, "created": created, "stored_at": record.created},
                        status_code=201 if created else 200)


@router.get("/feedback", response_model=FeedbackList, summary="List stored corrections",
            dependencies=[Depends(require_admin_key)],
            responses=documented_errors(401, 403, 422, 503, because={503: STORE_DOWN}))
async def list_feedback(request: Request,
                        since: Annotated[OptionalTimestamp, Query(description=SINCE_HELP)] = None,
                        limit: int = Query(1000, ge=1, le=10000)):
    since_text = since.isoformat(timespec="microseconds") if since is not None else None
    records = await _in_store(request, lambda store: store.read(since_text, limit))
    return {"records": [r.as_dict() for r in records]}
