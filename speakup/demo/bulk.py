"""How demo rows reach the database: driver-speed bulk inserts of rows built elsewhere."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Dialect, column, insert
from sqlalchemy import table as _table
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from speakup.db import Base

SQLITE_CACHE_KIB = 1024 * 1024


@dataclass
class Packed:
    """Rows of one table as the driver takes them: a tuple of values per row, in the order of
    ``keys``."""

    table: str
    keys: tuple[str, ...]
    values: list[tuple[Any, ...]]



class Wire:
    """Bulk inserts at driver speed: SQLAlchemy's per-row and per-value parameter handling
    would cost more than making the rows.

    Rows carry values already in the form the real column types would send: times through
    :attr:`time` (naive UTC in, checked once against the real column type), JSON through
    :meth:`json`, strings, numbers and booleans as they are.  Each batch of a table is one
    ``executemany`` of an INSERT compiled by SQLAlchemy for the database, with positional
    parameters; on PostgreSQL with psycopg 3 it is a ``COPY``, which halves the time there,
    and whose text form takes times as text too (formatting and pickling datetimes would
    cost more than the rest of a row).

    Rows can be packed (:meth:`pack`: tuples, JSON serialised) apart from inserting them, so
    that another process can do it.
    """

    def __init__(self, dialect: Dialect) -> None:
        tables = Base.metadata.tables
        self._copy = dialect.name == "postgresql" and dialect.driver == "psycopg"
        self.time = (_utc_text if self._copy
                     else _time_form(tables["reports"].c.created_at.type, dialect))
        processor = tables["report_events"].c.details.type.dialect_impl(
            dialect).bind_processor(dialect)
        # As text (SQLite's form, and what COPY sends): the JSON as SQLAlchemy's default
        # serialiser writes it, without its wrapper.
        self._json: Callable[[Any], Any] = (json.dumps if self._copy or dialect.name == "sqlite"
                                            else processor or _same)
        self._empty = self.json({})
        # Positional parameters, so rows go to the driver as tuples: PostgreSQL's drivers
        # take "format" (%s) as well as their default "pyformat".
        self._dialect = dialect
        if not dialect.positional and isinstance(dialect, DefaultDialect):
            self._dialect = type(dialect)(paramstyle="format")
        self.sqlite = dialect.name == "sqlite"
        self._quote = dialect.identifier_preparer.quote
        self._statements: dict[tuple[str, tuple[str, ...]], tuple[
            str, Callable[[tuple[Any, ...]], tuple[Any, ...]] | None]] = {}

    def json(self, value: dict[str, Any]) -> Any:
        return self._json(value)

    @contextmanager
    def loading(self, session: Session) -> Iterator[Callable[[], None]]:
        """On SQLite, settings of the session's connection for a bulk load, for the
        duration, then the previous ones; yields a function to call in the load's last
        transaction.  The session must keep its connection across commits (bound to one);
        it commits what it did before (settings change between transactions), and an
        error inside rolls its transaction back.

        A page cache of up to SQLITE_CACHE_KIB: random ids scatter the index writes over
        many pages, and the default 2 MiB cache would write and read them again and again
        (at a million reports the indexes on report ids take about a gigabyte).

        ``synchronous = OFF``: no waits for the disk at the checkpoints after each commit
        (at a million reports, each writes a gigabyte or more).  WAL mode stays, so other
        connections read and write as ever and a crash of the process loses nothing
        committed; only a crash of the machine during the load could damage the file.
        After the last commit (the function yielded holds its checkpoint back), the
        previous setting is back and a checkpoint waits for the disk to have the file.

        ``foreign_keys = OFF``, as :meth:`skip_reference_checks` on PostgreSQL: each check
        looks the parent row up, a random descent into the reports' index for most rows,
        for references that the demo builds from rows it has just read or written (a test
        holds the demo's rows to their foreign keys)."""
        if not self.sqlite:
            yield _nothing
            return
        connection = session.connection()
        # The driver's connection, between transactions: SQLAlchemy's would begin one.
        driver: Any = connection.connection.driver_connection
        cache = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
        sync = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
        autocheckpoint = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
        session.commit()
        driver.execute(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}")
        driver.execute("PRAGMA synchronous = OFF")
        driver.execute("PRAGMA foreign_keys = OFF")

        def last_transaction() -> None:
            driver.execute("PRAGMA wal_autocheckpoint = 0")

        try:
            yield last_transaction
        except BaseException:
            session.rollback()
            raise
        finally:
            driver.execute(f"PRAGMA foreign_keys = {int(foreign_keys)}")
            driver.execute(f"PRAGMA synchronous = {int(sync)}")
            driver.execute(f"PRAGMA cache_size = {int(cache)}")
            driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            driver.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")

    def insert(self, session: Session, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts with the same keys) into ``table``, in the session's
        transaction."""
        packed = self.pack(table, rows)
        if packed is not None:
            self.insert_packed(session, packed)

    def pack(self, table: str, rows: list[dict[str, Any]], *, by: str | None = None
             ) -> Packed | None:
        """``rows`` (dicts with the same keys) as the driver takes them, JSON columns
        serialised (text is taken as serialised already), in the order of column ``by`` if
        given: sorted stably, so that the rows of one report keep their order and an index on
        it is written page after page rather than all over.  None for no rows.  Pure: fit
        for another process."""
        if not rows:
            return None
        keys = tuple(rows[0])
        columns = Base.metadata.tables[table].c
        for key in keys:
            if isinstance(columns[key].type, JSON):
                serialise, empty = self._json, self._empty
                for row in rows:
                    value = row[key]
                    if value.__class__ is not str:
                        row[key] = serialise(value) if value else empty
        if len(keys) == 1:
            values = [(row[keys[0]],) for row in rows]
        else:
            values = list(map(itemgetter(*keys), rows))
        if by is not None:
            values.sort(key=itemgetter(keys.index(by)))
        return Packed(table, keys, values)

    def insert_packed(self, session: Session, packed: Packed) -> None:
        """Insert packed rows, in the session's transaction."""
        if self._copy:
            self._copy_rows(session, packed)
        else:
            sql, order = self._statement(packed.table, packed.keys)
            values = packed.values
            if order is not None:
                values = list(map(order, values))
            session.connection().exec_driver_sql(sql, values)

    def _copy_rows(self, session: Session, packed: Packed) -> None:
        columns = ", ".join(map(self._quote, packed.keys))
        sql = f"COPY {self._quote(packed.table)} ({columns}) FROM STDIN"
        driver: Any = session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            write = copy.write_row
            for row in packed.values:
                write(row)

    def skip_reference_checks(self, session: Session) -> bool:
        """On PostgreSQL, no foreign-key checks for the rest of the session's transaction,
        where the role may turn them off (a superuser, or one granted SET on
        ``session_replication_role``); returns whether they are off.  Each check is a query
        per inserted row, three quarters of a COPY's time, for references that the demo
        builds from rows it has just read or written.  The demo's tables have no other
        triggers on INSERT; a test holds this to be so, and the demo's rows to their foreign
        keys."""
        if self._dialect.name != "postgresql":
            return False
        savepoint = session.begin_nested()
        try:
            session.connection().exec_driver_sql(
                "SET LOCAL session_replication_role = replica")
        except DBAPIError:
            savepoint.rollback()
            return False
        savepoint.commit()
        return True

    def _statement(self, table: str, keys: tuple[str, ...]
                   ) -> tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]] | None]:
        """The INSERT for these columns and the function that lines a packed row up with it
        (None when the row is in order already)."""
        if (table, keys) not in self._statements:
            statement = insert(_table(table, *(column(key) for key in keys)))
            compiled = statement.compile(dialect=self._dialect)
            if compiled.positiontup is None:
                raise RuntimeError(f"{self._dialect.name} takes no positional parameters")
            order = tuple(keys.index(name) for name in compiled.positiontup)
            self._statements[table, keys] = (compiled.string, None if order == tuple(
                range(len(keys))) else itemgetter(*order))
        return self._statements[table, keys]


def _time_form(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[datetime], Any]:
    """A function from naive UTC to exactly what ``column_type`` sends to ``dialect``: a cheap
    one when it matches the type's own processor on samples, else that processor."""
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)

    def exact(moment: datetime) -> Any:
        aware = moment.replace(tzinfo=UTC)
        return aware if processor is None else processor(aware)

    samples = (datetime(2026, 1, 2, 3, 4, 5, 678901), datetime(2026, 1, 2))
    for cheap in (_sqlite_text, _aware):
        if all(type(cheap(s)) is type(exact(s)) and cheap(s) == exact(s) for s in samples):
            return cheap
    return exact


def _nothing() -> None:
    pass


def _same(value: Any) -> Any:
    return value


def _sqlite_text(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds")


def _utc_text(moment: datetime) -> str:
    """A naive UTC time as PostgreSQL reads a ``timestamptz`` in UTC."""
    return moment.isoformat(" ", "microseconds") + "+00"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)
