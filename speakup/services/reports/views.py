"""What each side sees of a report, as frozen dataclasses, and their wire form.

The staff view (assignees, safety officers, admins) has routing, timeline, every message and,
for a named report only, ``reporter``.  The reporter view drops routing, timeline, internal
messages and ``reporter``.  An anonymous report never has a ``reporter`` key at all.

Services return these views; :func:`wire` turns one into the JSON-ready dict a response
sends, field by field in the order the API's schemas declare them.  It is plain Python
rather than a marshmallow dump because a list page is ~1,300 fields: the schemas in
``speakup.schemas.reports`` describe the same shapes for the spec, and a test holds the two
equal (``tests/unit/reports/test_views.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from speakup.db import table
from speakup.models import Message, Report, ReportAssignee, ReportEvent, User

# A report as the ORM loads it, or as a row of its table (what the hot paths read).
ReportRecord = Report | Row[Any]


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Routing:
    assignees: tuple[Person, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class MessageView:
    id: str
    body: str
    sender: str  # "staff" or "reporter"; "from" on the wire
    internal: bool
    created_at: datetime
    author: Person | None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the timeline; the optional fields are set by the entries they belong to."""

    type: str
    at: datetime
    actor: Person | None
    reason: str | None = None  # routed, assigned, reopened
    assignees: tuple[Person, ...] | None = None  # routed, assigned
    message_id: str | None = None  # message, acknowledged and closed with a message
    internal: bool | None = None  # message
    outcome: str | None = None  # closed
    action_id: str | None = None  # action_update
    status: str | None = None  # action_update
    loop_closed: str | None = None  # feedback
    would_speak_up_again: str | None = None  # feedback
    comment: str | None = None  # feedback


# The timeline's optional fields that are plain values in ``details`` and on the wire.
TIMELINE_DETAILS = ("reason", "message_id", "internal", "outcome", "action_id", "status",
                    "loop_closed", "would_speak_up_again", "comment")


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """A report as a list shows it: ``routing`` and ``reporter`` only on the staff side
    (``reporter`` only for a named report)."""

    id: str
    reference: str
    kind: str
    category: str
    unit_id: str
    title: str | None
    description: str
    immediate_risk: bool
    anonymous: bool
    involves_leader: bool
    wants_involvement: bool
    status: str
    created_at: datetime
    ack_due_at: datetime
    close_due_at: datetime
    acknowledged_at: datetime | None
    first_response_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    reopen_count: int
    routing: Routing | None = None
    reporter: Person | None = None


@dataclass(frozen=True, slots=True)
class ReportView(ReportSummary):
    """One report: its messages (the reporter side never sees internal ones) and, for the
    staff side only, its timeline."""

    messages: tuple[MessageView, ...] = ()
    timeline: tuple[TimelineEntry, ...] | None = None


def iso(moment: datetime) -> str:
    """The wire form of a time: ISO 8601, UTC, with ``Z``."""
    if moment.tzinfo is not UTC:  # the database gives UTC already; a page has 250 times
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def person_wire(p: Person | None) -> dict[str, str] | None:
    return None if p is None else {"id": p.id, "name": p.name}


def summary_wire(v: ReportSummary) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": v.id,
        "reference": v.reference,
        "kind": v.kind,
        "category": v.category,
        "unit_id": v.unit_id,
        "title": v.title,
        "description": v.description,
        "immediate_risk": v.immediate_risk,
        "anonymous": v.anonymous,
        "involves_leader": v.involves_leader,
        "wants_involvement": v.wants_involvement,
        "status": v.status,
        "created_at": iso(v.created_at),
        "ack_due_at": iso(v.ack_due_at),
        "close_due_at": iso(v.close_due_at),
        "acknowledged_at": _iso_or_none(v.acknowledged_at),
        "first_response_at": _iso_or_none(v.first_response_at),
        "closed_at": _iso_or_none(v.closed_at),
        "outcome": v.outcome,
        "reopen_count": v.reopen_count,
    }
    if v.routing is not None:
        data["routing"] = {"assignees": [person_wire(p) for p in v.routing.assignees],
                           "reason": v.routing.reason}
    if v.reporter is not None:
        data["reporter"] = person_wire(v.reporter)
    return data


def message_wire(m: MessageView) -> dict[str, Any]:
    return {"id": m.id, "body": m.body, "from": m.sender, "internal": m.internal,
            "created_at": iso(m.created_at), "author": person_wire(m.author)}


def timeline_wire(e: TimelineEntry) -> dict[str, Any]:
    data: dict[str, Any] = {"type": e.type, "at": iso(e.at), "actor": person_wire(e.actor)}
    if e.reason is not None:
        data["reason"] = e.reason
    if e.assignees is not None:
        data["assignees"] = [person_wire(p) for p in e.assignees]
    for name in TIMELINE_DETAILS[1:]:
        value = getattr(e, name)
        if value is not None:
            data[name] = value
    return data


def wire(v: ReportSummary) -> dict[str, Any]:
    """The JSON-ready form of a summary or a full report view."""
    data = summary_wire(v)
    if isinstance(v, ReportView):
        data["messages"] = [message_wire(m) for m in v.messages]
        if v.timeline is not None:
            data["timeline"] = [timeline_wire(e) for e in v.timeline]
    return data


_FIELD_NAMES = (
    "id", "reference", "kind", "category", "unit_id", "title", "description",
    "immediate_risk", "anonymous", "involves_leader", "wants_involvement", "status",
    "created_at", "ack_due_at", "close_due_at", "acknowledged_at", "first_response_at",
    "closed_at", "outcome", "reopen_count",
)  # fmt: skip


_PICK_FIELDS = itemgetter(*_FIELD_NAMES)


def _fields(report: ReportRecord) -> dict[str, Any]:
    if isinstance(report, Row):  # a page holds 50: pick from the row's mapping in one call
        return dict(zip(_FIELD_NAMES, _PICK_FIELDS(report._mapping), strict=True))
    return {name: getattr(report, name) for name in _FIELD_NAMES}


# Statements built once: building one costs more than running it.
_ASSIGNEES = (
    select(ReportAssignee.report_id, User.id, User.name)
    .join(User, User.id == ReportAssignee.user_id)
    .where(ReportAssignee.report_id.in_(bindparam("report_ids", expanding=True)),
           ReportAssignee.active.is_(True))
    .order_by(User.name, User.id)
)
# The named reporter's name as a column of a report's row (None for an anonymous report,
# which has no reporter): the statements that read reports for a view select it too.
REPORTER_NAME = (select(User.name).where(User.id == Report.reporter_id).correlate(Report)
                 .scalar_subquery().label("reporter_name_"))
# Messages and timeline entries with their author's and actor's names.
_MESSAGES = (select(table(Message), User.name.label("author_name"))
             .outerjoin(User, User.id == Message.author_id)
             .where(Message.report_id == bindparam("report_id"))
             .order_by(Message.created_at, Message.id))
_EVENTS = (select(table(ReportEvent), User.name.label("actor_name"))
           .outerjoin(User, User.id == ReportEvent.actor_id)
           .where(ReportEvent.report_id == bindparam("report_id"))
           .order_by(ReportEvent.at, ReportEvent.id))


def assignees_of(session: Session, report_ids: Iterable[str]) -> dict[str, list[Person]]:
    """Current assignees per report, in one query (ids and names only)."""
    ids = list(report_ids)
    result: dict[str, list[Person]] = {rid: [] for rid in ids}
    if not ids:
        return result
    for report_id, user_id, name in session.connection().execute(
            _ASSIGNEES, {"report_ids": ids}):
        result[report_id].append(Person(user_id, name))
    return result


def summary(report: ReportRecord, *, staff_side: bool, assignees: Iterable[Person],
            reporter: Person | None) -> ReportSummary:
    """A report as a list shows it: every field, plus routing and reporter for the staff side."""
    return ReportSummary(**_fields(report), **_staff_extras(report, staff_side, assignees,
                                                           reporter))


def _staff_extras(report: ReportRecord, staff_side: bool, assignees: Iterable[Person],
                  reporter: Person | None) -> dict[str, Any]:
    if not staff_side:
        return {}
    extras: dict[str, Any] = {"routing": Routing(tuple(assignees), report.routing_reason)}
    if not report.anonymous and reporter is not None:
        extras["reporter"] = reporter
    return extras


def submitted(row: Mapping[str, Any]) -> ReportView:
    """A report just submitted (its row, as intake built it), as its reporter sees it."""
    return ReportView(**{name: row[name] for name in _FIELD_NAMES})


def reporter_of(report: ReportRecord) -> Person | None:
    """The named reporter of a report read with :data:`REPORTER_NAME`; None for an anonymous
    one."""
    if report.anonymous or report.reporter_id is None:
        return None
    if not isinstance(report, Row):
        raise TypeError("a named report's view needs its row read with REPORTER_NAME")
    return Person(report.reporter_id, report.reporter_name_)


def detail(session: Session, report: ReportRecord, *, staff_side: bool) -> ReportView:
    """The full view of one report for one side (``report`` read with
    :data:`REPORTER_NAME`)."""
    assignees = assignees_of(session, [report.id])[report.id] if staff_side else []
    connection = session.connection()
    messages = connection.execute(_MESSAGES, {"report_id": report.id})
    timeline = None
    if staff_side:
        events = connection.execute(_EVENTS, {"report_id": report.id})
        timeline = tuple(_entry(e) for e in events)
    return ReportView(
        **_fields(report),
        **_staff_extras(report, staff_side, assignees,
                        reporter_of(report) if staff_side else None),
        messages=tuple(_message(m) for m in messages if staff_side or not m.internal),
        timeline=timeline,
    )


def _entry(event: Row[Any]) -> TimelineEntry:
    details = event.details or {}
    assignees = details.get("assignees")
    return TimelineEntry(
        type=event.type, at=event.at,
        actor=None if event.actor_id is None else Person(event.actor_id, event.actor_name),
        assignees=None if assignees is None else tuple(
            Person(a["id"], a["name"]) for a in assignees),
        **{name: details[name] for name in TIMELINE_DETAILS if name in details},
    )


def _message(message: Row[Any]) -> MessageView:
    # The reporter's own messages carry no author on either side: for an anonymous report there
    # is none, and for a named one the staff view shows the reporter already.
    author = None
    if message.sender == "staff" and message.author_id is not None:
        author = Person(message.author_id, message.author_name)
    return MessageView(id=message.id, body=message.body, sender=message.sender,
                       internal=message.internal, created_at=message.created_at,
                       author=author)
