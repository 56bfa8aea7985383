"""API-key checks. The key travels in `X-API-Key` (or `Authorization: Bearer <key>`).

The dependencies are `async def` although they never await: FastAPI runs a plain `def` dependency
in its thread pool, a thread round trip on every request for a check that takes microseconds.
"""

from __future__ import annotations

import secrets

from fastapi import Request

from service.contract.errors import ApiError
from service.settings import Settings


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _check(settings: Settings, request: Request) -> None:
    if settings.api_key is None:
        return
    presented = _presented_key(request)
    expected = settings.api_key.get_secret_value()
    if presented is None or not secrets.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "missing or wrong API key: send it in the X-API-Key header",
                       headers={"WWW-Authenticate": "Bearer"})


async def require_admin_key(request: Request) -> None:
    """Admin and data-reading endpoints: need the key whenever one is configured."""
    _check(request.app.state.settings, request)


async def require_key_if_protect_all(request: Request) -> None:
    """Other /v1 endpoints: need the key only when PAKREL_PROTECT_ALL is on."""
    settings: Settings = request.app.state.settings
    if settings.protect_all:
        _check(settings, request)
