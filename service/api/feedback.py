"""POST /v1/feedback (store an analyst's correction) and GET /v1/feedback (list them)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from service.api.auth import require_admin_key, require_key_if_protect_all
from service.api.classify import ERRORS, served_model
from service.contract.errors import ApiError
from service.contract.limits import check_limits
from service.contract.schemas import FeedbackCreated, FeedbackList, FeedbackRequest
from service.feedback.store import add_feedback, read_feedback
from service.model.codebook import Codebook
from service.model.paragraphs import split_paragraphs

router = APIRouter(prefix="/v1", tags=["feedback"])


def _label_problems(body: FeedbackRequest, codebook: Codebook) -> list[dict[str, str]]:
    topics, stances = codebook.topic_ids, codebook.stance_ids
    problems = []

    def check(field: str, values: list[str] | None, valid: list[str]) -> None:
        for value in values or []:
            if value not in valid:
                problems.append({"field": field, "message": f"unknown label '{value}'; valid: {', '.join(valid)}"})

    check("topics", body.topics, topics)
    check("stance", [body.stance] if body.stance is not None else None, stances)
    for i, p in enumerate(body.paragraphs or []):
        check(f"paragraphs[{i}].topics", p.topics, topics)
        check(f"paragraphs[{i}].stance", [p.stance] if p.stance is not None else None, stances)
    return problems


def _shape_problems(body: FeedbackRequest) -> list[dict[str, str]]:
    problems = []
    if body.topics is None and body.stance is None and body.in_scope is None and not body.paragraphs:
        problems.append({"field": "body", "message": "send at least one of topics, stance, in_scope, paragraphs"})
    if body.level == "paragraph" and (body.paragraphs or body.in_scope is not None):
        problems.append({"field": "level", "message": "a paragraph correction has only topics and stance"})
    if body.paragraphs:
        count = len(split_paragraphs(body.text))
        for i, p in enumerate(body.paragraphs):
            if p.index >= count:
                problems.append({"field": f"paragraphs[{i}].index",
                                 "message": f"the text has {count} paragraphs (indices 0 to {count - 1})"})
    return problems


@router.post("/feedback", status_code=201, response_model=FeedbackCreated, summary="Store a correction",
             dependencies=[Depends(require_key_if_protect_all)],
             responses={200: {"model": FeedbackCreated, "description": "This client_id was already stored."},
                        **{k: v for k, v in ERRORS.items() if k in (401, 413, 422, 503)}})
async def post_feedback(body: FeedbackRequest, request: Request):
    check_limits(body.text, request.app.state.settings, "text")
    loaded = served_model(request)
    problems = _shape_problems(body) + _label_problems(body, loaded.classifier.codebook)
    if problems:
        raise ApiError(422, "invalid_feedback", "; ".join(f"{p['field']}: {p['message']}" for p in problems), problems)
    fields = body.model_dump()
    fields["model_version"] = body.model_version or None
    record, created = await run_in_threadpool(add_feedback, request.app.state.settings.feedback_dir, fields)
    return JSONResponse({"id": record.id, "created": created, "stored_at": record.created},
                        status_code=201 if created else 200)


@router.get("/feedback", response_model=FeedbackList, summary="List stored corrections",
            dependencies=[Depends(require_admin_key)],
            responses={k: v for k, v in ERRORS.items() if k in (401, 422)})
async def list_feedback(request: Request,
                        since: datetime | None = Query(None, description="Only records stored after this time."),
                        limit: int = Query(1000, ge=1, le=10000)):
    since_text = None
    if since is not None:
        aware = since if since.tzinfo else since.replace(tzinfo=UTC)
        try:
            since_text = aware.astimezone(UTC).isoformat(timespec="microseconds")
        except OverflowError:  # a time past year 9999 in UTC: nothing can be newer
            since_text = datetime.max.replace(tzinfo=UTC).isoformat(timespec="microseconds")
    records = await run_in_threadpool(read_feedback, request.app.state.settings.feedback_dir, since_text, limit)
    return {"records": [r.as_dict() for r in records]}
