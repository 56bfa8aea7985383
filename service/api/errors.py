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
from service.contract.schemas import FEEDBACK_LEVELS, ErrorResponse

log = logging.getLogger("pakrel.errors")

INVALID_BODY_MESSAGE = ("the request body could not be parsed: send a JSON object encoded as UTF-8 with "
                        "Content-Type: application/json")
_ERROR_DESCRIPTIONS = {
    400: "The body is not UTF-8, or nests too deeply to parse (`invalid_body`).",
    401: "API key missing or wrong (`unauthorized`): send it in X-API-Key.",
    403: "No API key is configured and the client is not on loopback (set PAKREL_API_KEY).",
    413: "Body over PAKREL_MAX_BODY_BYTES, or text, paragraph count or batch over its limit.",
    422: "A field or parameter is missing, of the wrong type, empty or invalid; `fields` names each one.",
    503: "No verified model is loaded yet (`model_not_ready`): retry after Retry-After seconds.",
}


def documented_errors(*statuses: int, because: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of a route for the error statuses it can answer, all in the one format;
    `because` replaces the general description where a route has reasons of its own."""
    reasons = {**_ERROR_DESCRIPTIONS, **(because or {})}
    return {status: {"model": ErrorResponse, "description": reasons[status]} for status in statuses}


def field_name(loc: tuple | list) -> str:
    """('body', 'items', 3, 'text') -> 'items[3].text'; the body itself is called 'body'. The tag pydantic
    puts after 'body' for the feedback union (('body', 'paragraph', 'in_scope')) is no field: dropped."""
    parts = [p for p in loc if p != "body"] if loc and loc[0] == "body" else list(loc[1:] or loc)
    if _union_tag(loc):
        parts = parts[1:]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _union_tag(loc: tuple | list) -> str | None:
    return loc[1] if len(loc) > 2 and loc[0] == "body" and loc[1] in FEEDBACK_LEVELS else None


def _field(error: dict[str, Any]) -> str:
    """A missing or unknown `level` is reported by pydantic at the body: name the discriminator instead."""
    if error.get("type") in ("union_tag_not_found", "union_tag_invalid"):
        return str(error.get("ctx", {}).get("discriminator", "body")).strip("'")
    return field_name(error.get("loc", ()))


def _message(error: dict[str, Any]) -> str:
    kind, msg = error.get("type", ""), str(error.get("msg", "invalid"))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        tag = _union_tag(error.get("loc", ()))
        return f'is not a field of a level "{tag}" correction; remove it' if tag else "is not a known field; remove it"
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        levels = " or ".join(f'"{level}"' for level in FEEDBACK_LEVELS)
        return f"is required: {levels}" if kind == "union_tag_not_found" else f"must be {levels}"
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
        fields = [{"field": _field(e), "message": _message(e)} for e in exc.errors()]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return JSONResponse(error_body("invalid_request", summary, fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}
        message = {400: INVALID_BODY_MESSAGE,
                   404: "no such endpoint; see /docs"}.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(codes.get(exc.status_code, "http_error"), message),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", type(exc).__name__)
        return JSONResponse(error_body("internal_error", "the server failed; the error is logged"), status_code=500)
