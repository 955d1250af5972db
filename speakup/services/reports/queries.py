"""Reading reports: one report in the view its reader may have, and scoped lists.

Who may see which report is :mod:`speakup.services.reports.access`; a report the caller may
not see is :class:`NotFound`, exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, or_, select, union_all
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


_BY_ID = select(table(Report), views.REPORTER_NAME).where(Report.id == bindparam("report_id"))


def view_after(session: Session, *, report_id: str, staff_side: bool, row: Any = None
               ) -> views.ReportView:
    """The report after a workflow step, from the side its actor took the step on (a
    reassignment may have taken it away from them since); ``row`` is the report's row as the
    step's change returned it (read with :data:`views.REPORTER_NAME`), else it is read."""
    if row is None:
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
        stmt = select(table(Report), views.REPORTER_NAME).where(
            access.visible_to(actor), *_filter_clauses(_shape(filters, cursor)))
        if filters.assigned_to_me:
            stmt = stmt.where(access.assignment_of_actor())
        params = {**access.params(actor), **_filter_values(session, filters, clock.now())}
        page = paginate(
            session, stmt, list(ORDER), signing_key=keys.cursor, limit=limit, cursor=cursor,
            descending=True, params=params, rows=True,
        )
    reports: list[views.ReportRecord] = page.items
    assignees = views.assignees_of(session, [r.id for r in reports])
    items = []
    for r in reports:
        seen = access.Access.of(actor, r, assignee=access.is_assignee(actor, assignees[r.id]),
                                reporter=False)  # the reporter side is all a list needs
        items.append(views.summary(
            r, staff_side=seen.staff_side, assignees=assignees[r.id],
            reporter=views.reporter_of(r),
        ))
    return Page(items, page.next_cursor)


# The list's order, newest first; the last column is unique.  Its cursors are one kind for
# every reader, so they stay valid should the reader's roles change mid-list.
ORDER = (Report.created_at, Report.id)
_SCOPE = scope(list(ORDER), True)


class _Shape(NamedTuple):
    """Which filters a leader's page statement has; their values are bound per request, so
    one statement is built per shape (building one costs more than running it)."""

    status: bool
    kind: bool
    category: bool
    unit: bool
    overdue: bool | None
    created_from: bool
    created_to: bool
    assigned_only: bool
    cursor: bool


_LEADER_PAGES: dict[_Shape, Any] = {}


def _shape(f: Filters, cursor: str | None) -> _Shape:
    return _Shape(bool(f.status), bool(f.kind), bool(f.category), bool(f.unit_id), f.overdue,
                  bool(f.created_from), bool(f.created_to), f.assigned_to_me,
                  cursor is not None)


def _leader_page(session: Session, actor: Actor, keys: Keys, filters: Filters, limit: int,
                 cursor: str | None, now: datetime) -> Page[Any]:
    """A leader's page, as a union of the reports assigned to them (walked newest first on
    the ``ix_report_assignees_inbox`` index: a page costs about ``limit`` index entries at any
    size) and their own named reports.  The same rule as
    :func:`speakup.services.reports.access.visible_to`, in a form the database can walk in
    order; the same cursors as the other lists."""
    params: dict[str, Any] = {**access.params(actor), **_filter_values(session, filters, now),
                              "limit": limit + 1}
    if cursor is not None:
        params["c0"], params["c1"] = decode_cursor(keys.cursor, _SCOPE, cursor, list(ORDER))
    shape = _shape(filters, cursor)
    stmt = _LEADER_PAGES.get(shape)
    if stmt is None:
        stmt = _LEADER_PAGES[shape] = _leader_statement(actor, shape)
    rows = session.connection().execute(stmt, params).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(keys.cursor, _SCOPE, [rows[-1].created_at, rows[-1].id])
    return Page(list(rows), next_cursor)


def _leader_statement(actor: Actor, shape: _Shape) -> Any:
    a = ReportAssignee
    cursor: list[Any] = [bindparam("c0"), bindparam("c1")]
    conditions = _filter_clauses(shape)
    assigned = (select(table(Report), views.REPORTER_NAME)
                .select_from(a).join(Report, Report.id == a.report_id)
                .where(a.user_id == bindparam("actor_id"), a.active.is_(True), *conditions))
    if shape.cursor:
        assigned = assigned.where(after([a.report_created_at, a.report_id], cursor, True))
    assigned = (assigned.order_by(a.report_created_at.desc(), a.report_id.desc())
                .limit(bindparam("limit")))
    branches = [select(assigned.subquery())]
    if not shape.assigned_only:
        own = select(table(Report), views.REPORTER_NAME).where(access.reporter_side(actor),
                                                               *conditions)
        if shape.cursor:
            own = own.where(after(list(ORDER), cursor, True))
        own = own.order_by(*(c.desc() for c in ORDER)).limit(bindparam("limit"))
        branches.append(select(own.subquery()))
    both = union_all(*branches).subquery()
    return (select(both).order_by(both.c.created_at.desc(), both.c.id.desc())
            .limit(bindparam("limit")))


def _filter_clauses(shape: _Shape) -> list[Any]:
    """The filters of ``shape`` as conditions on reports, with bound values (see
    :func:`_filter_values`)."""
    clauses: list[Any] = []
    if shape.status:
        clauses.append(Report.status == bindparam("status"))
    if shape.kind:
        clauses.append(Report.kind == bindparam("kind"))
    if shape.category:
        clauses.append(Report.category == bindparam("category"))
    if shape.unit:
        clauses.append(Report.unit_id.in_(bindparam("unit_ids", expanding=True)))
    if shape.created_from:
        clauses.append(Report.created_at >= bindparam("created_from"))
    if shape.created_to:
        clauses.append(Report.created_at < bindparam("created_to"))
    if shape.overdue is not None:
        late = _late(bindparam("now"))
        clauses.append(late if shape.overdue else ~late)
    return clauses


def _filter_values(session: Session, f: Filters, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"status": f.status, "kind": f.kind, "category": f.category,
                              "created_from": f.created_from, "created_to": f.created_to,
                              "now": now}
    if f.unit_id:
        values["unit_ids"] = subtree_ids(session, f.unit_id)
    return values


def _late(now: Any) -> Any:
    """Open and past a due time: unacknowledged past ``ack_due_at``, or past
    ``close_due_at``."""
    return and_(
        Report.status != Status.CLOSED,
        or_(
            and_(Report.acknowledged_at.is_(None), Report.ack_due_at < now),
            Report.close_due_at < now,
        ),
    )
