"""Outermost ASGI layer: request id, body-size limit, access log and HTTP metrics.

Written as plain ASGI (not BaseHTTPMiddleware) so an oversized body is refused while it streams
in, before it is held in memory whole, and so every response, errors included, is counted and
logged exactly once. Log lines carry ids, routes and timings, never article text or secrets.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from service.api.metrics import Metrics
from service.contract.errors import error_body

log = logging.getLogger("pakrel.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class TooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app: Any, max_body_bytes: int, metrics: Metrics, access_log: bool = True) -> None:
        self.app, self.max_body_bytes, self.metrics, self.access_log = app, max_body_bytes, metrics, access_log

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        supplied = headers.get("x-request-id", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        status_holder = {"status": 500}

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if scope["method"] in _BODY_METHODS:
                receive = await self._bounded_body(headers, receive)
            await self.app(scope, receive, send_with_id)
        except TooLarge:
            await self._refuse_too_large(send_with_id)
        finally:
            self._record(scope, status_holder["status"], started, request_id)

    async def _bounded_body(self, headers: dict[str, str], receive: Any) -> Any:
        """Read the body up to the limit (refusing early on Content-Length), then replay it."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                replay = [message]
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
                break

        async def replaying_receive() -> dict:
            return replay.pop(0) if replay else await receive()

        return replaying_receive

    async def _refuse_too_large(self, send: Any) -> None:
        body = json.dumps(error_body(
            "body_too_large",
            f"request body is over the {self.max_body_bytes}-byte limit (PAKREL_MAX_BODY_BYTES); "
            "send fewer or shorter articles per request")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: dict, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        route_obj = scope.get("route")
        route = getattr(route_obj, "path", None) or "unmatched"
        self.metrics.requests.labels(method=scope["method"], route=route, status=str(status)).inc()
        self.metrics.latency.labels(route=route).observe(elapsed)
        if not (self.access_log and log.isEnabledFor(logging.INFO)):
            return
        state = scope.get("state") or {}
        log.info(json.dumps({"event": "request", "request_id": request_id, "method": scope["method"],
                             "route": route, "status": status, "latency_ms": round(elapsed * 1000, 2),
                             "model_version": state.get("model_version")}))
