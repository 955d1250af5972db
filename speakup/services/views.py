"""What each side sees of a report.

The staff view (assignees, safety officers, admins) has routing, timeline, every message and,
for a named report only, ``reporter``.  The reporter view drops routing, timeline, internal
messages and ``reporter``.  An anonymous report never has a ``reporter`` key at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.models import Message, Report, ReportAssignee, ReportEvent, User

REPORT_FIELDS = (
    "id", "reference", "kind", "category", "unit_id", "title", "description",
    "immediate_risk", "anonymous", "involves_leader", "wants_involvement", "status",
    "created_at", "ack_due_at", "close_due_at", "acknowledged_at", "first_response_at",
    "closed_at", "outcome", "reopen_count",
)  # fmt: skip


def iso(moment: datetime) -> str:
    """The wire form of a time: ISO 8601, UTC, with ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def person(user: User | None) -> dict[str, str] | None:
    return None if user is None else {"id": user.id, "name": user.name}


def base_fields(report: Report) -> dict[str, Any]:
    return {name: getattr(report, name) for name in REPORT_FIELDS}


def assignees_of(session: Session, report_ids: Iterable[str]) -> dict[str, list[User]]:
    """Current assignees per report, in one query."""
    ids = list(report_ids)
    result: dict[str, list[User]] = {rid: [] for rid in ids}
    if not ids:
        return result
    stmt = (
        select(ReportAssignee.report_id, User)
        .join(User, User.id == ReportAssignee.user_id)
        .where(ReportAssignee.report_id.in_(ids), ReportAssignee.active.is_(True))
        .order_by(User.name, User.id)
    )
    for report_id, user in session.execute(stmt):
        result[report_id].append(user)
    return result


def summary(report: Report, *, staff_side: bool, assignees: list[User],
            reporter: User | None) -> dict[str, Any]:
    """A report as a list shows it: every field, plus routing and reporter for the staff side."""
    data = base_fields(report)
    if staff_side:
        data["routing"] = {
            "assignees": [person(u) for u in assignees],
            "reason": report.routing_reason,
        }
        if not report.anonymous and reporter is not None:
            data["reporter"] = person(reporter)
    return data


def detail(session: Session, report: Report, *, staff_side: bool) -> dict[str, Any]:
    """The full view of one report for one side."""
    reporter = None
    if staff_side and not report.anonymous and report.reporter_id is not None:
        reporter = session.get(User, report.reporter_id)
    assignees = assignees_of(session, [report.id])[report.id] if staff_side else []
    data = summary(report, staff_side=staff_side, assignees=assignees, reporter=reporter)
    people = _people(session, report.id)
    messages = session.scalars(
        select(Message).where(Message.report_id == report.id).order_by(Message.created_at)
    )
    data["messages"] = [
        _message(m, people) for m in messages if staff_side or not m.internal
    ]
    if staff_side:
        events = session.scalars(
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id)
            .order_by(ReportEvent.at, ReportEvent.id)
        )
        data["timeline"] = [
            {**e.details, "type": e.type, "at": e.at, "actor": people.get(e.actor_id or "")}
            for e in events
        ]
    return data


def _people(session: Session, report_id: str) -> dict[str, dict[str, str]]:
    """Names of everyone who acted on the report or wrote on it, in one query."""
    ids = select(ReportEvent.actor_id).where(ReportEvent.report_id == report_id).union(
        select(Message.author_id).where(Message.report_id == report_id)
    )
    users = session.scalars(select(User).where(User.id.in_(ids)))
    return {u.id: {"id": u.id, "name": u.name} for u in users}


def _message(message: Message, people: dict[str, dict[str, str]]) -> dict[str, Any]:
    # The reporter's own messages carry no author on either side: for an anonymous report
    # there is none, and for a named one the staff view shows the reporter already.
    author = people.get(message.author_id or "") if message.sender == "staff" else None
    return {
        "id": message.id,
        "body": message.body,
        "from": message.sender,
        "internal": message.internal,
        "created_at": message.created_at,
        "author": author,
    }
