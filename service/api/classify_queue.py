"""The worker's classify requests: admitted up to PAKREL_MAX_QUEUE, classified on one thread, and
those that waited together classified together.

Classification holds the GIL almost throughout (scikit-learn counts n-grams in pure Python), so a
second classify thread per process adds no throughput, while every classification in flight holds
its own working memory: one thread runs, the others wait here. While it runs, new requests queue;
when it frees up, everything that queued (up to MAX_ARTICLES_PER_CALL articles) goes into one
`classify_articles` call. One article alone costs about 9.9 ms, 32 at once 7.1 ms each (the model's
fixed costs are paid per call), so under load the worker serves more, and at concurrency 1 nothing
waits: no timer holds a request back to gather others.

A request whose client has hung up by its turn is not classified (499 in the logs and metrics).
Beyond the limit a request is refused at once (503, Retry-After) rather than queued for seconds:
the client or the load balancer can send it to a worker with room, and latency stays bounded for
the requests that are taken.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from anyio import to_thread

from service.api.libc import release_freed_memory
from service.contract.errors import ApiError
from service.model.classifier import ArticleClassifier, ArticleInput, Classification, classify_articles

MAX_ARTICLES_PER_CALL = 32
# Once a queue that has classified this many articles since the last time empties, its worker hands
# the freed memory back (queued batch bodies held 20-35 MB); rare enough to cost nothing per request.
TRIM_AFTER_ARTICLES = 64
RETRY_AFTER_S = 1

Outcome = list[Classification] | Exception


async def _still_there() -> bool:
    return False


# Identity, not field equality, and no generated repr: a job holds the model, whose repr alone took
# 18 ms (scikit-learn pretty-prints its estimators), and `deque.remove` compares and reprs.
@dataclass(frozen=True, eq=False, repr=False)
class _Job:
    classifier: ArticleClassifier
    inputs: Sequence[ArticleInput]
    explain: bool
    done: asyncio.Future[list[Classification]]
    client_gone: Callable[[], Awaitable[bool]]
    queued: bool  # it found the worker busy, so its client had time to leave

    def joins(self, first: _Job) -> bool:
        """Only requests for the same model and the same `explain` can share a call."""
        return self.classifier is first.classifier and self.explain == first.explain


class ClassifyQueue:
    """One per worker. The event loop is one thread, so the counts need no lock; the classify thread
    touches only the jobs it was handed."""

    def __init__(self, limit: int, observe_call: Callable[[int], None] | None = None) -> None:
        self.limit = limit
        self._observe_call = observe_call or (lambda articles: None)
        self._waiting: deque[_Job] = deque()
        self._running = 0
        self._drainer: asyncio.Task[None] | None = None
        self._since_trim = 0

    @property
    def held(self) -> int:
        """Requests running or waiting: what PAKREL_MAX_QUEUE limits."""
        return self._running + len(self._waiting)

    async def classify(self, classifier: ArticleClassifier, inputs: Sequence[ArticleInput], explain: bool,
                       client_gone: Callable[[], Awaitable[bool]] = _still_there) -> list[Classification]:
        """The classifications of `inputs`, once the classify thread has run them. `client_gone` is asked
        when the request's turn comes: the server does not cancel a request whose client hung up (a
        timed-out caller, a load balancer retrying elsewhere), and its work would delay the others."""
        if self.held >= self.limit:
            raise ApiError(503, "overloaded",
                           f"this worker already holds {self.held} classify requests (PAKREL_MAX_QUEUE="
                           f"{self.limit}); retry after {RETRY_AFTER_S} s", headers={"Retry-After": str(RETRY_AFTER_S)})
        loop = asyncio.get_running_loop()
        job = _Job(classifier, inputs, explain, loop.create_future(), client_gone, queued=self.held > 0)
        self._waiting.append(job)
        # A drainer of an earlier event loop (an app served again, as tests do) cannot run here.
        if self._drainer is None or self._drainer.done() or self._drainer.get_loop() is not loop:
            self._drainer = loop.create_task(self._drain())
        try:
            return await job.done
        finally:
            if job in self._waiting:  # cancelled before its turn: it leaves no work behind
                self._waiting.remove(job)

    async def _drain(self) -> None:
        while True:
            await self._run_waiting()
            if self._since_trim < TRIM_AFTER_ARTICLES:
                return
            self._since_trim = 0
            await to_thread.run_sync(release_freed_memory)  # then look again: requests may have come meanwhile

    async def _run_waiting(self) -> None:
        while self._waiting:
            taken = self._take()
            self._running = len(taken)
            jobs = [job for job in taken if not await self._abandoned(job)]
            self._running = len(jobs)
            if not jobs:
                continue
            try:
                outcomes = await to_thread.run_sync(_classify_together, jobs)
            finally:
                self._running = 0
            articles = sum(len(job.inputs) for job in jobs)
            self._since_trim += articles
            self._observe_call(articles)
            for job, outcome in zip(jobs, outcomes, strict=True):
                if job.done.done():  # cancelled: its client went away
                    continue
                if isinstance(outcome, Exception):
                    job.done.set_exception(outcome)
                else:
                    job.done.set_result(outcome)

    @staticmethod
    async def _abandoned(job: _Job) -> bool:
        if job.done.done():  # cancelled meanwhile
            return True
        if not job.queued or not await job.client_gone():
            return False
        if not job.done.done():
            job.done.set_exception(ApiError(499, "client_closed_request",
                                            "the client closed the connection before its turn; nothing was classified"))
        return True

    def _take(self) -> list[_Job]:
        """The oldest waiting request and those right behind it that can share its call, in arrival order,
        up to MAX_ARTICLES_PER_CALL articles (a larger batch request runs alone)."""
        jobs: list[_Job] = []
        articles = 0
        while self._waiting:
            job = self._waiting[0]
            if job.done.done():
                self._waiting.popleft()
                continue
            if jobs and (not job.joins(jobs[0]) or articles + len(job.inputs) > MAX_ARTICLES_PER_CALL):
                break
            jobs.append(self._waiting.popleft())
            articles += len(job.inputs)
        return jobs


def _classify_together(jobs: list[_Job]) -> list[Outcome]:
    """One call for all the jobs; if it fails, each job alone, so an article that breaks the model fails
    only the request that sent it."""
    first = jobs[0]
    try:
        results = classify_articles(first.classifier, [item for job in jobs for item in job.inputs], first.explain)
    except Exception as error:
        if len(jobs) == 1:
            return [error]
        return [outcome for job in jobs for outcome in _classify_together([job])]
    outcomes: list[Outcome] = []
    start = 0
    for job in jobs:
        outcomes.append(results[start:start + len(job.inputs)])
        start += len(job.inputs)
    return outcomes
