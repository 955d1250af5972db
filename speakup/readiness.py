"""Readiness: may this process be sent requests, including those that write?

``/readyz`` must answer within two seconds whatever the database does, so the probe never
touches the app's pool (a hung pool would hang it too) and bounds its own waits:

- SQLite: a fresh connection reads the migration and makes a write that changes nothing
  (``BEGIN IMMEDIATE``, ``DELETE ... WHERE 0``, ``ROLLBACK``), and the file itself must be
  writable.  The file check matters: SQLite hands a new connection a file descriptor that an
  earlier connection opened for writing, so a file made read-only while the app runs would
  still look writable from inside the process (and writes would go on into the WAL).
- PostgreSQL (psycopg): one connection and one query driven through libpq's non-blocking
  interface with a deadline on every wait, so a server that accepts and never answers, or
  answers the handshake and then hangs, costs at most :data:`DEADLINE_S`.  A read-only
  server (hot standby, ``default_transaction_read_only``) is not ready.  The waits go through
  ``select.poll``, which gevent's monkey-patching makes cooperative.
"""

from __future__ import annotations

import os
import select
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL

from speakup import migrate
from speakup.db import Database

if TYPE_CHECKING:
    from psycopg.pq.abc import PGresult

DEADLINE_S = 1.5  # the whole PostgreSQL probe; /readyz promises an answer within 2 s
SQLITE_BUSY_S = 1.0  # how long the SQLite probe queues for the write lock


@dataclass(frozen=True)
class NotReady:
    """Why the process should not be sent requests just now, and when to ask again."""

    detail: str
    retry_after: int


UNREACHABLE = NotReady("The database is not reachable.", 5)
NOT_MIGRATED = NotReady("The database is not migrated; run `speakup db upgrade`.", 30)
READ_ONLY = NotReady("The database is read-only; every write would fail.", 30)
BUSY = NotReady("The database is locked by another writer; writes are queuing.", 5)


def check(database: Database, *, deadline_s: float = DEADLINE_S) -> NotReady | None:
    """``None`` when the database answers, carries the newest migration and takes writes."""
    url = database.engine.url
    if url.get_backend_name() == "sqlite" and _sqlite_file(url) is not None:
        return _check_sqlite(database)
    if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
        return _check_postgres(database, deadline=time.monotonic() + deadline_s)
    return _check_through_pool(database)


def _check_through_pool(database: Database) -> NotReady | None:
    """Other databases (in-memory SQLite): bounded only by the engine's own timeouts."""
    try:
        current = migrate.current_revision(database.engine)
    except Exception:  # noqa: BLE001 - any failure to reach the database means "not ready"
        return UNREACHABLE
    return None if current == migrate.head_revision() else NOT_MIGRATED


# --- SQLite --------------------------------------------------------------------------------


def _sqlite_file(url: URL) -> str | None:
    """The database file's path; ``None`` for an in-memory database."""
    name = url.database or ""
    if str(url.query.get("uri", "")).lower() in {"true", "1"} and name.startswith("file:"):
        if url.query.get("mode") == "memory":
            return None
        name = name.removeprefix("file:").split("?", 1)[0]
    return None if name in {"", ":memory:"} else name


def _check_sqlite(database: Database) -> NotReady | None:
    url = database.engine.url
    path = _sqlite_file(url)
    if path is None or not os.path.isfile(path):
        # Never create an empty database here; `speakup db upgrade` does that.
        exists = path is not None and os.path.isdir(os.path.dirname(path) or ".")
        return NOT_MIGRATED if exists else UNREACHABLE
    args, kwargs = database.engine.dialect.create_connect_args(url)
    options: dict[str, Any] = {**kwargs, "timeout": SQLITE_BUSY_S, "isolation_level": None}
    try:
        connection = sqlite3.connect(args[0], **options)
    except sqlite3.Error:
        return UNREACHABLE
    try:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError as error:
            return NOT_MIGRATED if str(error).startswith("no such table") else UNREACHABLE
        except sqlite3.Error:
            return UNREACHABLE
        if row is None or row[0] != migrate.head_revision():
            return NOT_MIGRATED
        if not os.access(path, os.W_OK):
            return READ_ONLY
        return _sqlite_write_probe(connection)
    finally:
        connection.close()


def _sqlite_write_probe(connection: sqlite3.Connection) -> NotReady | None:
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("DELETE FROM alembic_version WHERE 0")
        finally:
            connection.execute("ROLLBACK")
    except sqlite3.Error as error:
        name = getattr(error, "sqlite_errorname", "")
        if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
            return BUSY
        if name.startswith("SQLITE_READONLY") or "readonly" in str(error):
            return READ_ONLY
        return UNREACHABLE
    return None


# --- PostgreSQL ----------------------------------------------------------------------------

PG_PROBE = (b"SELECT current_setting('transaction_read_only'), version_num "
            b"FROM alembic_version")
UNDEFINED_TABLE = b"42P01"


class _Unreachable(Exception):
    pass


def _check_postgres(database: Database, *, deadline: float) -> NotReady | None:
    from psycopg import pq

    try:
        results = _pg_query(_conninfo(database), PG_PROBE, deadline=deadline)
    except _Unreachable:
        return UNREACHABLE
    result = results[0] if results else None
    if result is None or result.status != pq.ExecStatus.TUPLES_OK:
        failed = result is not None and result.error_field(
            pq.DiagnosticField.SQLSTATE) == UNDEFINED_TABLE
        return NOT_MIGRATED if failed else UNREACHABLE
    rows = [(result.get_value(i, 0), result.get_value(i, 1)) for i in range(result.ntuples)]
    head = (migrate.head_revision() or "").encode()
    if not rows or rows[0][1] != head:
        return NOT_MIGRATED
    if rows[0][0] == b"on":
        return READ_ONLY
    return None


def _conninfo(database: Database) -> str:
    """The database URL as a libpq connection string (psycopg-only arguments left out)."""
    from psycopg import conninfo, pq

    _args, kwargs = database.engine.dialect.create_connect_args(database.engine.url)
    known = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    return conninfo.make_conninfo("", **{k: v for k, v in kwargs.items() if k in known})


def _pg_query(dsn: str, query: bytes, *, deadline: float) -> list[PGresult]:
    """Connect, run ``query`` and return its results, or raise :class:`_Unreachable` as soon
    as anything fails or ``deadline`` (``time.monotonic()``) passes."""
    from psycopg import Error, pq

    pgconn = pq.PGconn.connect_start(dsn.encode())
    try:
        if pgconn.status == pq.ConnStatus.BAD:
            raise _Unreachable
        status: int = pq.PollingStatus.WRITING  # libpq: start as if the last poll said so
        while status != pq.PollingStatus.OK:
            if status == pq.PollingStatus.FAILED:
                raise _Unreachable
            _wait(pgconn.socket, write=status == pq.PollingStatus.WRITING, deadline=deadline)
            status = pgconn.connect_poll()
        pgconn.nonblocking = 1
        pgconn.send_query(query)
        while pgconn.flush():
            _wait(pgconn.socket, write=True, deadline=deadline)
        results: list[PGresult] = []
        while True:
            pgconn.consume_input()
            if pgconn.is_busy():
                _wait(pgconn.socket, write=False, deadline=deadline)
                continue
            result = pgconn.get_result()
            if result is None:
                return results
            results.append(result)
    except Error:
        raise _Unreachable from None
    finally:
        pgconn.finish()


def _wait(fileno: int, *, write: bool, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Unreachable
    if not hasattr(select, "poll"):  # Windows
        wanted = [fileno]
        ready = select.select([] if write else wanted, wanted if write else [], wanted,
                              remaining)
        if not any(ready):
            raise _Unreachable
        return
    poller = select.poll()
    poller.register(fileno, select.POLLOUT if write else select.POLLIN)
    if not poller.poll(remaining * 1000):
        raise _Unreachable
