"""Database plumbing: the declarative base, the engine and session factories.

SQLite is configured for several gunicorn workers on one file: WAL, a busy timeout, and
transactions that really begin before their first read (pysqlite defers ``BEGIN`` until the
first write, so a read-then-write transaction could see a stale snapshot).  Sessions meant for
writing begin with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the busy timeout
instead of failing when they upgrade their lock.

A database that hangs must cost a request a few seconds and a 503, never a worker: the app's
engine gets connect, statement, pool and busy timeouts (:class:`Timeouts`) well under gunicorn's
30 s worker timeout.  Commands and migrations keep the drivers' defaults, as they may run long.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    exc,
    make_url,
)
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from speakup import percentiles

if TYPE_CHECKING:
    from speakup.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000  # commands and migrations; the app uses its setting
# TCP keepalives on PostgreSQL connections: a server host that vanishes (no RST) is noticed
# within about idle + tcp_user_timeout seconds instead of the kernel's two hours.
PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                 "keepalives_count": 3}


@dataclass(frozen=True)
class Timeouts:
    """How long the database may keep a caller waiting; ``None`` keeps the driver's default.

    ``connect_s`` is libpq's ``connect_timeout`` (psycopg waits at least 2 s), ``statement_ms``
    PostgreSQL's ``statement_timeout`` and, as ``tcp_user_timeout``, how long sent data may go
    unacknowledged; ``pool_s`` is the wait for a pooled connection and ``sqlite_busy_ms`` the
    wait for SQLite's write lock.
    """

    connect_s: int | None = None
    statement_ms: int | None = None
    pool_s: int | None = None
    sqlite_busy_ms: int = SQLITE_BUSY_TIMEOUT_MS

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        """The timeouts for serving requests."""
        return cls(connect_s=settings.db_connect_timeout,
                   statement_ms=settings.db_statement_timeout_ms,
                   pool_s=settings.db_pool_timeout,
                   sqlite_busy_ms=settings.sqlite_busy_timeout_ms)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def table(model: type[Base]) -> Table:
    """A model's table, for Core statements (plain inserts of complete rows)."""
    return cast(Table, model.__table__)


def make_engine(url: str, *, timeouts: Timeouts | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``; statement parameters never appear in error messages or logs."""
    timeouts = timeouts or Timeouts()
    if timeouts.pool_s is not None and not _sqlite_in_memory(url):
        kwargs.setdefault("pool_timeout", timeouts.pool_s)
    if url.startswith("sqlite"):
        engine = create_engine(url, hide_parameters=True, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms=timeouts.sqlite_busy_ms)
        return engine
    kwargs["connect_args"] = {**postgres_connect_args(url, timeouts),
                              **kwargs.get("connect_args", {})}
    engine = create_engine(url, hide_parameters=True, **kwargs)
    _ping_when_idle(engine)
    return engine


# A pooled PostgreSQL connection idle for longer than this is pinged before it is used.
IDLE_PING_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle: a server restart or
    a dropped connection then costs no request, while a busy worker, whose connections were
    in use a moment ago, pays no extra round trip per request (``pool_pre_ping`` pinged on
    every checkout: two of a submission's round trips)."""

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["speakup_idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("speakup_idle_since")
        if idle_since is not None and time.monotonic() - idle_since <= IDLE_PING_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as error:
            # The pool discards this connection and tries another (or a new one).
            raise exc.DisconnectionError("the pooled connection did not answer") from error


def postgres_connect_args(url: str, timeouts: Timeouts) -> dict[str, Any]:
    """libpq parameters that bound every wait; a parameter given in the URL wins."""
    query = make_url(url).query
    args: dict[str, Any] = {}
    if timeouts.connect_s is not None:
        args["connect_timeout"] = timeouts.connect_s
    if timeouts.statement_ms is not None:
        args.update(PG_KEEPALIVES, tcp_user_timeout=timeouts.statement_ms)
        # Before the URL's own options, so that a statement_timeout set there wins.
        options = f"-c statement_timeout={timeouts.statement_ms}"
        if isinstance(query.get("options"), str):
            options = f"{options} {query['options']}"
        args["options"] = options
    return {k: v for k, v in args.items() if k == "options" or k not in query}


def _sqlite_in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory")


class _SQLiteCompiler(SQLiteCompiler):
    """SQLite's compiler, with a select's table hints written out (SQLAlchemy drops them for
    SQLite): ``INDEXED BY`` for the few statements where SQLite's planner, which has no
    statistics, would take a worse index (and fails loudly should that index not fit)."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    engine.dialect.statement_compiler = _SQLiteCompiler
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite; the "begin" hook below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives application crashes; a power cut may lose the last
        # transactions.  FULL cost about 30% of write throughput with much worse tails.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        percentiles.register(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


_IN_BLOCK = "speakup.write_block"
_writing: ContextVar[bool] = ContextVar("speakup_writing", default=False)


def in_write_block() -> bool:
    """Whether the caller runs inside ``with database.write()``."""
    return _writing.get()


class CommitInsideBlock(RuntimeError):
    """Something inside a write block tried to commit; only the block's end commits."""


def _only_the_block_commits(session: Session) -> None:
    if session.info.get(_IN_BLOCK):
        raise CommitInsideBlock("only the end of `with database.write()` commits")


class Database:
    """The engine and the two session factories the app and the CLI use."""

    def __init__(self, url: str, *, timeouts: Timeouts | None = None,
                 **engine_kwargs: Any) -> None:
        self.url = url
        self.timeouts = timeouts or Timeouts()
        self.engine = make_engine(url, timeouts=self.timeouts, **engine_kwargs)
        self.read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self.write_sessions = sessionmaker(writer, expire_on_commit=False)

        event.listen(self.write_sessions, "before_commit", _only_the_block_commits)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def write_lock_is_global(self) -> bool:
        """Whether a write block locks the whole database from its start (SQLite's ``BEGIN
        IMMEDIATE``), so that a command must read before it; a PostgreSQL transaction
        locks only the rows it writes, when it writes them."""
        return self.is_sqlite

    @contextmanager
    def write(self, *, ending: Session | None = None) -> Iterator[Session]:
        """The one write transaction of a command.

        It begins at once (``BEGIN IMMEDIATE`` on SQLite: the write lock is taken here, so do
        slow work before), commits when the block ends and rolls back on any exception.
        Nothing inside commits on its own: helpers only add to the caller's change.

        ``ending`` is the caller's read session (a request's), whose transaction ends first:
        on SQLite an open reader pins the WAL, so every commit would retry a checkpoint it
        cannot finish; on PostgreSQL the request then holds one pooled connection at a time;
        and what is read after the block sees what it committed.
        """
        if ending is not None:
            ending.rollback()
        session = self.write_sessions()
        session.info[_IN_BLOCK] = True
        token = _writing.set(True)
        try:
            session.connection()  # begin now, not at the first statement
            yield session
            session.info[_IN_BLOCK] = False
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            _writing.reset(token)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; whatever it began is rolled back at the end."""
        with self.read_sessions() as session:
            yield session

    def session(self, *, write: bool = True) -> Session:
        return (self.write_sessions if write else self.read_sessions)()

    def dispose(self) -> None:
        self.engine.dispose()
