"""A unit's daily huddle: what a screen on the ward wall shows, in one read.

For a unit and every unit below it: the open reports with their age and SLA state, the
reports closed in the last :data:`CLOSED_DAYS` days with their outcome and the closing
response ("you said, we did"), the improvement actions in progress, and the median time to
acknowledge over the last :data:`MEDIAN_DAYS` days (the response-time metrics' figure).

Who may see it: the leaders of the unit or of any unit above it (while they hold the leader
role), and safety officers.  Units are not secret, so an unknown (or inactive) unit is
:class:`NotFound` and a known one the actor may not see is :class:`Forbidden`.

A wall screen is seen by everyone passing by: the huddle never carries a reporter, whether a
report is anonymous, a description, or any message but the closing response and the latest
update of an action (both written for the reporter to read).

Its cost does not grow with the unit's history: a fixed number of statements (the access
check, the subtree, then one each for the open reports, the closings, the actions and the
acknowledgements), each list bounded at :data:`LIMIT` items with its full count beside it,
each reading the reports' columns an index can hold and the rest only for listed reports.

The median is not asked of :func:`speakup.services.reports.metrics.response_times`: that
computes every figure of the metrics (three percentiles, a dozen counts, the feedback) and
cost a quarter of a second by itself for a whole site at a million reports.  The huddle reads
the same columns the same way for the three figures it shows; a test holds them equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Float,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from speakup import percentiles
from speakup.db import table
from speakup.models import (
    ActionReport,
    ActionUpdate,
    ImprovementAction,
    Message,
    Report,
    ReportEvent,
    Unit,
    UnitLeader,
)
from speakup.services.core.actors import Actor
from speakup.services.core.errors import Forbidden, NotFound
from speakup.services.org.units import subtree_ids
from speakup.services.reports.improvements import ActionStatus
from speakup.services.reports.views import iso
from speakup.vocabulary import Role, Status

LIMIT = 200  # items per list; the counts cover them all
CLOSED_DAYS = 14
MEDIAN_DAYS = 30
DUE_SOON = timedelta(hours=24)
NOT_FOUND = "No such unit."


class Sla(StrEnum):
    """Where an open report stands against its due times, the most urgent first."""

    ACK_OVERDUE = "ack_overdue"  # unacknowledged past ack_due_at
    CLOSE_OVERDUE = "close_overdue"  # past close_due_at
    DUE_SOON = "due_soon"  # its next due time within DUE_SOON
    ON_TRACK = "on_track"


@dataclass(frozen=True, slots=True)
class OpenReport:
    id: str
    reference: str
    kind: str
    category: str
    title: str | None
    immediate_risk: bool
    status: str
    unit_id: str
    created_at: datetime
    age_hours: float
    ack_due_at: datetime
    close_due_at: datetime
    sla: str


@dataclass(frozen=True, slots=True)
class ClosedReport:
    reference: str
    kind: str
    category: str
    title: str | None
    closed_at: datetime  # the latest closing
    outcome: str | None
    response: str | None  # the closing's reporter-visible response


@dataclass(frozen=True, slots=True)
class ActionInProgress:
    id: str
    title: str
    unit_id: str
    status: str
    latest_update: str | None
    latest_update_at: datetime | None
    linked_reports: int


@dataclass(frozen=True, slots=True)
class Huddle:
    unit_id: str
    as_of: datetime
    open_total: int
    open_by_sla: dict[str, int]
    open: tuple[OpenReport, ...]
    closed_since: datetime
    closed_total: int
    closed: tuple[ClosedReport, ...]
    actions_total: int
    actions: tuple[ActionInProgress, ...]
    median_ack_hours: float | None
    reports: int
    acknowledged: int


def wire(h: Huddle) -> dict[str, Any]:
    """The JSON-ready form, in the order :class:`speakup.schemas.huddle.HuddleSchema`
    declares it."""
    return {
        "unit_id": h.unit_id,
        "as_of": iso(h.as_of),
        "open": {
            "total": h.open_total,
            "by_sla": dict(h.open_by_sla),
            "items": [{
                "id": r.id, "reference": r.reference, "kind": r.kind, "category": r.category,
                "title": r.title, "immediate_risk": r.immediate_risk, "status": r.status,
                "unit_id": r.unit_id, "created_at": iso(r.created_at),
                "age_hours": r.age_hours, "ack_due_at": iso(r.ack_due_at),
                "close_due_at": iso(r.close_due_at), "sla": r.sla,
            } for r in h.open],
        },
        "closed_recently": {
            "since": iso(h.closed_since),
            "total": h.closed_total,
            "items": [{
                "reference": c.reference, "kind": c.kind, "category": c.category,
                "title": c.title, "closed_at": iso(c.closed_at), "outcome": c.outcome,
                "response": c.response,
            } for c in h.closed],
        },
        "actions_in_progress": {
            "total": h.actions_total,
            "items": [{
                "id": a.id, "title": a.title, "unit_id": a.unit_id, "status": a.status,
                "latest_update": None if a.latest_update_at is None else {
                    "body": a.latest_update, "at": iso(a.latest_update_at)},
                "linked_reports": a.linked_reports,
            } for a in h.actions],
        },
        "median_ack_hours_30d": h.median_ack_hours,
        "reports_30d": h.reports,
        "acknowledged_30d": h.acknowledged,
    }


# --- the statements, built once (building one costs more than running it) ---------------

_R = table(Report)
_TIME = _R.c.created_at.type
_UNITS: BindParameter[Any] = bindparam("unit_ids", expanding=True)
_LIMIT: BindParameter[Any] = bindparam("limit")

# The unit, and whether the actor leads it or a unit above it: the chain upwards is a
# recursive CTE (UNION, so that a cycle, should one slip in, still ends).
_up = (select(Unit.id, Unit.parent_id).where(Unit.id == bindparam("unit_id"))
       .cte("up", recursive=True))
_up = _up.union(select(Unit.id, Unit.parent_id).join(_up, Unit.id == _up.c.parent_id))
_unit = table(Unit).alias("unit")
_ACCESS = select(
    _unit.c.active,
    exists().where(UnitLeader.user_id == bindparam("actor_id"),
                   UnitLeader.unit_id.in_(select(_up.c.id))).label("leads"),
).where(_unit.c.id == bindparam("unit_id"))


def _sla_state() -> Any:
    """:class:`Sla` of an open report as of ``:now`` (``:soon`` is DUE_SOON later)."""
    now, soon = bindparam("now", type_=_TIME), bindparam("soon", type_=_TIME)
    unacknowledged = _R.c.acknowledged_at.is_(None)
    return case(
        (and_(unacknowledged, _R.c.ack_due_at < now), Sla.ACK_OVERDUE.value),
        (_R.c.close_due_at < now, Sla.CLOSE_OVERDUE.value),
        (or_(and_(unacknowledged, _R.c.ack_due_at <= soon), _R.c.close_due_at <= soon),
         Sla.DUE_SOON.value),
        else_=Sla.ON_TRACK.value,
    )


# Each list is one statement of two parts the database plans apart: the counts (one row,
# over every matching report) and the page (at most :limit ids, from the same index), then
# the rest of each listed report read by id.  Both parts read only what an index can hold
# (unit, times, id); a unit can have tens of thousands of reports open, and reading each of
# them from the table would cost seconds at a million reports.  An empty page still gives
# the counts' row, with NULL for the report.
_LISTED = (_R.c.reference, _R.c.kind, _R.c.category, _R.c.title)
# The status as a literal, not a parameter: SQLite takes a partial index only where the query
# says what the index's condition says.
_CLOSED_STATUS: Any = literal_column(f"'{Status.CLOSED.value}'")


def _open_statement() -> Any:
    """Open reports: how many in each SLA state, and the oldest of them."""
    r = _R.c
    where = (r.unit_id.in_(_UNITS), r.status != _CLOSED_STATUS)
    state = _sla_state()
    counts = select(func.count().label("total_"), *[
        func.count().filter(state == s.value).label(s.value) for s in Sla]).where(*where)
    page = (select(r.id, r.created_at).where(*where).order_by(r.created_at, r.id)
            .limit(_LIMIT).subquery("page"))
    counted = counts.subquery("counted")
    return (select(counted, page.c.id, page.c.created_at, *_LISTED, r.immediate_risk,
                   r.status, r.unit_id, r.ack_due_at, r.close_due_at, state.label("sla"))
            .select_from(counted).outerjoin(page, true()).outerjoin(_R, r.id == page.c.id)
            .order_by(page.c.created_at, page.c.id))


def _closed_statement() -> Any:
    """Reports closed (still) since ``:since`` by their latest closing: how many, and the
    newest of them with the body of the closing's response (its timeline entry names the
    message)."""
    r = _R.c
    where = (r.unit_id.in_(_UNITS), r.status == _CLOSED_STATUS,
             r.last_closed_at >= bindparam("since", type_=_TIME))
    hint = "INDEXED BY ix_reports_closed_unit"  # not the index of every closed report
    counted = (select(func.count().label("total_")).where(*where)
               .with_hint(_R, hint, "sqlite").subquery("counted"))
    page = (select(r.id, r.last_closed_at).where(*where).with_hint(_R, hint, "sqlite")
            .order_by(r.last_closed_at.desc(), r.id.desc()).limit(_LIMIT).subquery("page"))
    response = (select(Message.body)
                .join(ReportEvent, Message.id == ReportEvent.details["message_id"].as_string())
                .where(ReportEvent.report_id == page.c.id, ReportEvent.type == "closed")
                .order_by(ReportEvent.id.desc()).limit(1)
                .correlate(page).scalar_subquery())
    return (select(counted, page.c.id, page.c.last_closed_at, *_LISTED, r.outcome,
                   response.label("response"))
            .select_from(counted).outerjoin(page, true()).outerjoin(_R, r.id == page.c.id)
            .order_by(page.c.last_closed_at.desc(), page.c.id.desc()))


def _acknowledgement_statement(dialect: str) -> Any:
    """Reports made since ``:start``, how many were acknowledged and the median delay of
    those, in microseconds: the response-time metrics' ``reports``, ``acknowledged`` and
    ``ack_hours.median``, computed the same way (PostgreSQL's ``percentile_cont``, on SQLite
    :mod:`speakup.percentiles`) but over only the columns an index can hold."""
    r = _R.c
    if dialect == "sqlite":
        median: Any = func.speakup_percentiles(
            func.speakup_sorted(func.group_concat(r.ack_after_us)), null(), null())
    else:
        median = func.percentile_cont(0.5).within_group(cast(r.ack_after_us, Float))
    return select(func.count().label("reports"), func.count(r.acknowledged_at)
                  .label("acknowledged"), median.label("median")).where(
        r.unit_id.in_(_UNITS), r.created_at >= bindparam("start", type_=_TIME),
        r.created_at < bindparam("end", type_=_TIME))


def _actions_statement() -> Any:
    """The actions in progress: how many, and the oldest of them with their latest update
    and their number of linked reports (looked up for the listed actions only: a site had
    ten thousand in progress)."""
    actions = table(ImprovementAction)
    a = actions.c
    where = (a.unit_id.in_(_UNITS), a.status == ActionStatus.IN_PROGRESS.value)
    counted = select(func.count().label("total_")).where(*where).subquery("counted")
    page = (select(a.id, a.created_at).where(*where).order_by(a.created_at, a.id)
            .limit(_LIMIT).subquery("page"))
    updates, latest = table(ActionUpdate), table(ActionUpdate).alias("latest")
    latest_id = (select(updates.c.id).where(updates.c.action_id == page.c.id)
                 .order_by(updates.c.at.desc(), updates.c.id.desc()).limit(1)
                 .correlate(page).scalar_subquery())
    linked = (select(func.count()).select_from(ActionReport)
              .where(ActionReport.action_id == page.c.id).correlate(page).scalar_subquery())
    return (select(counted, page.c.id, a.title, a.unit_id, a.status, latest.c.body,
                   latest.c.at, linked.label("linked_"))
            .select_from(counted).outerjoin(page, true()).outerjoin(actions, a.id == page.c.id)
            .outerjoin(latest, latest.c.id == latest_id)
            .order_by(page.c.created_at, page.c.id))


_OPEN = _open_statement()
_CLOSED = _closed_statement()
_ACTIONS = _actions_statement()
_ACKNOWLEDGEMENT = {dialect: _acknowledgement_statement(dialect)
                    for dialect in ("sqlite", "postgresql")}


# --- the service --------------------------------------------------------------------------


def check_access(session: Session, *, actor: Actor, unit_id: str) -> None:
    """Raise unless the actor may see the unit's huddle: :class:`NotFound` for an unknown or
    inactive unit, :class:`Forbidden` for anyone but its leaders, the leaders above it and
    safety officers.  One statement."""
    row = session.connection().execute(
        _ACCESS, {"unit_id": unit_id, "actor_id": actor.user_id}).first()
    if row is None or not row.active:
        raise NotFound(NOT_FOUND)
    if actor.has_role(Role.SAFETY_OFFICER):
        return
    if actor.user_id is not None and actor.has_role(Role.LEADER) and row.leads:
        return
    raise Forbidden("The huddle is for the unit's leaders, the leaders above it and safety "
                    "officers.")


def huddle(session: Session, *, actor: Actor, unit_id: str, now: datetime) -> Huddle:
    """The huddle of ``unit_id`` and the units below it as of ``now``: read only, a fixed
    number of statements whatever the unit's size (see the module's docstring)."""
    check_access(session, actor=actor, unit_id=unit_id)
    units = subtree_ids(session, unit_id)
    connection = session.connection()
    params: dict[str, Any] = {"unit_ids": units, "limit": LIMIT}
    since = now - timedelta(days=CLOSED_DAYS)
    opened = connection.execute(_OPEN, {**params, "now": now, "soon": now + DUE_SOON}).all()
    closed = connection.execute(_CLOSED, {**params, "since": since}).all()
    actions = connection.execute(_ACTIONS, params).all()
    median, reports, acknowledged = _acknowledgement(connection, units, now)
    return Huddle(
        unit_id=unit_id, as_of=now,
        # The counts' row comes with an empty page too (the report's columns NULL).
        open_total=opened[0].total_,
        open_by_sla={s.value: opened[0]._mapping[s.value] for s in Sla},
        open=tuple(OpenReport(
            id=r.id, reference=r.reference, kind=r.kind, category=r.category, title=r.title,
            immediate_risk=r.immediate_risk, status=r.status, unit_id=r.unit_id,
            created_at=r.created_at, age_hours=_hours(now - r.created_at),
            ack_due_at=r.ack_due_at, close_due_at=r.close_due_at, sla=r.sla)
            for r in opened if r.id is not None),
        closed_since=since, closed_total=closed[0].total_,
        closed=tuple(ClosedReport(
            reference=r.reference, kind=r.kind, category=r.category, title=r.title,
            closed_at=r.last_closed_at, outcome=r.outcome, response=r.response)
            for r in closed if r.id is not None),
        actions_total=actions[0].total_,
        actions=tuple(ActionInProgress(
            id=a.id, title=a.title, unit_id=a.unit_id, status=a.status,
            latest_update=a.body, latest_update_at=a.at, linked_reports=a.linked_)
            for a in actions if a.id is not None),
        median_ack_hours=median, reports=reports, acknowledged=acknowledged,
    )


def _acknowledgement(connection: Connection, units: list[str], now: datetime
                     ) -> tuple[float | None, int, int]:
    """The median hours to acknowledge (two decimals, None without any acknowledgement) of
    the reports made in the last MEDIAN_DAYS days, how many were made and how many of them
    were acknowledged."""
    sqlite = connection.dialect.name == "sqlite"
    row = connection.execute(_ACKNOWLEDGEMENT["sqlite" if sqlite else "postgresql"], {
        "unit_ids": units, "start": now - timedelta(days=MEDIAN_DAYS), "end": now}).one()
    micros = percentiles.decode(row.median)[0][0] if sqlite else row.median
    median = None if micros is None else round(micros / 3_600_000_000, 2)
    return median, row.reports, row.acknowledged


def _hours(span: timedelta) -> float:
    return round(span.total_seconds() / 3600, 1)
