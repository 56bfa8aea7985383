"""Size limits on article text, shared by the HTTP routes and the bulk command (same rule, same message)."""

from __future__ import annotations

from service.contract.errors import ApiError
from service.model.paragraphs import split_paragraphs
from service.settings import Settings


def check_limits(text: str, settings: Settings, field: str) -> None:
    if len(text) > settings.max_text_chars:
        raise ApiError(413, "text_too_long",
                       f"{field} is {len(text):,} characters; the limit is {settings.max_text_chars:,} "
                       "(PAKREL_MAX_TEXT_CHARS): split the article into parts",
                       [{"field": field, "message": f"longer than {settings.max_text_chars} characters"}])
    if text.count("\n") >= settings.max_paragraphs:
        count = len(split_paragraphs(text))
        if count > settings.max_paragraphs:
            raise ApiError(413, "too_many_paragraphs",
                           f"{field} has {count:,} paragraphs; the limit is {settings.max_paragraphs:,} "
                           "(PAKREL_MAX_PARAGRAPHS): join short lines or split the article",
                           [{"field": field, "message": f"more than {settings.max_paragraphs} paragraphs"}])
