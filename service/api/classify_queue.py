"""The worker's classify requests: admitted up to PAKREL_MAX_QUEUE, classified on one thread, and
those that waited together classified together.

Classification holds the GIL almost throughout (scikit-learn counts n-grams in pure Python), so a
second classify thread per process adds no throughput, while every classification in flight holds
its own working memory: one thread runs, the others wait here. While it runs, new requests queue;
when it frees up, everything that queued (up to MAX_ARTICLES_PER_CALL articles) goes into one
`classify_articles` call. One article alone costs about 9.9 ms, 32 at once 7.1 ms each (the model's
fixed costs are paid per call), so under load the worker serves more, and at concurrency 1 nothing
waits: no timer holds a request back to gather others. The classify thread has its own limiter,
so feedback writes waiting on a locked store cannot hold classification up.

A request whose client has hung up by its turn is not classified (499 in the logs and metrics).
Beyond the limit a request is refused at once (503, Retry-After) rather than queued for seconds:
the client or the load balancer can send it to a worker with room, and latency stays bounded for
the requests that are taken. A worker left idle after classifying hands freed memory back.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar

from service.api.libc import release_freed_memory
from service.contract.errors import ApiError
from service.model.classifier import ArticleClassifier, ArticleInput, Classification, classify_articles

MAX_ARTICLES_PER_CALL = 32
RETRY_AFTER_S = 1
# A worker idle this long after classifying at least TRIM_AFTER_ARTICLES articles hands the freed
# memory back (queued batch bodies and the calls' matrices leave 20-35 MB behind). Never under load:
# trimmed pages would only be faulted in again by the next call.
IDLE_TRIM_S = 1.0
TRIM_AFTER_ARTICLES = 64

Outcome = list[Classification] | Exception
log = logging.getLogger("pakrel")
_classify_limiter: RunVar[CapacityLimiter] = RunVar("classify_limiter")


async def _still_there() -> bool:
    return False


def _limiter() -> CapacityLimiter:
    """The classify thread's own token, one per event loop (as anyio keeps its default limiter)."""
    limiter = _classify_limiter.get(None)
    if limiter is None:
        limiter = CapacityLimiter(1)
        _classify_limiter.set(limiter)
    return limiter


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
        self._trim_timer: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def held(self) -> int:
        """Requests running or waiting: what PAKREL_MAX_QUEUE limits."""
        return self._running + len(self._waiting)

    async def classify(self, classifier: ArticleClassifier, inputs: Sequence[ArticleInput], explain: bool,
                       client_gone: Callable[[], Awaitable[bool]] = _still_there) -> list[Classification]:
        """The classifications of `inputs`, once the classify thread has run them. `client_gone` is asked
        when the request's turn comes, if it had to wait: the server does not cancel a request whose
        client hung up (a timed-out caller, a load balancer retrying elsewhere), and its work would
        delay the others."""
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
        while self._waiting:
            try:
                await self._run_next()
            except Exception:  # _run_next has answered its requests; the others still get their turn
                log.exception("classify queue: a call failed outside classification")
        self._trim_when_idle()

    async def _run_next(self) -> None:
        """One call for the requests at the head of the queue. Whatever goes wrong, each request it took
        is answered; its own frame holds the call's inputs and results, so they are freed on return."""
        jobs = self._take()
        self._running = len(jobs)
        try:
            jobs = [job for job in jobs if not await self._abandoned(job)]
            self._running = len(jobs)
            if not jobs:
                return
            outcomes = await to_thread.run_sync(_classify_together, jobs, limiter=_limiter())
            for job, outcome in zip(jobs, outcomes, strict=True):
                if job.done.done():  # cancelled: its client went away
                    continue
                if isinstance(outcome, Exception):
                    job.done.set_exception(outcome)
                else:
                    job.done.set_result(outcome)
            articles = sum(len(job.inputs) for job in jobs)
            self._since_trim += articles
            self._observe_call(articles)
        except BaseException as error:
            for job in jobs:
                if job.done.done():
                    continue
                if isinstance(error, Exception):
                    job.done.set_exception(error)
                else:
                    job.done.cancel()
            raise
        finally:
            self._running = 0

    @staticmethod
    async def _abandoned(job: _Job) -> bool:
        if job.done.done():  # cancelled meanwhile
            return True
        if not job.queued:
            return False
        try:
            gone = await job.client_gone()
        except Exception:  # cannot tell: serve it
            log.exception("classify queue: could not ask whether a client is still there")
            return False
        if gone and not job.done.done():
            job.done.set_exception(ApiError(499, "client_closed_request",
                                            "the client closed the connection before its turn; nothing was classified"))
        return job.done.done()  # answered with 499, or cancelled while we asked

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

    def _trim_when_idle(self) -> None:
        """One timer, pushed back each time the queue empties: it fires only after IDLE_TRIM_S without one."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
        if self._since_trim >= TRIM_AFTER_ARTICLES:
            self._trim_timer = asyncio.get_running_loop().call_later(IDLE_TRIM_S, self._trim_if_still_idle)

    def _trim_if_still_idle(self) -> None:
        """A request still running or waiting: the next idle spell trims instead."""
        self._trim_timer = None
        if self.held:
            return
        self._since_trim = 0
        task = asyncio.get_running_loop().create_task(_trim())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def _trim() -> None:
    await to_thread.run_sync(release_freed_memory, limiter=_limiter())


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
