"""The PostgreSQL backend of the feedback store (psycopg 3; psycopg_pool in a server).

Same table as SQLite, same text columns (lists as JSON text, `created` as the ISO time in UTC, so
`since` compares the same way in both). Idempotency is the UNIQUE constraint on client_id with
INSERT ... ON CONFLICT DO NOTHING: of two replicas inserting the same client_id at once, the
second waits for the first to commit and then finds its row. A call returns only after its
transaction committed (PostgreSQL's default synchronous_commit flushes the WAL first).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from service.feedback.store import COLUMNS, FeedbackRecord, FeedbackUnavailable, new_row, record_from_row

_CONNECT_TIMEOUT_S = 10
_POOL_WAIT_S = 3.0  # a request waits at most this long for a connection, then gets a 503
_POOL_MAX = 8
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id     TEXT UNIQUE,
    created       TEXT NOT NULL,
    level         TEXT NOT NULL CHECK (level IN ('article', 'paragraph')),
    text          TEXT NOT NULL,
    title         TEXT,
    topics        TEXT,
    stance        TEXT,
    in_scope      BOOLEAN,
    paragraphs    TEXT,
    note          TEXT,
    annotator     TEXT,
    model_version TEXT,
    contributor   TEXT
)
"""
# Replicas starting together would race on CREATE TABLE IF NOT EXISTS (it is not atomic in PostgreSQL).
_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('pakrel.feedback.schema'))"
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM feedback"


class PostgresStore:
    def __init__(self, url: str, pooled: bool = False) -> None:
        self._url = url
        self._pool = (ConnectionPool(url, min_size=1, max_size=_POOL_MAX, open=False, timeout=_POOL_WAIT_S,
                                     kwargs={"connect_timeout": _CONNECT_TIMEOUT_S}, name="pakrel-feedback")
                      if pooled else None)
        if self._pool is not None:
            self._pool.open(wait=False)  # the service starts (and classifies) even while PostgreSQL is down
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A connection whose transaction commits when the block ends without an error."""
        try:
            if self._pool is not None:
                with self._pool.connection() as connection:
                    self._ensure_schema(connection)
                    yield connection
            else:
                with psycopg.connect(self._url, connect_timeout=_CONNECT_TIMEOUT_S) as connection:
                    self._ensure_schema(connection)
                    yield connection
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise FeedbackUnavailable(f"the feedback database (PAKREL_FEEDBACK_URL) cannot be reached: "
                                      f"{str(exc).strip() or type(exc).__name__}") from exc

    def _ensure_schema(self, connection: psycopg.Connection) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if not self._schema_ready:
                with connection.transaction():
                    connection.execute(_SCHEMA_LOCK)
                    connection.execute(_SCHEMA)
                self._schema_ready = True

    def add(self, fields: dict[str, Any]) -> tuple[FeedbackRecord, bool]:
        row = new_row(fields)
        with self._connection() as connection:
            found = connection.execute(
                f"INSERT INTO feedback ({', '.join(row)}) VALUES ({', '.join('%s' for _ in row)}) "
                f"ON CONFLICT (client_id) DO NOTHING RETURNING {', '.join(COLUMNS)}", list(row.values())).fetchone()
            created = found is not None
            if not created:
                found = connection.execute(_SELECT + " WHERE client_id = %s", (row["client_id"],)).fetchone()
        # The block above committed: only now is the record acknowledged.
        return record_from_row(found), created

    def read(self, since: str | None = None, limit: int | None = None) -> list[FeedbackRecord]:
        query, args = _SELECT, []
        if since:
            query += " WHERE created > %s"
            args.append(since)
        query += " ORDER BY id"
        if limit:
            query += " LIMIT %s"
            args.append(limit)
        with self._connection() as connection:
            rows = connection.execute(query, args).fetchall()
        return [record_from_row(row) for row in rows]

    def contributors(self) -> dict[str | None, int]:
        with self._connection() as connection:
            rows = connection.execute("SELECT contributor, count(*) FROM feedback GROUP BY contributor "
                                      "ORDER BY contributor").fetchall()
        return dict(rows)

    def drop_contributor(self, name: str) -> int:
        with self._connection() as connection:
            count = connection.execute("DELETE FROM feedback WHERE contributor = %s", (name,)).rowcount
        return count

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
