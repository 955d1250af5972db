"""How demo rows reach the database: driver-speed bulk inserts of rows built elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Dialect, column, insert
from sqlalchemy import table as _table
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from speakup.db import Base

SQLITE_CACHE_KIB = 256 * 1024



class Wire:
    """Bulk inserts at driver speed: SQLAlchemy's per-row and per-value parameter handling
    would cost more than making the rows.

    Rows carry values already in the form the real column types would send: times through
    :attr:`time` (naive UTC in, checked once against the real column type), JSON through
    :meth:`json` once per distinct value, strings, numbers and booleans as they are.  Each
    batch of a table is one ``executemany`` of an INSERT compiled by SQLAlchemy for the
    database, with positional parameters; on PostgreSQL with psycopg 3 it is a ``COPY``,
    which halves the time there.
    """

    def __init__(self, dialect: Dialect) -> None:
        tables = Base.metadata.tables
        self.time = _time_form(tables["reports"].c.created_at.type, dialect)
        self._json = tables["report_events"].c.details.type.dialect_impl(
            dialect).bind_processor(dialect)
        # Positional parameters, so rows go to the driver as tuples: PostgreSQL's drivers
        # take "format" (%s) as well as their default "pyformat".
        self._dialect = dialect
        if not dialect.positional and isinstance(dialect, DefaultDialect):
            self._dialect = type(dialect)(paramstyle="format")
        self.sqlite = dialect.name == "sqlite"
        self._copy = dialect.name == "postgresql" and dialect.driver == "psycopg"
        self._quote = dialect.identifier_preparer.quote
        self._statements: dict[tuple[str, tuple[str, ...]], tuple[str, itemgetter[Any]]] = {}

    def json(self, value: dict[str, Any]) -> Any:
        return value if self._json is None else self._json(value)

    @contextmanager
    def roomy_cache(self, session: Session) -> Iterator[None]:
        """On SQLite, a page cache of SQLITE_CACHE_KIB on the session's connection for the
        duration, then the previous size: random ids scatter the index writes over many
        pages, and the default 2 MiB cache would write and read them again and again."""
        if not self.sqlite:
            yield
            return
        connection = session.connection()
        previous = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
        connection.exec_driver_sql(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}")
        try:
            yield
        finally:
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")

    def insert(self, session: Session, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts with the same keys) into ``table``, in the session's
        transaction."""
        if not rows:
            return
        keys = tuple(rows[0])
        if self._copy:
            self._copy_rows(session, table, keys, rows)
        else:
            sql, values = self._statement(table, keys)
            session.connection().exec_driver_sql(sql, list(map(values, rows)))

    def _copy_rows(self, session: Session, table: str, keys: tuple[str, ...],
                   rows: list[dict[str, Any]]) -> None:
        columns = ", ".join(map(self._quote, keys))
        sql = f"COPY {self._quote(table)} ({columns}) FROM STDIN"
        driver: Any = session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in map(itemgetter(*keys), rows):
                copy.write_row(row)

    def _statement(self, table: str, keys: tuple[str, ...]) -> tuple[str, itemgetter[Any]]:
        """The INSERT for these columns and the function that lines a row up with it."""
        if (table, keys) not in self._statements:
            statement = insert(_table(table, *(column(key) for key in keys)))
            compiled = statement.compile(dialect=self._dialect)
            if compiled.positiontup is None:
                raise RuntimeError(f"{self._dialect.name} takes no positional parameters")
            self._statements[table, keys] = (compiled.string, itemgetter(*compiled.positiontup))
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


def _sqlite_text(moment: datetime) -> str:
    return moment.isoformat(" ", "microseconds")


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)
