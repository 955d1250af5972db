"""Reading reports: who may see which report, in which view, and scoped lists.

Safety officers and admins see every report; a leader sees the reports assigned to them while
they hold the leader role; everyone sees their own named reports (the reporter view).  A
report the caller may not see is :class:`NotFound`, exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from speakup.models import Report, ReportAssignee, User
from speakup.services.core.actors import Actor
from speakup.services.core.clock import Clock
from speakup.services.core.errors import NotFound
from speakup.services.core.keys import Keys
from speakup.services.core.pages import Page, paginate
from speakup.services.org import subtree_ids
from speakup.services.reports import views
from speakup.vocabulary import Status

NOT_FOUND = "No such report."


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


def staff_side(actor: Actor) -> ColumnElement[bool]:
    """The reports the actor sees from the staff side: all for safety officers and admins,
    for a leader those assigned to them (while they hold the role), else none."""
    if actor.sees_everything:
        return true()
    if actor.user_id is not None and actor.has_role("leader"):
        return exists().where(
            ReportAssignee.report_id == Report.id,
            ReportAssignee.user_id == actor.user_id,
            ReportAssignee.active.is_(True),
        )
    return false()


def reporter_side(actor: Actor) -> ColumnElement[bool]:
    """The reports the actor sees as their reporter: their own named reports, or the one
    report of a follow-up token."""
    if actor.followup_report_id is not None:
        return Report.id == actor.followup_report_id
    if actor.user_id is not None:
        return and_(Report.anonymous.is_(False), Report.reporter_id == actor.user_id)
    return false()


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The one visibility rule, as SQL: the list, the detail (and, later, metrics and the
    huddle) filter with it."""
    return or_(staff_side(actor), reporter_side(actor))


def visible_report(session: Session, *, actor: Actor, report_id: str) -> tuple[Report, str]:
    """The report and the side the actor sees it from (``"staff"`` or ``"reporter"``), else
    :class:`NotFound`; one query."""
    row = session.execute(
        select(Report, staff_side(actor).label("staff"))
        .where(Report.id == report_id, visible_to(actor))
    ).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    report, staff = row
    return report, "staff" if staff else "reporter"


def get_report(session: Session, *, actor: Actor, report_id: str) -> views.ReportView:
    """The report as the actor may see it (staff or reporter view)."""
    report, side = visible_report(session, actor=actor, report_id=report_id)
    return views.detail(session, report, staff_side=side == "staff")


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
    me = actor.user_id
    assigned = exists().where(
        ReportAssignee.report_id == Report.id,
        ReportAssignee.user_id == me,
        ReportAssignee.active.is_(True),
    )
    # Assignments count only while the person is a leader: taking the role away takes their
    # reports away too, although the assignment stays on record.
    stmt = select(Report).where(visible_to(actor))
    stmt = _filtered(session, stmt, filters, assigned, clock.now())
    page = paginate(
        session, stmt, [Report.created_at, Report.id], signing_key=keys.cursor, limit=limit,
        cursor=cursor, descending=True,
    )
    reports: list[Report] = page.items
    assignees = views.assignees_of(session, [r.id for r in reports])
    reporter_ids = {r.reporter_id for r in reports if r.reporter_id and not r.anonymous}
    reporters = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_(reporter_ids)))
    } if reporter_ids else {}
    items = []
    for r in reports:
        staff = actor.sees_everything or (
            actor.has_role("leader") and any(u.id == me for u in assignees[r.id]))
        items.append(views.summary(
            r, staff_side=staff, assignees=assignees[r.id],
            reporter=reporters.get(r.reporter_id or ""),
        ))
    return Page(items, page.next_cursor)


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


