"""Reading reports: one report in the view its reader may have, and scoped lists.

Who may see which report is :mod:`speakup.services.reports.access`; a report the caller may
not see is :class:`NotFound`, exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, true, union_all
from sqlalchemy.orm import Session

from speakup.db import table
from speakup.models import Report, ReportAssignee
from speakup.services.core.actors import Actor
from speakup.services.core.clock import Clock
from speakup.services.core.keys import Keys
from speakup.services.core.pages import (
    Page,
    after,
    decode_cursor,
    encode_cursor,
    paginate,
    scope,
)
from speakup.services.org import subtree_ids
from speakup.services.reports import access, views
from speakup.vocabulary import Status


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    kind: str | None = None
    category: str | None = None
    unit_id: str | None = None
    overdue: bool | None = None
    assigned_to_me: bool = False
    created_from: datetime | None = None
    created_to: datetime | None = None


def get_report(session: Session, *, actor: Actor, report_id: str) -> views.ReportView:
    """The report as the actor may see it (staff or reporter view)."""
    seen = access.visible_report(session, actor=actor, report_id=report_id)
    return views.detail(session, seen.report, staff_side=seen.staff_side)


_BY_ID = select(table(Report)).where(Report.id == bindparam("report_id"))


def view_after(session: Session, *, report_id: str, staff_side: bool) -> views.ReportView:
    """The report after a workflow step, from the side its actor took the step on (a
    reassignment may have taken it away from them since)."""
    row = session.connection().execute(_BY_ID, {"report_id": report_id}).one()
    return views.detail(session, row, staff_side=staff_side)


def list_reports(
    session: Session,
    *,
    actor: Actor,
    clock: Clock,
    keys: Keys,
    filters: Filters,
    limit: int,
    cursor: str | None,
) -> Page[views.ReportSummary]:
    """Reports the actor may see, newest first: everyone their own named reports, leaders
    those assigned to them, safety officers and admins all.  Keyset-paginated."""
    if actor.user_id is None:
        return Page([], None)
    if access.Shape.of(actor).leader and not actor.sees_everything:
        page = _leader_page(session, actor, keys, filters, limit, cursor, clock.now())
    else:
        stmt = select(table(Report)).where(access.visible_to(actor))
        stmt = _filtered(session, stmt, filters, access.assignment_of_actor(), clock.now())
        page = paginate(
            session, stmt, ORDER, signing_key=keys.cursor, limit=limit, cursor=cursor,
            descending=True, params=access.params(actor), rows=True,
        )
    reports: list[views.ReportRecord] = page.items
    assignees = views.assignees_of(session, [r.id for r in reports])
    reporters = views.people(session, (r.reporter_id for r in reports
                                       if r.reporter_id and not r.anonymous))
    items = []
    for r in reports:
        seen = access.Access.of(actor, r, assignee=access.is_assignee(actor, assignees[r.id]),
                                reporter=False)  # the reporter side is all a list needs
        items.append(views.summary(
            r, staff_side=seen.staff_side, assignees=assignees[r.id],
            reporter=reporters.get(r.reporter_id or ""),
        ))
    return Page(items, page.next_cursor)


# The list's order, newest first; the last column is unique.  Its cursors are one kind for
# every reader, so they stay valid should the reader's roles change mid-list.
ORDER = (Report.created_at, Report.id)
_SCOPE = scope(list(ORDER), True)


def _leader_page(session: Session, actor: Actor, keys: Keys, filters: Filters, limit: int,
                 cursor: str | None, now: datetime) -> Page[Any]:
    """A leader's page, as a union of the reports assigned to them (walked newest first on
    the ``ix_report_assignees_inbox`` index: a page costs about ``limit`` index entries at any
    size) and their own named reports.  The same rule as
    :func:`speakup.services.reports.access.visible_to`, in a form the database can walk in
    order; the same cursors as the other lists."""
    a = ReportAssignee
    values = None if cursor is None else decode_cursor(keys.cursor, _SCOPE, cursor,
                                                       list(ORDER))
    assigned = (select(table(Report)).select_from(a).join(Report, Report.id == a.report_id)
                .where(a.user_id == bindparam("actor_id"), a.active.is_(True)))
    if values is not None:
        assigned = assigned.where(after([a.report_created_at, a.report_id], values, True))
    assigned = (_filtered(session, assigned, replace(filters, assigned_to_me=False), true(),
                          now)
                .order_by(a.report_created_at.desc(), a.report_id.desc()).limit(limit + 1))
    branches = [select(assigned.subquery())]
    if not filters.assigned_to_me:
        own = select(table(Report)).where(access.reporter_side(actor))
        if values is not None:
            own = own.where(after(list(ORDER), values, True))
        own = (_filtered(session, own, filters, true(), now)
               .order_by(*(c.desc() for c in ORDER)).limit(limit + 1))
        branches.append(select(own.subquery()))
    both = union_all(*branches).subquery()
    rows = session.connection().execute(
        select(both).order_by(both.c.created_at.desc(), both.c.id.desc()).limit(limit + 1),
        access.params(actor)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(keys.cursor, _SCOPE, [rows[-1].created_at, rows[-1].id])
    return Page(list(rows), next_cursor)


def _filtered(session: Session, stmt: Any, f: Filters, assigned: Any, now: datetime) -> Any:
    if f.status:
        stmt = stmt.where(Report.status == f.status)
    if f.kind:
        stmt = stmt.where(Report.kind == f.kind)
    if f.category:
        stmt = stmt.where(Report.category == f.category)
    if f.unit_id:
        stmt = stmt.where(Report.unit_id.in_(subtree_ids(session, f.unit_id)))
    if f.created_from:
        stmt = stmt.where(Report.created_at >= f.created_from)
    if f.created_to:
        stmt = stmt.where(Report.created_at < f.created_to)
    if f.assigned_to_me:
        stmt = stmt.where(assigned)
    if f.overdue is not None:
        late = and_(
            Report.status != Status.CLOSED,
            or_(
                and_(Report.acknowledged_at.is_(None), Report.ack_due_at < now),
                Report.close_due_at < now,
            ),
        )
        stmt = stmt.where(late if f.overdue else ~late)
    return stmt


