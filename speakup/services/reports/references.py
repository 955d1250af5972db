"""Human references such as ``SU-2026-000042``: one counter row per year, advanced with an
atomic upsert so concurrent submissions (and several machines) never share a number."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from speakup.models import ReferenceCounter


def allocate(session: Session, *, year: int, count: int = 1) -> list[str]:
    """``count`` consecutive references for ``year``, in the caller's transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(ReferenceCounter).values(year=year, last=count).on_conflict_do_update(
        index_elements=[ReferenceCounter.year],
        set_={"last": ReferenceCounter.last + count},
    )
    last = session.execute(upsert.returning(ReferenceCounter.last)).scalar_one()
    return [format_reference(year, n) for n in range(last - count + 1, last + 1)]


def format_reference(year: int, number: int) -> str:
    return f"SU-{year}-{number:06d}"
