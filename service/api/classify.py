"""POST /v1/classify and /v1/classify/batch: parse, check limits, classify through the worker's queue."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from service.api.auth import require_key_if_protect_all
from service.api.classify_queue import ClassifyQueue
from service.api.errors import documented_errors
from service.contract.errors import ApiError
from service.contract.limits import check_limits
from service.contract.query import QueryFlag
from service.contract.responses import classification_body
from service.contract.schemas import ArticleRequest, BatchRequest, BatchResponse, ClassifyResponse
from service.model.classifier import ArticleInput
from service.model.lifecycle import LoadedModel
from service.settings import Settings

ERRORS = documented_errors(400, 401, 413, 422, 503, because={
    503: "No verified model is loaded yet, or the worker already holds PAKREL_MAX_QUEUE requests: retry after "
         "Retry-After seconds."})

# Exactly `true` or `false`, as the schema's boolean says (not FastAPI's 0/1/yes/no/on/off).
ExplainParam = Annotated[QueryFlag, Query(description="`true` adds the terms that pushed each assigned label.")]

router = APIRouter(prefix="/v1", tags=["classify"], dependencies=[Depends(require_key_if_protect_all)],
                   responses=ERRORS)


def served_model(request: Request) -> LoadedModel:
    """The model this request will use from start to finish (a reload cannot change it)."""
    loaded = request.app.state.holder.current
    if loaded is None:
        reason = request.app.state.holder.last_error or "the model is still loading"
        raise ApiError(503, "model_not_ready", f"no model is loaded: {reason}", headers={"Retry-After": "5"})
    request.state.model_version = loaded.version
    return loaded


def _count_predictions(request: Request, bodies: list[dict]) -> None:
    """One increment per distinct label, not per article: a batch of 32 otherwise makes some 300 labelled
    counter look-ups, a few percent of the whole request."""
    counts: Counter[tuple[str, str]] = Counter()
    for body in bodies:
        counts["scope", str(body["in_scope"]["label"]).lower()] += 1
        counts["stance", body["stance"]["label"]] += 1
        counts.update(("topic", topic["label"]) for topic in body["topics"])
    predicted = request.app.state.metrics.predicted
    for (kind, label), count in counts.items():
        predicted.labels(kind=kind, label=label).inc(count)


async def _classify(request: Request, items: list[ArticleRequest], explain: bool) -> tuple[LoadedModel, list[dict]]:
    loaded = served_model(request)
    inputs = [ArticleInput(item.text, item.title or "") for item in items]
    queue: ClassifyQueue = request.app.state.classify_queue
    results = await queue.classify(loaded.classifier, inputs, explain, request.is_disconnected)
    threshold = loaded.classifier.rule.scope_threshold
    bodies = [classification_body(r, loaded.version, item.id, threshold)
              for r, item in zip(results, items, strict=True)]
    _count_predictions(request, bodies)
    return loaded, bodies


@router.post("/classify", response_model=ClassifyResponse, summary="Label one article")
async def classify(body: ArticleRequest, request: Request,
                   explain: ExplainParam = False):
    check_limits(body.text, request.app.state.settings, "text")
    _, bodies = await _classify(request, [body], explain)
    return JSONResponse(bodies[0])


@router.post("/classify/batch", response_model=BatchResponse, summary="Label several articles at once")
async def classify_batch(body: BatchRequest, request: Request,
                         explain: ExplainParam = False):
    settings: Settings = request.app.state.settings
    if len(body.items) > settings.max_batch_items:
        raise ApiError(413, "batch_too_large",
                       f"items has {len(body.items)} articles; the limit is {settings.max_batch_items} "
                       "(PAKREL_MAX_BATCH_ITEMS): send several batches",
                       [{"field": "items", "message": f"more than {settings.max_batch_items} items"}])
    for index, item in enumerate(body.items):
        check_limits(item.text, settings, f"items[{index}].text")
    loaded, bodies = await _classify(request, body.items, explain)
    return JSONResponse({"model_version": loaded.version, "results": bodies})
