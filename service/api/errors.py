"""The FastAPI handlers that turn every failure into the one error format of `service.contract.errors`.

FastAPI's own validation errors are reshaped so each names the field (`text`, `items[3].text`)
and says what to send instead.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.contract.errors import ApiError, error_body

log = logging.getLogger("pakrel.errors")


def field_name(loc: tuple | list) -> str:
    """('body', 'items', 3, 'text') -> 'items[3].text'; the body itself is called 'body'."""
    parts = [p for p in loc if p != "body"] if loc and loc[0] == "body" else list(loc[1:] or loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _message(error: dict[str, Any]) -> str:
    kind, msg = error.get("type", ""), str(error.get("msg", "invalid"))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field; remove it"
    if kind == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', msg)}); send UTF-8 encoded JSON"
    if kind == "model_attributes_type" or kind == "dict_type":
        return "must be a JSON object"
    return msg.removeprefix("Value error, ")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.error, exc.message, exc.fields), status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": field_name(e.get("loc", ())), "message": _message(e)} for e in exc.errors()]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return JSONResponse(error_body("invalid_request", summary, fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}
        message = {400: "the request body could not be parsed: send a JSON object encoded as UTF-8 with "
                        "Content-Type: application/json",
                   404: "no such endpoint; see /docs"}.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(codes.get(exc.status_code, "http_error"), message),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", type(exc).__name__)
        return JSONResponse(error_body("internal_error", "the server failed; the error is logged"), status_code=500)
