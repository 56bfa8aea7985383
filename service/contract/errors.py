"""One error format for every 4xx/5xx: {"error": code, "message": fix, "fields": [...]}.

It lives in the contract because the bulk command writes the same errors to its errors file as
the API returns, with the same codes and messages.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, fields: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.fields, self.headers = status, error, message, fields, headers


def error_body(error: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "message": message}
    if fields is not None:
        body["fields"] = fields
    return body
