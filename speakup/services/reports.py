"""Reading reports: who may see which report, in which view, and scoped lists.

Safety officers and admins see every report; a leader sees the reports assigned to them while
they hold the leader role; everyone sees their own named reports (the reporter view).  A
report the caller may not see is :class:`NotFound`, exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from speakup.models import Report, ReportAssignee, User
from speakup.services import views
from speakup.services.actors import Actor
from speakup.services.clock import Clock
from speakup.services.errors import NotFound
from speakup.services.keys import Keys
from speakup.services.org import subtree_ids
from speakup.services.pages import Page, paginate

STATUSES = ("new", "acknowledged", "in_progress", "closed")
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


def side_of(session: Session, actor: Actor, report: Report) -> str | None:
    """``"staff"``, ``"reporter"`` or None (may not see it)."""
    if actor.followup_report_id is not None:
        return "reporter" if actor.followup_report_id == report.id else None
    if actor.user_id is None:
        return None
    if actor.sees_everything or (
        actor.has_role("leader") and _is_assignee(session, report.id, actor.user_id)
    ):
        return "staff"
    if not report.anonymous and report.reporter_id == actor.user_id:
        return "reporter"
    return None


def visible_report(session: Session, *, actor: Actor, report_id: str) -> tuple[Report, str]:
    """The report and the side the actor sees it from, else :class:`NotFound`."""
    report = session.get(Report, report_id)
    side = side_of(session, actor, report) if report is not None else None
    if report is None or side is None:
        raise NotFound(NOT_FOUND)
    return report, side


def get_report(session: Session, *, actor: Actor, report_id: str) -> dict[str, Any]:
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
) -> Page[dict[str, Any]]:
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
    stmt = select(Report)
    if not actor.sees_everything:
        own = and_(Report.anonymous.is_(False), Report.reporter_id == me)
        # Assignments count only while the person is a leader: taking the role away takes
        # their reports away too, although the assignment stays on record.
        stmt = stmt.where(or_(own, assigned) if actor.has_role("leader") else own)
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
            Report.status != "closed",
            or_(
                and_(Report.acknowledged_at.is_(None), Report.ack_due_at < now),
                Report.close_due_at < now,
            ),
        )
        stmt = stmt.where(late if f.overdue else ~late)
    return stmt


def _is_assignee(session: Session, report_id: str, user_id: str) -> bool:
    row = session.get(ReportAssignee, (report_id, user_id))
    return row is not None and row.active
