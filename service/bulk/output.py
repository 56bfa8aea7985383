"""Writes `pakrel-bulk` output so that an interruption never leaves a broken file, and reads it back.

JSONL: each chunk's lines go out in one write and are flushed, so the file is always whole lines
but for, at worst, a half last line from a kill mid-write, which `completed` cuts off before the
next run appends. Parquet: each chunk becomes its own part file in the output folder, written
under a temporary name and renamed, so no reader ever sees half a part. Either way a rerun learns
which ids are done from the output itself; there is no separate state file to get out of step.
"""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from service.bulk.archive import BadRecord, BulkError
from service.contract.schemas import ClassifyResponse

JSONL = "jsonl"
PARQUET = "parquet"
FORMATS = (JSONL, PARQUET)
_PART_GLOB = "part-*.parquet"


@dataclass
class Completed:
    ids: set[str] = field(default_factory=set)
    model_versions: set[str] = field(default_factory=set)


def completed(out: Path, fmt: str) -> Completed:
    """What an earlier run already wrote to `out`, after making the output whole again."""
    if not out.exists():
        return Completed()
    return _parquet_completed(out) if fmt == PARQUET else _jsonl_completed(out)


def _jsonl_completed(out: Path) -> Completed:
    if out.is_dir():
        raise BulkError(f"{out} is a folder: JSONL output is one file (a folder is for --format parquet)")
    done = Completed()
    with open(out, "r+b") as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                handle.truncate(offset)  # a half line from a killed run: its chunk is labelled again
                break
            offset += len(raw)
            try:
                body = json.loads(raw)
                done.ids.add(body["id"])
                done.model_versions.add(body["model_version"])
            except (ValueError, TypeError, KeyError) as exc:
                raise BulkError(f"{out} line {number} is not a pakrel-bulk label line: choose another --out "
                                "or delete the file") from exc
    return done


def _parquet_completed(out: Path) -> Completed:
    if not out.is_dir():
        raise BulkError(f"{out} is a file: Parquet output is a folder of part files; choose another --out")
    _, parquet = _pyarrow()
    for leftover in out.glob("*.tmp"):
        leftover.unlink()
    done = Completed()
    for part in sorted(out.glob(_PART_GLOB)):
        table = parquet.read_table(part, columns=["id", "model_version"])
        done.ids.update(table.column("id").to_pylist())
        done.model_versions.update(table.column("model_version").to_pylist())
    return done


def read_records(out: Path, columns: list[str]) -> Iterator[dict[str, Any]]:
    """The label records of an output, JSONL file or Parquet folder (told apart by what `out` is),
    holding only `columns`; a half last line left by a killed run is not a record yet."""
    if not out.exists():
        raise BulkError(f"{out} does not exist: give the --out of a pakrel-bulk classify run")
    if out.is_dir():
        arrow, parquet = _pyarrow()
        for part in sorted(out.glob(_PART_GLOB)):
            try:
                table = parquet.read_table(part, columns=columns)
            except (arrow.ArrowException, OSError) as exc:
                raise BulkError(f"{part} is not a pakrel-bulk part file with {', '.join(columns)} ({exc})") from exc
            yield from table.to_pylist(maps_as_pydicts="strict")
        return
    with open(out, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break
            try:
                body = json.loads(raw)
                yield {name: body[name] for name in columns}
            except (ValueError, TypeError, KeyError) as exc:
                raise BulkError(f"{out} line {number} is not a pakrel-bulk label line with "
                                f"{', '.join(columns)}") from exc


class JsonlSink:
    def __init__(self, out: Path) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(out, "ab")  # noqa: SIM115 - held open for the whole run, closed by close()

    def write(self, lines: list[str]) -> None:
        if lines:
            self._handle.write(("\n".join(lines) + "\n").encode("utf-8"))
            self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class ParquetSink:
    """One part file per chunk, named in input order (part-000001.parquet, ...)."""

    def __init__(self, out: Path) -> None:
        self._arrow, self._parquet = _pyarrow()
        out.mkdir(parents=True, exist_ok=True)
        self._out = out
        self._schema = arrow_schema(ClassifyResponse)
        self._next = 1 + max((int(p.stem.removeprefix("part-")) for p in out.glob(_PART_GLOB)), default=0)

    def write(self, lines: list[str]) -> None:
        if not lines:
            return
        table = self._arrow.Table.from_pylist([json.loads(line) for line in lines], schema=self._schema)
        path = self._out / f"part-{self._next:06d}.parquet"
        temporary = path.with_name(path.name + ".tmp")
        self._parquet.write_table(table, temporary)
        os.replace(temporary, path)
        self._next += 1

    def close(self) -> None:
        """Nothing is held open between chunks."""


class ErrorsSink:
    """The bad records of this run. Rewritten by every run: a rerun reads the whole archive
    again, so it finds every bad record again, including those an earlier run found."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "wb")  # noqa: SIM115 - held open for the whole run, closed by close()

    def write(self, records: list[BadRecord]) -> None:
        if records:
            self._handle.write("".join(r.json_line() + "\n" for r in records).encode("utf-8"))
            self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def open_sink(out: Path, fmt: str) -> JsonlSink | ParquetSink:
    return ParquetSink(out) if fmt == PARQUET else JsonlSink(out)


def arrow_schema(model: type[BaseModel]) -> Any:
    """The Arrow schema of a response model, derived from its fields so the Parquet columns
    follow `service/contract/schemas.py` instead of restating it (dicts keyed by label become maps)."""
    arrow, _ = _pyarrow()
    return arrow.schema([arrow.field(name, _arrow_type(info.annotation, arrow))
                         for name, info in model.model_fields.items()])


def _arrow_type(annotation: Any, arrow: Any) -> Any:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return _arrow_type(inner, arrow)
    if origin is list:
        return arrow.list_(_arrow_type(args[0], arrow))
    if origin is dict:
        return arrow.map_(arrow.string(), _arrow_type(args[1], arrow))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return arrow.struct([arrow.field(name, _arrow_type(info.annotation, arrow))
                             for name, info in annotation.model_fields.items()])
    return {str: arrow.string(), float: arrow.float64(), int: arrow.int64(), bool: arrow.bool_()}[annotation]


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise BulkError("--format parquet needs pyarrow: pip install 'pakrel-classifier[parquet]'") from exc
    return pyarrow, pyarrow.parquet
