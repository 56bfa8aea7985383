"""A real PostgreSQL server for the tests: initdb + pg_ctl in a temporary folder, on a free port.

Debian's `postgresql` package provides the binaries (/usr/lib/postgresql/<version>/bin; `make
system-deps` installs it). PostgreSQL refuses to run as root, so as root the server runs as the
package's `postgres` user. Each test gets a database of its own on the one server.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.live_server import free_port


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise PostgresUnavailable("PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin): "
                                  "run `make system-deps` as root, or `apt-get install postgresql`")
    return Path(found[-1]).parent


def _run(command: list[str], as_postgres: bool) -> None:
    if as_postgres:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PostgresUnavailable(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Starts a server; yields the URL of its `postgres` database; stops it and removes its files."""
    bin_dir = _bin_dir()
    as_postgres = os.geteuid() == 0
    # Not under pytest's tmp_path: as root that folder is closed to the `postgres` user.
    base = Path(tempfile.mkdtemp(prefix="pakrel-pg-"))
    if as_postgres:
        shutil.chown(base, user="postgres", group="postgres")
    data, port = base / "data", free_port()
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
              "--no-locale", "--no-sync"], as_postgres)
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60",
              "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"], as_postgres)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], as_postgres)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
