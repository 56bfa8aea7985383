"""Analysts' corrections, stored durably in SQLite (WAL mode, synchronous=FULL).

Why SQLite: every acknowledged insert is committed and fsynced before we answer 201, several
uvicorn worker processes can write at once (SQLite serialises writers with a file lock), a
process killed mid-write leaves the last committed state intact (the WAL is rolled back on the
next open), and `client_id` uniqueness gives idempotency in the database itself rather than in
a check-then-write race. Training reads the same file through `read_feedback`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DB_FILE = "feedback.sqlite3"
_BUSY_TIMEOUT_S = 30.0
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
    model_version TEXT
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

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _connect(folder: Path) -> sqlite3.Connection:
    folder.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(folder / DB_FILE, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(_SCHEMA)
    return connection


def add_feedback(folder: Path, fields: dict[str, Any]) -> tuple[FeedbackRecord, bool]:
    """Store one correction; returns (record, created). A repeated client_id returns the first
    record unchanged, so a client retrying after a lost response never stores it twice."""
    row = {
        "client_id": fields.get("client_id"),
        "created": datetime.now(UTC).isoformat(timespec="microseconds"),
        "level": fields["level"],
        "text": fields["text"],
        "title": fields.get("title"),
        "topics": _json_or_none(fields.get("topics")),
        "stance": fields.get("stance"),
        "in_scope": None if fields.get("in_scope") is None else int(fields["in_scope"]),
        "paragraphs": _json_or_none(fields.get("paragraphs")),
        "note": fields.get("note"),
        "annotator": fields.get("annotator"),
        "model_version": fields.get("model_version"),
    }
    connection = _connect(folder)
    try:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cursor = connection.execute(
            f"INSERT INTO feedback ({columns}) VALUES ({marks}) ON CONFLICT(client_id) DO NOTHING",
            list(row.values()))
        created = cursor.rowcount == 1
        if created:
            record_id = cursor.lastrowid
            found = connection.execute("SELECT * FROM feedback WHERE id = ?", (record_id,)).fetchone()
        else:
            found = connection.execute("SELECT * FROM feedback WHERE client_id = ?",
                                       (row["client_id"],)).fetchone()
        return _record(found), created
    finally:
        connection.close()


def read_feedback(folder: Path, since: str | None = None, limit: int | None = None) -> list[FeedbackRecord]:
    """Records in the order they were stored; `since` is an ISO time (exclusive)."""
    if not (folder / DB_FILE).exists():
        return []
    connection = _connect(folder)
    try:
        query, args = "SELECT * FROM feedback", []
        if since:
            query += " WHERE created > ?"
            args.append(since)
        query += " ORDER BY id"
        if limit:
            query += " LIMIT ?"
            args.append(limit)
        return [_record(row) for row in connection.execute(query, args).fetchall()]
    finally:
        connection.close()


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _record(row: tuple) -> FeedbackRecord:
    (rid, client_id, created, level, text, title, topics, stance, in_scope, paragraphs,
     note, annotator, model_version) = row
    return FeedbackRecord(
        id=rid, client_id=client_id, created=created, level=level, text=text, title=title,
        topics=None if topics is None else json.loads(topics), stance=stance,
        in_scope=None if in_scope is None else bool(in_scope),
        paragraphs=None if paragraphs is None else json.loads(paragraphs),
        note=note, annotator=annotator, model_version=model_version,
    )
