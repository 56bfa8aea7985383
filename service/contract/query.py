"""Query-string parameters that accept exactly what the OpenAPI document says they accept.

FastAPI's own `bool` takes `0`, `1`, `yes`, `off`... and its `datetime` takes Unix timestamps and bare
dates, none of which the schema (`boolean`, `date-time`) allows; a client generated from the schema
never sends them, and a hand-written one that does gets a 422 naming the one accepted form.
"""

from __future__ import annotations

import re
from calendar import isleap
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema


def _true_or_false(value: Any) -> bool:
    if value is True or value == "true":
        return True
    if value is False or value == "false":
        return False
    raise ValueError("must be true or false")


QueryFlag = Annotated[bool, PlainValidator(_true_or_false), WithJsonSchema({"type": "boolean"})]

# RFC 3339 `date-time`, as the JSON Schema format checker reads it: T and Z in either case, hours
# 00-23, no leap second, a year from 0001, and (Python's `$`) one trailing newline tolerated.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(\.[0-9]+)?"
    r"(?:[Zz]|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))\n?")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_TIMESTAMP_HELP = "must be an RFC 3339 date-time such as 2026-01-31T09:30:00Z"


def _rfc3339_utc(value: Any) -> datetime:
    """The instant as an aware UTC datetime. An instant outside Python's range (0001-01-01T00:30+01:00
    is in year 0 in UTC) is clamped to its first or last representable microsecond, which for a
    `since` filter means the same thing."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(_TIMESTAMP_HELP)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, sign, offset_hours, offset_minutes = match.groups()[6:]
    if year == 0 or not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1] + (
            month == 2 and isleap(year)):
        raise ValueError(f"{_TIMESTAMP_HELP} (no such date: {value[:10]})")
    local = datetime(year, month, day, hour, minute, second, int((fraction or ".0")[1:7].ljust(6, "0")))
    offset = timedelta(hours=int(offset_hours or 0), minutes=int(offset_minutes or 0))
    try:
        utc = local - offset if sign == "+" else local + offset
    except OverflowError:
        utc = datetime.min if sign == "+" else datetime.max
    return utc.replace(tzinfo=UTC)


# Optional only as a parameter's default: when present, the value is a date-time (never `null`).
OptionalTimestamp = Annotated[datetime | None, PlainValidator(_rfc3339_utc),
                              WithJsonSchema({"type": "string", "format": "date-time"})]
