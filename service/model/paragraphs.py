"""Splits a submitted article into paragraphs, keeping character offsets into the original text.

Offsets let a client (or the analyst's page) highlight the exact evidence in what it sent. The
same splitter is used by the service, the bulk command and the evaluation, so a paragraph means
the same thing everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A blank line (possibly holding spaces) separates paragraphs, as in every news page we scrape.
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_SINGLE_NEWLINE = re.compile(r"\n")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def split_paragraphs(text: str) -> list[Span]:
    """Paragraph spans of `text`, stripped of surrounding whitespace, never empty.

    Text with blank lines is split on them; text without any blank line but with line breaks
    (copied from a PDF or a wire feed) is split on each line; otherwise it is one paragraph.
    """
    separator = _BLANK_LINE if _BLANK_LINE.search(text) else _SINGLE_NEWLINE
    spans: list[Span] = []
    start = 0
    for match in separator.finditer(text):
        _append_stripped(text, start, match.start(), spans)
        start = match.end()
    _append_stripped(text, start, len(text), spans)
    return spans


def _append_stripped(text: str, start: int, end: int, spans: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append(Span(start, end))
