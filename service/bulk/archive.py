"""Reads archives for `pakrel-bulk` a bounded piece at a time.

An archive (JSONL, CSV, or a folder of `.txt` files) is first scanned for record boundaries and
cut into partitions: byte ranges, or lists of file names, that any process able to see the path
reads on its own. So the local process pool and Dask workers each read their share, and the
scan and the reads walk the bytes with the same code, so both agree on every record and line
number. Records are checked with the API's own request model and limits; a record that fails
becomes a `BadRecord` naming its line, never an exception that stops the run.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from service.contract.errors import ApiError
from service.contract.limits import check_limits
from service.contract.schemas import ArticleRequest
from service.settings import Settings

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
# A JSON line escapes a character in at most 12 bytes (a surrogate pair as two \\uXXXX), so no
# record within the limits needs more; longer lines are refused unread, which bounds memory.
_JSON_BYTES_PER_CHAR = 12
_LINE_CAP_FLOOR = 64 << 20
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_CSV_COLUMNS = ("id", "text", "title")


class BulkError(Exception):
    """A problem with the run itself (not with one record), worded with its fix."""


@dataclass(frozen=True)
class Article:
    source: str
    line: int | None
    id: str
    text: str
    title: str


@dataclass(frozen=True)
class BadRecord:
    source: str
    line: int | None
    id: str | None
    error: str
    reason: str

    def json_line(self) -> str:
        return json.dumps(asdict(self))


@dataclass(frozen=True)
class Partition:
    """A share of the archive that one worker reads alone: bytes [start, stop) of a JSONL or
    CSV file (CSV partitions carry the header), or some file names of a folder."""

    path: str
    kind: str
    records: int
    start: int = 0
    stop: int = 0
    first_line: int = 1
    header: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    partitions: list[Partition]
    records: int


def archive_kind(path: Path) -> str:
    if path.is_dir():
        return "txt"
    if not path.is_file():
        raise BulkError(f"{path} does not exist: pass a .jsonl or .csv file or a folder of .txt files")
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix.lower() in JSONL_SUFFIXES:
        return "jsonl"
    raise BulkError(f"cannot tell the format of {path}: name it .jsonl or .csv, or pass a folder of .txt files")


def line_cap(settings: Settings) -> int:
    return max(_LINE_CAP_FLOOR, (settings.max_text_chars + 1024) * _JSON_BYTES_PER_CHAR)


def plan_partitions(path: Path, chunk_size: int, settings: Settings) -> Plan:
    """Cut the archive into partitions of `chunk_size` records with one streaming pass."""
    kind = archive_kind(path)
    path = path.resolve()
    if kind == "txt":
        names = sorted(e.name for e in os.scandir(path) if e.name.endswith(".txt") and e.is_file())
        partitions = [Partition(str(path), kind, len(chunk), names=tuple(chunk))
                      for chunk in (names[i:i + chunk_size] for i in range(0, len(names), chunk_size))]
        return Plan(partitions, len(names))
    with open(path, "rb") as handle:
        header: tuple[str, ...] = ()
        if kind == "jsonl":
            start, first_line = 0, 1
            ends = ((offset, number + 1) for number, offset, raw in _lines(handle, None, line_cap(settings))
                    if raw is None or raw.strip())
        else:
            _allow_long_csv_fields(settings)
            header, start, first_line, rows = _csv_header(handle, path)
            ends = ((offset, next_line) for _, offset, next_line, _ in rows)
        partitions: list[Partition] = []
        count = total = 0
        for offset, next_line in ends:
            count, total = count + 1, total + 1
            if count == chunk_size:
                partitions.append(Partition(str(path), kind, count, start, offset, first_line, header))
                start, first_line, count = offset, next_line, 0
        if count:
            partitions.append(Partition(str(path), kind, count, start, os.path.getsize(path), first_line, header))
    return Plan(partitions, total)


def read_partition(partition: Partition, settings: Settings) -> Iterator[Article | BadRecord]:
    if partition.kind == "txt":
        yield from _txt_records(partition, settings)
        return
    with open(partition.path, "rb") as handle:
        handle.seek(partition.start)
        if partition.kind == "jsonl":
            for number, _, raw in _lines(handle, partition.stop, line_cap(settings), partition.first_line):
                if raw is None or raw.strip():
                    yield _jsonl_record(partition.path, number, raw, settings, at_file_start=number == 1)
        else:
            _allow_long_csv_fields(settings)
            for number, _, _, row in _csv_rows(handle, partition.stop, partition.first_line):
                yield _csv_record(partition, number, row, settings)


def validate_record(fields: dict[str, Any], source: str, line: int | None, settings: Settings) -> Article | BadRecord:
    """The API's checks on one record: its request model (types, blank text, NUL, invalid
    Unicode, id and title length), then its text limits; `id` is required here."""
    raw_id = fields.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    known_id = raw_id if isinstance(raw_id, str) else None
    if raw_id is None or raw_id == "":
        return BadRecord(source, line, None, "missing_id", "no `id`: every record needs one, to name its label line")
    if fields.get("text") is None:
        return BadRecord(source, line, known_id, "missing_text", "no `text`: every record needs the article body")
    try:
        request = ArticleRequest.model_validate({"id": raw_id, "text": fields["text"], "title": fields.get("title")})
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return BadRecord(source, line, known_id, "invalid_field", reason)
    try:
        check_limits(request.text, settings, "text")
    except ApiError as exc:
        return BadRecord(source, line, known_id, exc.error, exc.message)
    return Article(source, line, raw_id, request.text, request.title or "")


def _lines(handle: IO[bytes], stop: int | None, cap: int,
           first_line: int = 1) -> Iterator[tuple[int, int, bytes | None]]:
    """(line number, offset just past the line, line); the line is None when it is longer
    than `cap` bytes, and its rest is skipped without being held in memory."""
    offset = handle.tell()
    number = first_line
    while stop is None or offset < stop:
        raw: bytes | None = handle.readline(cap + 1)
        if not raw:
            return
        offset += len(raw)
        if len(raw) > cap and not raw.endswith(b"\n"):
            raw = None
            offset = _skip_rest_of_line(handle, offset)
        yield number, offset, raw
        number += 1


def _skip_rest_of_line(handle: IO[bytes], offset: int) -> int:
    while True:
        rest = handle.readline(1 << 20)
        offset += len(rest)
        if not rest or rest.endswith(b"\n"):
            return offset


def _jsonl_record(source: str, number: int, raw: bytes | None, settings: Settings,
                  at_file_start: bool) -> Article | BadRecord:
    if raw is None:
        return BadRecord(source, number, None, "record_too_long",
                         f"the line is longer than {line_cap(settings):,} bytes, more than any article within "
                         f"the text limit ({settings.max_text_chars:,} characters, PAKREL_MAX_TEXT_CHARS) needs")
    if at_file_start:
        raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadRecord(source, number, None, "invalid_utf8",
                         f"byte {exc.start} of the line is not valid UTF-8 ({exc.reason}): "
                         "re-encode the archive as UTF-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return BadRecord(source, number, None, "malformed_json",
                         f"not valid JSON ({exc.msg} at column {exc.colno}): each line must be one JSON object")
    if not isinstance(value, dict):
        return BadRecord(source, number, None, "malformed_json",
                         f"a JSON {type(value).__name__} where an object with `id` and `text` was expected")
    return validate_record(value, source, number, settings)


class _LineFeed:
    """Decoded lines for `csv.reader`, counting lines and bytes so records keep their place.

    Bytes that are not UTF-8 survive as surrogate escapes, so the record holding them is
    reported (as invalid UTF-8) instead of failing the whole file.
    """

    def __init__(self, handle: IO[bytes], stop: int | None, first_line: int) -> None:
        self._handle, self._stop = handle, stop
        self.offset, self.lines_read, self._first_line = handle.tell(), 0, first_line

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self._stop is not None and self.offset >= self._stop:
            raise StopIteration
        raw = self._handle.readline()
        if not raw:
            raise StopIteration
        self.offset += len(raw)
        self.lines_read += 1
        return raw.decode("utf-8", "surrogateescape")

    @property
    def next_line(self) -> int:
        return self._first_line + self.lines_read


def _csv_rows(handle: IO[bytes], stop: int | None,
              first_line: int) -> Iterator[tuple[int, int, int, list[str] | csv.Error]]:
    """(first line of the record, offset and line number just past it, cells or the parse error);
    blank rows are skipped."""
    feed = _LineFeed(handle, stop, first_line)
    reader = csv.reader(feed)
    while True:
        number = feed.next_line
        try:
            row: list[str] | csv.Error = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row = exc
        if row != []:
            yield number, feed.offset, feed.next_line, row


def _allow_long_csv_fields(settings: Settings) -> None:
    """csv refuses fields over 131,072 characters by default (a process-wide setting): lift that to
    the line cap, so a text over the API limit is reported as such rather than as broken CSV."""
    csv.field_size_limit(line_cap(settings))


def _csv_header(handle: IO[bytes], path: Path) -> tuple[tuple[str, ...], int, int, Iterator[tuple[int, int, int, Any]]]:
    """The column names, where the records after them start (byte, line), and those records."""
    rows = _csv_rows(handle, None, 1)
    first = next(rows, None)
    if first is None or isinstance(first[3], csv.Error):
        raise BulkError(f"{path} has no readable header row: the first row must name the columns id,text[,title]")
    header = tuple(cell.strip().removeprefix("\ufeff") for cell in first[3])
    missing = [c for c in ("id", "text") if c not in header]
    if missing:
        raise BulkError(f"{path} has no {' or '.join(missing)} column (its columns: {', '.join(header)}): "
                        "the header row must name id and text, and may name title")
    return header, first[1], first[2], rows


def _csv_record(partition: Partition, number: int, row: list[str] | csv.Error,
                settings: Settings) -> Article | BadRecord:
    if isinstance(row, csv.Error):
        return BadRecord(partition.path, number, None, "malformed_csv", f"not valid CSV: {row}")
    cells = dict(zip(partition.header, row, strict=False))
    known_id = cells.get("id") or None
    if len(row) != len(partition.header):
        return BadRecord(partition.path, number, known_id, "malformed_csv",
                         f"the row has {len(row)} cells, the header has {len(partition.header)} columns")
    for column in _CSV_COLUMNS:
        if column in cells and _UNDECODABLE.search(cells[column]):
            return BadRecord(partition.path, number, None if column == "id" else known_id, "invalid_utf8",
                             f"column `{column}` holds bytes that are not valid UTF-8: re-encode the archive as UTF-8")
    return validate_record({c: cells.get(c) or None for c in _CSV_COLUMNS}, partition.path, number, settings)


def _txt_records(partition: Partition, settings: Settings) -> Iterator[Article | BadRecord]:
    cap = line_cap(settings)
    for name in partition.names:
        path = Path(partition.path) / name
        source, article_id = str(path), name.removesuffix(".txt")
        try:
            if path.stat().st_size > cap:
                yield BadRecord(source, None, article_id, "record_too_long",
                                f"the file is larger than {cap:,} bytes, more than any article within the text "
                                f"limit ({settings.max_text_chars:,} characters, PAKREL_MAX_TEXT_CHARS) needs")
                continue
            text = path.read_bytes().removeprefix(codecs.BOM_UTF8).decode("utf-8")
        except OSError as exc:
            yield BadRecord(source, None, article_id, "unreadable", f"cannot read the file: {exc}")
            continue
        except UnicodeDecodeError as exc:
            yield BadRecord(source, None, article_id, "invalid_utf8",
                            f"byte {exc.start} of the file is not valid UTF-8 ({exc.reason}): re-encode it as UTF-8")
            continue
        yield validate_record({"id": article_id, "text": text}, source, None, settings)
