"""Human references such as ``SU-2026-000042``: one counter row per year, advanced with an
atomic upsert so concurrent submissions (and several machines) never share a number."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, bindparam
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


def format_reference(year: int, number: int) -> str:
    return f"SU-{year}-{number:06d}"
