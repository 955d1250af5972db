"""Reading the audit log: who read or changed which report, when (newest first).

It is written only by :mod:`speakup.services.reports.history`, never updated or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from speakup.models import AuditEntry, User
from speakup.services.core.keys import Keys
from speakup.services.core.pages import Page, paginate
from speakup.services.reports.history import EVENT_TYPES, READ
from speakup.services.reports.views import Person, iso, person_wire

ACTIONS = (READ, *EVENT_TYPES)


@dataclass(frozen=True)
class Filters:
    report_id: str | None = None
    actor_id: str | None = None
    action: str | None = None
    from_: datetime | None = None
    to: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor: Person | None
    action: str
    report_id: str | None
    action_id: str | None


def wire(v: AuditView) -> dict[str, Any]:
    return {"id": v.id, "at": iso(v.at),
            "actor": person_wire(v.actor),
            "action": v.action, "report_id": v.report_id, "action_id": v.action_id}


def list_entries(session: Session, *, keys: Keys, filters: Filters, limit: int,
                 cursor: str | None) -> Page[AuditView]:
    """Audit rows matching ``filters``, newest first, keyset-paginated."""
    columns = (AuditEntry.id, AuditEntry.at, AuditEntry.actor_id, User.name, AuditEntry.action,
               AuditEntry.report_id, AuditEntry.action_id)
    stmt = cast(Select[Any], select(*columns).outerjoin(User, User.id == AuditEntry.actor_id))
    if filters.report_id is not None:
        stmt = stmt.where(AuditEntry.report_id == filters.report_id)
    if filters.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == filters.actor_id)
    if filters.action is not None:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.from_ is not None:
        stmt = stmt.where(AuditEntry.at >= filters.from_)
    if filters.to is not None:
        stmt = stmt.where(AuditEntry.at < filters.to)
    page = paginate(session, stmt, [AuditEntry.at, AuditEntry.id], signing_key=keys.cursor,
                    limit=limit, cursor=cursor, descending=True, rows=True)
    items = [AuditView(r.id, r.at, None if r.actor_id is None else Person(r.actor_id, r.name),
                       r.action, r.report_id, r.action_id) for r in page.items]
    return Page(items, page.next_cursor)
