"""Human references such as ``SU-2026-000042``: one counter row per year, advanced with an
atomic upsert so concurrent submissions (and several machines) never share a number, and
numbers have no gaps.

The counter row is the one thing every submission writes: its lock is held from the upsert to
the commit.  On PostgreSQL a submission therefore inserts its rows first under a provisional
reference (its id) and takes the number last, with :func:`assign`, in one statement just
before the commit.  On SQLite the write lock covers the whole block anyway."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from speakup.models import ReferenceCounter


def _upsert(insert: Any) -> Any:
    return insert(ReferenceCounter).values(
        year=bindparam("year"), last=bindparam("count", type_=Integer),
    ).on_conflict_do_update(
        index_elements=[ReferenceCounter.year],
        set_={"last": ReferenceCounter.last + bindparam("count", type_=Integer)},
    ).returning(ReferenceCounter.last)


# Built once per dialect: building the statement cost more than running it.
_UPSERTS = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}


def allocate(session: Session, *, year: int, count: int = 1) -> list[str]:
    """``count`` consecutive references for ``year``, in the caller's transaction."""
    connection = session.connection()
    upsert = _UPSERTS[connection.dialect.name]
    last = connection.execute(upsert, {"year": year, "count": count}).scalar_one()
    return [format_reference(year, n) for n in range(last - count + 1, last + 1)]


# The counter's next number written onto the report as SU-<year>-<number, six digits or more>,
# exactly as format_reference() writes it (a test holds the two equal).
_ASSIGN_PG = text("""
    WITH counter AS (
        INSERT INTO reference_counters (year, last) VALUES (:year, 1)
        ON CONFLICT (year) DO UPDATE SET last = reference_counters.last + 1
        RETURNING last
    )
    UPDATE reports
    SET reference = 'SU-' || CAST(:year AS text) || '-'
        || lpad(CAST(counter.last AS text), greatest(6, length(CAST(counter.last AS text))), '0')
    FROM counter
    WHERE reports.id = :report_id
    RETURNING reports.reference
""").bindparams(bindparam("year", type_=Integer))


def takes_number_last(session: Session) -> bool:
    """Whether a new report takes its number with :func:`assign` after its rows are written
    (PostgreSQL), rather than with :func:`allocate` before (SQLite)."""
    return session.connection().dialect.name == "postgresql"


def assign(session: Session, *, report_id: str, year: int) -> str:
    """Give the report inserted in this transaction under a provisional reference the next
    number of ``year``; one statement, on PostgreSQL.  Returns the reference."""
    reference: str = session.connection().execute(
        _ASSIGN_PG, {"year": year, "report_id": report_id}).scalar_one()
    return reference


def format_reference(year: int, number: int) -> str:
    return f"SU-{year}-{number:06d}"
