"""The worker's classify queue: requests that wait while the classify thread is busy share its next
call, each still gets exactly its own answer, and one that breaks the model fails alone."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import service.api.classify_queue as classify_queue
from service.api.app import create_app
from service.api.classify_queue import ClassifyQueue
from service.contract.errors import ApiError
from service.model.classifier import ArticleInput
from service.model.lifecycle import load_verified_model
from service.settings import Settings
from tests.conftest import LOOPBACK, ROOT
from tests.live_server import free_port, wait_ready

ARTICLES = [
    "Pakistan and China signed an agreement in Islamabad to extend the railway line to Gwadar.",
    "The foreign office in Islamabad criticised India over the suspension of talks on the river waters.",
    "Saudi Arabia deposited three billion dollars with the State Bank of Pakistan to support its reserves.",
    "The local football league in Lahore ended with a penalty shoot-out on Sunday evening.",
]
BROKEN = "This article breaks the model."


class HeldCalls:
    """classify_articles, recording the size of every call; the first call waits until released, so the
    requests sent meanwhile queue behind it."""

    def __init__(self, real: Callable) -> None:
        self.real, self.sizes = real, []
        self.first_started, self.release = threading.Event(), threading.Event()

    def __call__(self, classifier, inputs, explain=False):
        self.sizes.append(len(inputs))
        if len(self.sizes) == 1:
            self.first_started.set()
            assert self.release.wait(30)
        if any(item.text == BROKEN for item in inputs):
            raise RuntimeError("the model cannot read this article")
        return self.real(classifier, inputs, explain)


@contextmanager
def held_client(tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient,
                                                                                                   HeldCalls]]:
    calls = HeldCalls(classify_queue.classify_articles)
    monkeypatch.setattr(classify_queue, "classify_articles", calls)
    settings = Settings(model_dir=model_dir, feedback_dir=tmp_path / "fb")
    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False) as client:
        yield client, calls


def _queue_behind_a_held_call(client: TestClient, calls: HeldCalls,
                              requests: list[tuple[str, dict]]) -> list:
    """Send one request that holds the classify thread, then `requests` (path, body) while it is held;
    release it once all of them wait in the queue. The responses of `requests`, in order."""
    responses: list = [None] * len(requests)
    first = threading.Thread(target=client.post, args=("/v1/classify",), kwargs={"json": {"text": ARTICLES[0]}})
    first.start()
    assert calls.first_started.wait(30)

    def send(index: int, path: str, body: dict) -> None:
        responses[index] = client.post(path, json=body)

    queue = client.app.state.classify_queue
    threads = []
    for index, (path, body) in enumerate(requests):  # one at a time, so they queue in this order
        threads.append(threading.Thread(target=send, args=(index, path, body)))
        threads[-1].start()
        _wait_until(lambda held=2 + index: queue.held == held)
    calls.release.set()
    for thread in [first, *threads]:
        thread.join(30)
    return responses


def _wait_until(condition: Callable[[], bool]) -> None:
    pause = threading.Event()
    for _ in range(3000):
        if condition():
            return
        pause.wait(0.01)
    assert condition()


def test_requests_that_wait_together_share_one_call_and_each_gets_its_own_answer(
        tmp_path: Path, model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with held_client(tmp_path, model_dir_copy, monkeypatch) as (client, calls):
        waiting = [("/v1/classify", {"text": text, "id": f"a{i}"}) for i, text in enumerate(ARTICLES[1:])]
        waiting.append(("/v1/classify/batch", {"items": [{"text": ARTICLES[0], "id": "b0"},
                                                         {"text": ARTICLES[3], "id": "b1"}]}))
        responses = _queue_behind_a_held_call(client, calls, waiting)
        shared_sizes = list(calls.sizes)
        alone = [client.post(path, json=body) for path, body in waiting]
        metrics = client.get("/metrics").text
    assert shared_sizes == [1, 5]  # the held call, then the three singles and the batch of two together
    assert [r.status_code for r in responses] == [200] * 4
    assert [r.json() for r in responses] == [r.json() for r in alone]
    assert [r.json()["id"] for r in responses[:3]] == ["a0", "a1", "a2"]
    assert [item["id"] for item in responses[3].json()["results"]] == ["b0", "b1"]
    count = re.search(r"^pakrel_classify_call_articles_count (\S+)$", metrics, re.MULTILINE)
    total = re.search(r"^pakrel_classify_call_articles_sum (\S+)$", metrics, re.MULTILINE)
    # 2 shared calls (1 + 5 articles), then the 4 requests again one by one (1 + 1 + 1 + 2 articles).
    assert (float(count.group(1)), float(total.group(1))) == (6.0, 11.0)


def test_an_article_that_breaks_the_model_fails_only_its_own_request(
        tmp_path: Path, model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with held_client(tmp_path, model_dir_copy, monkeypatch) as (client, calls):
        waiting = [("/v1/classify", {"text": ARTICLES[1]}), ("/v1/classify", {"text": BROKEN}),
                   ("/v1/classify", {"text": ARTICLES[2]})]
        responses = _queue_behind_a_held_call(client, calls, waiting)
        sizes = list(calls.sizes)
        alone = [client.post("/v1/classify", json={"text": text}).json() for text in (ARTICLES[1], ARTICLES[2])]
    # The shared call of three fails, then each of the three runs alone.
    assert sizes == [1, 3, 1, 1, 1]
    assert [r.status_code for r in responses] == [200, 500, 200]
    assert responses[1].json() == {"error": "internal_error", "message": "the server failed; the error is logged"}
    assert [responses[0].json(), responses[2].json()] == alone


def test_explained_and_plain_requests_do_not_share_a_call(
        tmp_path: Path, model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with held_client(tmp_path, model_dir_copy, monkeypatch) as (client, calls):
        waiting = [("/v1/classify", {"text": ARTICLES[1]}), ("/v1/classify?explain=true", {"text": ARTICLES[2]}),
                   ("/v1/classify", {"text": ARTICLES[3]})]
        responses = _queue_behind_a_held_call(client, calls, waiting)
    assert calls.sizes == [1, 1, 1, 1]  # arrival order is kept: plain, explained, plain
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["explanation"] is not None for r in responses] == [False, True, False]


def test_requests_whose_client_left_before_their_turn_are_not_classified(
        model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = HeldCalls(classify_queue.classify_articles)
    monkeypatch.setattr(classify_queue, "classify_articles", calls)
    classifier = load_verified_model(model_dir_copy).classifier
    inputs = [ArticleInput(text) for text in ARTICLES]

    async def gone() -> bool:
        return True

    async def scenario() -> tuple[list, int, int]:
        queue = ClassifyQueue(limit=10)
        first = asyncio.create_task(queue.classify(classifier, inputs[:1], False))
        await asyncio.to_thread(calls.first_started.wait, 30)
        hung_up = asyncio.create_task(queue.classify(classifier, inputs[1:2], False, client_gone=gone))
        cancelled = asyncio.create_task(queue.classify(classifier, inputs[2:3], False))
        kept = asyncio.create_task(queue.classify(classifier, inputs[3:4], False))
        await asyncio.sleep(0.05)
        held_before = queue.held
        cancelled.cancel()
        await asyncio.sleep(0)
        held_after = queue.held
        calls.release.set()
        outcomes = await asyncio.gather(first, hung_up, cancelled, kept, return_exceptions=True)
        return outcomes, held_before, held_after

    outcomes, held_before, held_after = asyncio.run(scenario())
    assert (held_before, held_after) == (4, 3)
    assert calls.sizes == [1, 1]  # the held call, then only the request still wanted
    refused = outcomes[1]
    assert isinstance(refused, ApiError)
    assert (refused.status, refused.error, refused.message) == (
        499, "client_closed_request", "the client closed the connection before its turn; nothing was classified")
    assert isinstance(outcomes[2], asyncio.CancelledError)
    assert outcomes[3] == calls.real(classifier, inputs[3:4])


def _queued_scenario(model_dir: Path, monkeypatch: pytest.MonkeyPatch, sizes: list[int],
                     **job_options: object) -> tuple[HeldCalls, list]:
    """A held call of one article, then jobs of `sizes` articles queued behind it (in this order), then
    release. The calls' sizes and each job's outcome."""
    calls = HeldCalls(classify_queue.classify_articles)
    monkeypatch.setattr(classify_queue, "classify_articles", calls)
    classifier = load_verified_model(model_dir).classifier
    articles = [ArticleInput(ARTICLES[i % len(ARTICLES)]) for i in range(max(sizes))]

    async def scenario() -> list:
        queue = ClassifyQueue(limit=100)
        first = asyncio.create_task(queue.classify(classifier, articles[:1], False))
        await asyncio.to_thread(calls.first_started.wait, 30)
        jobs = []
        for size in sizes:
            jobs.append(asyncio.create_task(queue.classify(classifier, articles[:size], False, **job_options)))
            await asyncio.sleep(0)
        calls.release.set()
        return await asyncio.gather(first, *jobs, return_exceptions=True)

    return calls, asyncio.run(scenario())


def test_a_call_takes_at_most_32_articles_and_a_larger_batch_runs_alone(
        model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls, outcomes = _queued_scenario(model_dir_copy, monkeypatch, [1, 1, 31, 40, 1])
    assert calls.sizes == [1, 2, 31, 40, 1]
    assert [len(outcome) for outcome in outcomes] == [1, 1, 1, 31, 40, 1]


def test_a_client_check_that_fails_serves_the_request(model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken() -> bool:
        raise RuntimeError("the connection state cannot be read")

    calls, outcomes = _queued_scenario(model_dir_copy, monkeypatch, [1, 1], client_gone=broken)
    assert calls.sizes == [1, 2]
    assert [len(outcome) for outcome in outcomes] == [1, 1, 1]


def test_a_request_that_found_the_worker_idle_is_not_asked_about_its_client(
        model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = load_verified_model(model_dir_copy).classifier
    asked: list[str] = []

    async def gone() -> bool:
        asked.append("asked")
        return True

    async def scenario() -> list:
        queue = ClassifyQueue(limit=10)
        return await queue.classify(classifier, [ArticleInput(ARTICLES[0])], False, client_gone=gone)

    assert len(asyncio.run(scenario())) == 1 and asked == []


def test_one_queue_serves_one_event_loop_after_another(model_dir_copy: Path) -> None:
    classifier = load_verified_model(model_dir_copy).classifier
    queue = ClassifyQueue(limit=10)

    async def once() -> list:
        return await queue.classify(classifier, [ArticleInput(ARTICLES[1])], False)

    first, second = asyncio.run(once()), asyncio.run(once())
    assert first == second and len(first) == 1 and queue.held == 0


def test_an_idle_worker_hands_memory_back_once_after_enough_articles(
        model_dir_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[str] = []
    monkeypatch.setattr(classify_queue, "release_freed_memory", lambda: trims.append("trim"))
    monkeypatch.setattr(classify_queue, "IDLE_TRIM_S", 0.05)
    classifier = load_verified_model(model_dir_copy).classifier
    batch = [ArticleInput(ARTICLES[i % len(ARTICLES)]) for i in range(32)]

    async def scenario() -> list[list[str]]:
        queue = ClassifyQueue(limit=10)
        seen = []
        await queue.classify(classifier, batch, False)  # 32 articles: not yet enough
        await asyncio.sleep(0.2)
        seen.append(list(trims))
        await queue.classify(classifier, batch, False)  # 64: trimmed once the worker has been idle a while
        seen.append(list(trims))
        await asyncio.sleep(0.2)
        seen.append(list(trims))
        await asyncio.sleep(0.2)
        seen.append(list(trims))
        return seen

    assert asyncio.run(scenario()) == [[], [], ["trim"], ["trim"]]


@pytest.mark.slow
def test_a_real_server_drops_a_request_whose_client_hung_up_while_it_waited(
        model_dir_copy: Path, tmp_path: Path) -> None:
    """Through uvicorn: the disconnect reaches the queue by Starlette's `is_disconnected`, and the access
    metrics count a 499 instead of a classification nobody reads."""
    port = free_port()
    env = {**os.environ, "PAKREL_MODEL_DIR": str(model_dir_copy), "PAKREL_FEEDBACK_DIR": str(tmp_path / "fb"),
           "PAKREL_WORKERS": "1", "PAKREL_ACCESS_LOG": "false"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "server.log"
    long_text = "\n\n".join(ARTICLES * 40)  # a long article, so the batches below keep the worker busy a while
    batch = {"items": [{"text": long_text} for _ in range(64)]}
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "service.api.serve", "--port", str(port)], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, log)
        statuses: list[int] = []
        busy = [threading.Thread(target=lambda: statuses.append(
            httpx.post(f"{base}/v1/classify/batch", json=batch, timeout=120).status_code)) for _ in range(3)]
        for thread in busy:
            thread.start()
        time.sleep(0.5)  # the batches are queued or running
        body = json.dumps({"text": ARTICLES[1]}).encode()
        with socket.create_connection(("127.0.0.1", port)) as hung_up:  # sends, then closes without reading
            hung_up.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        for thread in busy:
            thread.join(120)
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert statuses == [200, 200, 200]
    counted = re.findall(r'^pakrel_http_requests_total\{method="POST",route="/v1/classify",status="(\d+)"\} (\S+)$',
                         metrics, re.MULTILINE)
    assert counted == [("499", "1.0")]
