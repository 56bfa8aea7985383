"""POST /v1/classify and /v1/classify/batch: parse, check limits, classify off the event loop."""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import Annotated

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from service.api.auth import require_key_if_protect_all
from service.api.errors import documented_errors
from service.contract.errors import ApiError
from service.contract.limits import check_limits
from service.contract.query import QueryFlag
from service.contract.responses import classification_body
from service.contract.schemas import ArticleRequest, BatchRequest, BatchResponse, ClassifyResponse
from service.model.classifier import ArticleInput, classify_articles
from service.model.lifecycle import LoadedModel
from service.settings import Settings

ERRORS = documented_errors(400, 401, 413, 422, 503, because={
    503: "No verified model is loaded yet, or the worker already holds PAKREL_MAX_QUEUE requests: retry after "
         "Retry-After seconds."})

# Classification holds the GIL almost throughout (scikit-learn counts n-grams in pure Python), so a second
# thread per process adds no throughput, while every classification in flight holds its own working memory:
# requests beyond this many wait their turn instead of all classifying at once in the 40-thread pool.
CLASSIFY_THREADS = 1
_classify_limiter: RunVar[CapacityLimiter] = RunVar("classify_limiter")

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


class Admission:
    """Classify requests one worker holds, running or waiting for the classify thread. Beyond the limit a
    request is refused at once (503, Retry-After) rather than queued for seconds: the client or the load
    balancer can send it to a worker with room, and latency stays bounded for the requests that are taken."""

    def __init__(self, limit: int) -> None:
        self.limit, self.held = limit, 0

    def enter(self) -> None:
        if self.held >= self.limit:
            raise ApiError(503, "overloaded",
                           f"this worker already holds {self.held} classify requests (PAKREL_MAX_QUEUE="
                           f"{self.limit}); retry after {RETRY_AFTER_S} s", headers={"Retry-After": str(RETRY_AFTER_S)})
        self.held += 1

    def leave(self) -> None:
        self.held -= 1


RETRY_AFTER_S = 1


def _limiter() -> CapacityLimiter:
    """One limiter per event loop (as anyio keeps its own thread limiter), so apps in tests share nothing."""
    limiter = _classify_limiter.get(None)
    if limiter is None:
        limiter = CapacityLimiter(CLASSIFY_THREADS)
        _classify_limiter.set(limiter)
    return limiter


async def _classify(request: Request, items: list[ArticleRequest], explain: bool) -> tuple[LoadedModel, list[dict]]:
    loaded = served_model(request)
    inputs = [ArticleInput(item.text, item.title or "") for item in items]
    admission: Admission = request.app.state.admission
    admission.enter()  # the event loop is one thread: no lock needed between the check and the count
    try:
        results = await to_thread.run_sync(partial(classify_articles, loaded.classifier, inputs, explain),
                                           limiter=_limiter())
    finally:
        admission.leave()
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
