"""GET /: the analyst's page, and the files it loads, served from the package itself.

Plain HTML, CSS and JavaScript in `service/api/static/`, with no build step and nothing fetched from
elsewhere, so the page works on a machine without internet. It talks only to this service's /v1
API; the Content-Security-Policy holds it to that. Assets go out with `no-cache` (revalidated by
ETag) so a deployed upgrade never leaves an old script talking to a new API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from service.contract.errors import ApiError

STATIC_DIR = Path(__file__).resolve().parent / "static"

_SCRIPT = "text/javascript; charset=utf-8"
# The page's ES modules (app.js imports the others) and its stylesheet; nothing else is served.
_MODULES = ("app", "api", "dom", "article", "corrections", "batch", "partners")
_ASSETS = {**{f"{module}.js": _SCRIPT for module in _MODULES},
           "style.css": "text/css; charset=utf-8"}
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
_PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
                "form-action 'none'; base-uri 'none'; frame-ancestors 'none'")

router = APIRouter(tags=["page"], include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={**_HEADERS, "Content-Security-Policy": _PAGE_POLICY})


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
async def asset(name: str) -> FileResponse:
    """Only the page's own files, by exact name: nothing else under the package can be read."""
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise ApiError(404, "not_found", f"no static file '{name}'; the page's files are {', '.join(_ASSETS)}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=_HEADERS)
