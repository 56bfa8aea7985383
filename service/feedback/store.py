"""Analysts' corrections: one interface, two backends chosen by where the store lives.

- A folder (the default, `PAKREL_FEEDBACK_DIR`): SQLite in WAL mode with synchronous=FULL, for
  one machine. Several worker processes can write at once (SQLite serialises writers with a file
  lock) and a process killed mid-write leaves the last committed state intact.
- A `postgresql://` URL (`PAKREL_FEEDBACK_URL`): PostgreSQL through psycopg 3 and its connection
  pool (`service.feedback.postgres`), shared by every replica behind a load balancer.

Both give the same guarantees: a record is acknowledged only after its transaction committed
(and was flushed to disk), and `client_id` is unique in the database itself, so a client retrying
after a lost response never stores a correction twice, whatever process or replica it reaches.
Training reads through `read_feedback`, with a folder or a URL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

DB_FILE = "feedback.sqlite3"
_BUSY_TIMEOUT_S = 30.0
# The columns in the order of FeedbackRecord; `id` is assigned by the database.
COLUMNS = ("id", "client_id", "created", "level", "text", "title", "topics", "stance", "in_scope", "paragraphs",
           "note", "annotator", "model_version", "contributor")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id     TEXT UNIQUE,
    created       TEXT NOT NULL,
    level         TEXT NOT NULL CHECK (level IN ('article', 'paragraph')),
    text          TEXT NOT NULL,
    title         TEXT,
    topics        TEXT,
    stance        TEXT,
    in_scope      INTEGER,
    paragraphs    TEXT,
    note          TEXT,
    annotator     TEXT,
    model_version TEXT,
    contributor   TEXT
)
"""


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    client_id: str | None
    created: str
    level: str
    text: str
    title: str | None
    topics: list[str] | None
    stance: str | None
    in_scope: bool | None
    paragraphs: list[dict[str, Any]] | None
    note: str | None
    annotator: str | None
    model_version: str | None
    contributor: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FeedbackUnavailable(Exception):
    """The store cannot be reached (its database is down); worded for the operator."""


class FeedbackStore(Protocol):
    def add(self, fields: dict[str, Any]) -> tuple[FeedbackRecord, bool]: ...
    def read(self, since: str | None = None, limit: int | None = None) -> list[FeedbackRecord]: ...
    def contributors(self) -> dict[str | None, int]: ...
    def drop_contributor(self, name: str) -> int: ...
    def close(self) -> None: ...


def is_url(location: Path | str) -> bool:
    return isinstance(location, str) and location.split("://", 1)[0] in ("postgresql", "postgres")


def open_store(location: Path | str, pooled: bool = False) -> FeedbackStore:
    """The store at `location`: a PostgreSQL URL or an SQLite folder. `pooled` keeps PostgreSQL
    connections open for a long-running server; one-off uses connect per call."""
    if is_url(location):
        from service.feedback.postgres import PostgresStore  # psycopg is loaded only when it is used

        return PostgresStore(str(location), pooled=pooled)
    return SqliteStore(Path(location))


@contextmanager
def opened(location: Path | str) -> Iterator[FeedbackStore]:
    store = open_store(location)
    try:
        yield store
    finally:
        store.close()


def add_feedback(location: Path | str, fields: dict[str, Any]) -> tuple[FeedbackRecord, bool]:
    """Store one correction; returns (record, created). A repeated client_id returns the first
    record unchanged."""
    with opened(location) as store:
        return store.add(fields)


def read_feedback(location: Path | str, since: str | None = None, limit: int | None = None) -> list[FeedbackRecord]:
    """Records in the order they were stored; `since` is an ISO time (exclusive)."""
    with opened(location) as store:
        return store.read(since, limit)


def new_row(fields: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a correction (lists as JSON text), every column but `id`."""
    return {
        "client_id": fields.get("client_id"),
        "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        "level": fields["level"],
        "text": fields["text"],
        "title": fields.get("title"),
        "topics": _json_or_none(fields.get("topics")),
        "stance": fields.get("stance"),
        "in_scope": None if fields.get("in_scope") is None else bool(fields["in_scope"]),
        "paragraphs": _json_or_none(fields.get("paragraphs")),
        "note": fields.get("note"),
        "annotator": fields.get("annotator"),
        "model_version": fields.get("model_version"),
        "contributor": fields.get("contributor"),
    }


def record_from_row(row: tuple) -> FeedbackRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    for name in ("topics", "paragraphs"):
        values[name] = None if values[name] is None else json.loads(values[name])
    values["in_scope"] = None if values["in_scope"] is None else bool(values["in_scope"])
    return FeedbackRecord(**values)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


class SqliteStore:
    """One connection per call: calls come from any thread of the pool, and opening is cheap."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._schema_ready = False

    def _connect(self) -> sqlite3.Connection:
        path = self.folder / DB_FILE
        fresh = not self._schema_ready or not path.exists()  # a store removed under us is made again
        if fresh:
            self.folder.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        connection.execute("PRAGMA synchronous=FULL")  # per connection; WAL mode stays in the file
        if fresh:
            self._make_schema(connection)
        return connection

    def _make_schema(self, connection: sqlite3.Connection) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(_SCHEMA)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(feedback)")}
        if "contributor" not in columns:  # a store written before keys had names
            try:
                connection.execute("ALTER TABLE feedback ADD COLUMN contributor TEXT")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise
        self._schema_ready = True

    def add(self, fields: dict[str, Any]) -> tuple[FeedbackRecord, bool]:
        row = new_row(fields)
        connection = self._connect()
        try:
            cursor = connection.execute(
                f"INSERT INTO feedback ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)}) "
                "ON CONFLICT(client_id) DO NOTHING", list(row.values()))
            created = cursor.rowcount == 1
            select = f"SELECT {', '.join(COLUMNS)} FROM feedback WHERE "
            if created:
                found = connection.execute(select + "id = ?", (cursor.lastrowid,)).fetchone()
            else:
                found = connection.execute(select + "client_id = ?", (row["client_id"],)).fetchone()
            return record_from_row(found), created
        finally:
            connection.close()

    def read(self, since: str | None = None, limit: int | None = None) -> list[FeedbackRecord]:
        if not (self.folder / DB_FILE).exists():
            return []
        query, args = f"SELECT {', '.join(COLUMNS)} FROM feedback", []
        if since:
            query += " WHERE created > ?"
            args.append(since)
        query += " ORDER BY id"
        if limit:
            query += " LIMIT ?"
            args.append(limit)
        connection = self._connect()
        try:
            return [record_from_row(row) for row in connection.execute(query, args).fetchall()]
        finally:
            connection.close()

    def contributors(self) -> dict[str | None, int]:
        if not (self.folder / DB_FILE).exists():
            return {}
        connection = self._connect()
        try:
            rows = connection.execute("SELECT contributor, count(*) FROM feedback GROUP BY contributor "
                                      "ORDER BY contributor").fetchall()
        finally:
            connection.close()
        return dict(rows)

    def drop_contributor(self, name: str) -> int:
        connection = self._connect()
        try:
            return connection.execute("DELETE FROM feedback WHERE contributor = ?", (name,)).rowcount
        finally:
            connection.close()

    def close(self) -> None:
        pass
