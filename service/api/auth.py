"""API keys and the loopback rule. A key travels in `X-API-Key` (or `Authorization: Bearer <key>`).

Closed by default: with no key configured, the endpoints that change the service or read or write
analysts' data (admin, feedback listing, feedback posting) answer only clients on loopback. With
keys configured they need one, and the key's name is who posted a correction.

The dependencies are `async def` although they never await: FastAPI runs a plain `def` dependency
in its thread pool, a thread round trip on every request for a check that takes microseconds.
"""

from __future__ import annotations

import ipaddress
import secrets

from fastapi import Request

from service.contract.errors import ApiError
from service.settings import Settings

LOCAL_CONTRIBUTOR = "local"
NO_KEY_MESSAGE = ("no API key is configured, so this endpoint answers only clients on loopback: set PAKREL_API_KEY "
                  "(or named keys in PAKREL_API_KEYS) on the server and send it in the X-API-Key header")


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and ::ffff:127.x; anything that is not an IP address (no client, a test name) is not."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def key_name(settings: Settings, request: Request) -> str:
    """The name of the key the request presents; 401 when keys are configured and it presents none of them,
    403 when none is configured and the client is not on loopback."""
    keys = settings.named_keys()
    if not keys:
        if is_loopback(request.client.host if request.client else None):
            return LOCAL_CONTRIBUTOR
        raise ApiError(403, "forbidden", NO_KEY_MESSAGE)
    presented = (_presented_key(request) or "").encode()
    # Compare against every key (no early exit) so the time taken does not tell which name nearly matched.
    found = None
    for name, key in keys.items():
        if secrets.compare_digest(presented, key.encode()):
            found = name
    if found is None:
        raise ApiError(401, "unauthorized", "missing or wrong API key: send it in the X-API-Key header",
                       headers={"WWW-Authenticate": "Bearer"})
    return found


async def require_admin_key(request: Request) -> str:
    """Admin endpoints and reading or writing analysts' corrections: a key, or loopback when none is set."""
    name = key_name(request.app.state.settings, request)
    request.state.key_name = name
    return name


async def require_key_if_protect_all(request: Request) -> None:
    """Other /v1 endpoints: need the key only when PAKREL_PROTECT_ALL is on."""
    settings: Settings = request.app.state.settings
    if settings.protect_all and settings.named_keys():
        key_name(settings, request)
