"""Escalation: a report nobody acted on in time climbs the unit tree.

A report still unacknowledged after ``ack_due_at``, or open after ``close_due_at``, is
escalated one level: to the leaders of the nearest unit above the one whose leaders hold it
(``escalation_unit_id``) that has leaders other than its reporter, and from the top of the
tree to the safety officers (``escalation_unit_id`` becomes NULL: nothing is above them, so
it is escalated no further).  The new assignees join the ones it had; the escalation is in
its timeline and audit log, and its outbox event e-mails the new assignees.

Each escalation moves every missed due time one SLA period (the report's own, from its
creation) later, or one period after the pass when that is past already: so a pass repeated
at once does nothing, and a report still ignored after another period climbs one more level.

A pass is safe on several machines at once: on PostgreSQL it locks the reports it escalates
and skips those another pass holds (``FOR UPDATE SKIP LOCKED``), and a report it reads has
its due times moved before the lock is released; SQLite's write lock serialises passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from speakup.db import Database, table
from speakup.models import Report, ReportAssignee, Unit
from speakup.models.reports import assignee_ids
from speakup.services import routing
from speakup.services.core.clock import Clock
from speakup.services.reports import history
from speakup.vocabulary import Status

# Reports escalated per transaction: a pass over a large backlog commits as it goes.
BATCH = 200

_REPORTS = table(Report)
_ASSIGNEES = table(ReportAssignee)
_DUE = (
    select(_REPORTS.c.id, _REPORTS.c.status, _REPORTS.c.anonymous, _REPORTS.c.reporter_id,
           _REPORTS.c.created_at, _REPORTS.c.acknowledged_at, _REPORTS.c.ack_due_at,
           _REPORTS.c.close_due_at, _REPORTS.c.sla_ack_hours, _REPORTS.c.sla_close_hours,
           _REPORTS.c.escalation_level, _REPORTS.c.escalation_unit_id)
    .where(_REPORTS.c.escalation_unit_id.is_not(None),
           or_(and_(_REPORTS.c.acknowledged_at.is_(None),
                    _REPORTS.c.ack_due_at <= bindparam("now")),
               and_(_REPORTS.c.status != Status.CLOSED.value,
                    _REPORTS.c.close_due_at <= bindparam("now"))))
    .order_by(_REPORTS.c.created_at, _REPORTS.c.id)
    .limit(BATCH)
)
_DUE_SKIP_LOCKED = _DUE.with_for_update(skip_locked=True, of=_REPORTS)
_CHANGE = update(_REPORTS).where(_REPORTS.c.id == bindparam("b_report_id"))


@dataclass(frozen=True)
class Escalated:
    report_id: str
    level: int
    unit_id: str | None  # None: the safety officers
    assignee_ids: tuple[str, ...]


def run_pass(db: Database, *, clock: Clock) -> list[Escalated]:
    """One pass: escalate every report past a due time one level; returns what it did."""
    done: list[Escalated] = []
    while True:
        with db.write() as session:
            now = clock.now()
            due = _DUE if db.write_lock_is_global else _DUE_SKIP_LOCKED
            rows = session.connection().execute(due, {"now": now}).all()
            done += [_escalate(session, row, now) for row in rows]
        if len(rows) < BATCH:
            return done


def _escalate(session: Session, report: Any, now: datetime) -> Escalated:
    exclude = None if report.anonymous else report.reporter_id
    missed_ack = report.acknowledged_at is None and report.ack_due_at <= now
    why = ("It was not acknowledged in time" if missed_ack
           else "Its loop was not closed in time")
    above = routing.next_leaders_up(session, report.escalation_unit_id, exclude)
    if above is not None:
        unit_id, people = above
        name = session.connection().execute(
            select(Unit.name).where(Unit.id == unit_id)).scalar_one()
        reason = f"{why}, so it was escalated to the leaders of {name}."
    else:
        unit_id, people = None, routing.safety_officers(session, exclude=exclude)
        reason = f"{why}, so it was escalated to the safety officers."
        if not people:
            reason = f"{why}; there is nobody above to escalate it to."
    values: dict[str, Any] = {"escalation_level": report.escalation_level + 1,
                              "escalation_unit_id": unit_id}
    if missed_ack:
        values["ack_due_at"] = _next_due(report.ack_due_at, report.sla_ack_hours, now)
    if report.status != Status.CLOSED.value and report.close_due_at <= now:
        values["close_due_at"] = _next_due(report.close_due_at, report.sla_close_hours, now)
    added, active = _assign(session, report, [p.id for p in people], now)
    values["assignee_ids"] = assignee_ids(active)
    session.connection().execute(_CHANGE, {"b_report_id": report.id, **values})
    history.record(session, [history.entry(
        report_id=report.id, type="escalated", at=now,
        details={"reason": reason, "assignees": [{"id": p.id, "name": p.name}
                                                 for p in people]})],
        status=report.status, notify={"escalated": history.Notify(user_ids=tuple(added))})
    return Escalated(report.id, values["escalation_level"], unit_id, tuple(added))


def _next_due(missed: datetime, hours: int, now: datetime) -> datetime:
    period = timedelta(hours=hours)
    return max(missed + period, now + period)


def _assign(session: Session, report: Any, user_ids: list[str], now: datetime
            ) -> tuple[list[str], list[str]]:
    """Make ``user_ids`` active assignees besides the current ones; returns those who were
    not active assignees before (the ones to tell), and every active assignee now."""
    connection = session.connection()
    existing = dict(connection.execute(
        select(_ASSIGNEES.c.user_id, _ASSIGNEES.c.active)
        .where(_ASSIGNEES.c.report_id == report.id)).all())
    added = [uid for uid in user_ids if not existing.get(uid)]
    again = [uid for uid in added if uid in existing]
    if again:
        connection.execute(
            update(_ASSIGNEES).where(_ASSIGNEES.c.report_id == report.id,
                                     _ASSIGNEES.c.user_id.in_(again))
            .values(active=True, assigned_at=now))
    new = [uid for uid in added if uid not in existing]
    if new:
        connection.execute(insert(_ASSIGNEES), [
            {"report_id": report.id, "user_id": uid, "assigned_at": now, "active": True,
             "report_created_at": report.created_at} for uid in new])
    return added, [uid for uid, active in existing.items() if active] + added
