"""Report intake: validate, number, time, route and store a report in one transaction.

For an anonymous report nothing about the request or the person is stored: no user id, no
token id, no address, no user agent.  The reporter gets a receipt key once; only its keyed
hash is kept.  An ``Idempotency-Key`` makes retries safe: the same key and body return the
first response and create nothing; the same key with another body is refused.  Keys are
forgotten after :data:`IDEMPOTENCY_TTL`: :func:`purge_expired` deletes them (run by
``speakup purge``, and as later keyed submissions arrive).

The receipt key of an anonymous report sent with an Idempotency-Key is derived from the raw
Idempotency-Key, which only the client holds: the server stores a keyed hash of it, never the
key itself, so nothing in the database, even together with the server secret, yields the
receipt key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from speakup.db import Database, table
from speakup.models import (
    Category,
    IdempotencyRecord,
    Report,
    ReportAssignee,
)
from speakup.models.reports import assignee_ids
from speakup.services import routing
from speakup.services.auth import receipts
from speakup.services.core.clock import Clock
from speakup.services.core.errors import Invalid
from speakup.services.core.ids import new_id
from speakup.services.core.keys import Keys, keyed_hash
from speakup.services.reports import history, references, sla, views
from speakup.services.reports.sla import Target
from speakup.vocabulary import Kind, Status, values

KINDS = values(Kind)
# A retry comes within minutes; after a day a key is forgotten, and with it the one way to
# see an anonymous report's receipt key again.
IDEMPOTENCY_TTL = timedelta(hours=24)


class Reporter(Protocol):
    """Who sends a named report: only their id is used."""

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class NewReport:
    kind: str
    category: str
    unit_id: str
    description: str
    title: str | None = None
    immediate_risk: bool = False
    anonymous: bool = False
    involves_leader: bool = False
    wants_involvement: bool = False


@dataclass(frozen=True)
class Submitted:
    report_id: str
    # What the response sends, JSON-ready, without the receipt key: the reporter view of the
    # new report, or for a replay exactly what the first response sent.
    response: dict[str, Any]
    receipt_key: str | None  # anonymous reports only
    replayed: bool


@dataclass(frozen=True)
class _Keyed:
    """A submission's Idempotency-Key: the raw key (never stored) and what is stored."""

    raw: str = field(repr=False)
    key_hash: str
    fingerprint: str


def submit(
    db: Database,
    *,
    clock: Clock,
    keys: Keys,
    data: NewReport,
    reporter: Reporter | None,
    idempotency_key: str | None = None,
    reads: Session | None = None,
) -> Submitted:
    """Store a new report with its routing and timeline, in one write block.

    ``reporter`` must be None for an anonymous report (the caller never looks at who is
    asking then); a report without a reporter is anonymous whatever ``data`` says.
    ``reads`` is a read session to validate and route with (a request's own); without it
    one is opened.
    """
    anonymous = data.anonymous or reporter is None
    if anonymous:
        reporter = None
    keyed = None
    if idempotency_key is not None:
        scope = "anonymous" if reporter is None else f"user:{reporter.id}"
        keyed = _Keyed(
            raw=idempotency_key,
            key_hash=keyed_hash(keys.idempotency, f"{scope}\n{idempotency_key}"),
            fingerprint=_fingerprint(data, anonymous),
        )
        with _reading(db, reads) as session:  # a replay never waits for the write lock
            earlier = _replay(session, keys, keyed, clock.now())
        if earlier is not None:
            return earlier
    try:
        if not db.write_lock_is_global:
            # PostgreSQL: the transaction locks nothing until the reference is numbered, so
            # the reads run inside it, without a transaction (and round trips) of their own.
            with db.write(ending=reads) as session:
                routed = _checked_and_routed(session, data, reporter)
                return _create(session, clock, keys, data, reporter, anonymous, keyed,
                               routed)
        # SQLite: validation and routing only read, so they run before the write lock,
        # which is then held for the reference and the inserts alone.
        with _reading(db, reads) as session:
            routed = _checked_and_routed(session, data, reporter)
        with db.write(ending=reads) as session:
            return _create(session, clock, keys, data, reporter, anonymous, keyed, routed)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the race: read it in a new
        # transaction (an older one may not see it yet).
        if keyed is None:
            raise
        with db.read() as session:
            earlier = _replay(session, keys, keyed, clock.now())
        if earlier is None:
            raise
        return earlier


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete the idempotency records older than :data:`IDEMPOTENCY_TTL` (and with them the
    link from an Idempotency-Key to its report); returns how many.  Not committed: the
    caller's transaction decides."""
    # The default synchronisation marks a record loaded by _replay as deleted, so that a new
    # record with the same key can be added in the same session.
    result = cast(CursorResult[Any], session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.created_at <= now - IDEMPOTENCY_TTL)))
    return result.rowcount


# Built once: building a statement costs more than running it.  The report's unit with
# everything a submission checks and routes by, in one statement: whether its category is
# active, the configuration's version (see speakup.services.routing.config), and the unit's
# active leaders (a row per leader), where most reports stop.
_UNIT_AND_CATEGORY = routing.level_statement(
    select(Category.active).where(Category.id == bindparam("category_id"))
    .scalar_subquery().label("category_active_"),
    routing.VERSION,
)
_INSERT_REPORT = insert(table(Report))
_INSERT_ASSIGNEES = insert(table(ReportAssignee))


def _reading(db: Database, reads: Session | None) -> AbstractContextManager[Session]:
    return nullcontext(reads) if reads is not None else db.read()


@dataclass(frozen=True)
class _Routed:
    """Who a submission goes to, and the SLA policy in force when it was routed."""

    decision: routing.Decision
    policy: Mapping[str, Target]


def _checked_and_routed(session: Session, data: NewReport, reporter: Reporter | None
                        ) -> _Routed:
    """Refuse what the reporter must fix, then decide who the report goes to by the rules in
    force (reads only: one statement, and two more when the configuration changed)."""
    rows = session.connection().execute(
        _UNIT_AND_CATEGORY, {"unit_id": data.unit_id, "category_id": data.category}).all()
    unit = rows[0] if rows else None
    if unit is None or not unit.active:
        raise Invalid.field("unit_id", "No such active unit.")
    if not unit.category_active_:
        raise Invalid.field("category", "Not one of the active categories.")
    if data.kind not in KINDS:
        raise Invalid.field("kind", f"Must be one of: {', '.join(KINDS)}.")
    config = routing.in_force(session, unit.config_version_)
    facts = routing.Facts(
        unit_id=unit.id, kind=data.kind, category=data.category,
        immediate_risk=data.immediate_risk, involves_leader=data.involves_leader,
        reporter_id=reporter.id if reporter else None)
    decision = routing.decide(facts, config.rules, routing.DatabaseTree.seeded(session, rows))
    return _Routed(decision, config.policy)


@dataclass(frozen=True)
class SubmissionRows:
    """The rows a submission writes, as dicts of column values, by table."""

    report: dict[str, Any]
    assignees: list[dict[str, Any]]
    events: list[dict[str, Any]]


def _same(value: Any) -> Any:
    return value


def submission_rows(
    *,
    report_id: str,
    reference: str,
    data: NewReport,
    at: datetime,
    reporter_id: str | None,
    receipt_hash: str | None,
    assignees: Sequence[tuple[str, str]],
    reason: str,
    escalation_unit_id: str | None,
    policy: Mapping[str, Target] | None = None,
    time: Callable[[datetime], Any] = _same,
    json: Callable[[dict[str, Any]], Any] = _same,
) -> SubmissionRows:
    """The rows of a report submitted at ``at`` and routed to ``assignees`` (``(id, name)``
    pairs) for ``reason``: the report with its SLA (the hours of ``policy``, by default the
    contract's, and the due times they give), its assignees, and its "submitted" and "routed"
    timeline entries.  ``escalation_unit_id`` is the unit whose leaders received it (the
    routing decision's ``unit_id``; None when the safety officers did).  Pure: the service
    and the demo's bulk writer both build their rows here; ``time`` and ``json`` put values
    into the form a bulk writer sends (SQLAlchemy's own inserts take them as they are).

    A report without ``reporter_id`` is anonymous; nothing else here points at a person.
    """
    anonymous = reporter_id is None
    hours = sla.target(kind=data.kind, immediate_risk=data.immediate_risk, policy=policy)
    ack_due, close_due = sla.due_times(at, kind=data.kind, immediate_risk=data.immediate_risk,
                                       policy=policy)
    created = time(at)
    report = {
        "id": report_id, "reference": reference, "kind": data.kind,
        "category": data.category, "unit_id": data.unit_id, "title": data.title or None,
        "description": data.description, "immediate_risk": data.immediate_risk,
        "anonymous": anonymous, "involves_leader": data.involves_leader,
        "wants_involvement": data.wants_involvement, "status": Status.NEW.value,
        "created_at": created, "ack_due_at": time(ack_due), "close_due_at": time(close_due),
        "ack_target_at": time(ack_due), "close_target_at": time(close_due),
        "acknowledged_at": None, "first_response_at": None, "closed_at": None,
        "ack_after_us": None, "first_response_after_us": None, "close_after_us": None,
        "outcome": None, "reopen_count": 0, "would_speak_up_again": None,
        "assignee_ids": assignee_ids(uid for uid, _name in assignees),
        "reporter_id": reporter_id, "receipt_hash": receipt_hash, "routing_reason": reason,
        "sla_ack_hours": hours.ack_hours, "sla_close_hours": hours.close_hours,
        "escalation_level": 0, "escalation_unit_id": escalation_unit_id,
    }
    people = [{"id": uid, "name": name} for uid, name in assignees]
    return SubmissionRows(
        report=report,
        assignees=[{"report_id": report_id, "user_id": uid, "assigned_at": created,
                    "active": True, "report_created_at": created} for uid, _name in assignees],
        events=[
            history.entry(report_id=report_id, type="submitted", at=created,
                          actor_id=reporter_id, json=json),
            history.entry(report_id=report_id, type="routed", at=created, json=json,
                          details={"assignees": people, "reason": reason}),
        ],
    )


def _create(
    session: Session,
    clock: Clock,
    keys: Keys,
    data: NewReport,
    reporter: Reporter | None,
    anonymous: bool,
    keyed: _Keyed | None,
    routed: _Routed,
) -> Submitted:
    now = clock.now()
    decision = routed.decision
    report_id = new_id()
    receipt_key = None
    receipt_hash = None
    if anonymous:
        receipt_key = (
            _replayable_receipt(keys, keyed.raw, report_id) if keyed else receipts.generate()
        )
        receipt_hash = receipts.digest(keys.receipt, receipt_key)
    number_last = references.takes_number_last(session)
    rows = submission_rows(
        report_id=report_id,
        # Provisional, where the number is taken last (see speakup.services.reports.references).
        reference=report_id if number_last else references.allocate(session, year=now.year)[0],
        data=data, at=now,
        reporter_id=None if anonymous or reporter is None else reporter.id,
        receipt_hash=receipt_hash,
        assignees=[(u.id, u.name) for u in decision.assignees], reason=decision.reason,
        escalation_unit_id=decision.unit_id, policy=routed.policy,
    )
    # Core inserts: the rows are complete, so the ORM's unit of work would only add time
    # under the write lock.
    connection = session.connection()
    connection.execute(_INSERT_REPORT, [rows.report])
    if rows.assignees:
        connection.execute(_INSERT_ASSIGNEES, rows.assignees)
    # The assignees are told, and for an immediate risk every safety officer at once.
    told = [a["user_id"] for a in rows.assignees]
    if data.immediate_risk:
        told += [o.id for o in routing.safety_officers(
            session, exclude=rows.report["reporter_id"])]
    history.append(session, rows.events, status=Status.NEW.value,
                   notify={"routed": history.Notify(user_ids=tuple(told))})
    if number_last:
        rows.report["reference"] = references.assign(session, report_id=report_id,
                                                     year=now.year)
    response = views.wire(views.submitted(rows.report))
    if keyed is not None:
        # Forget expired keys (and their link to a report) as new ones arrive, too.
        purge_expired(session, now=now)
        # The stored response is the view without the receipt key: a replay derives it again.
        session.add(IdempotencyRecord(
            key_hash=keyed.key_hash, fingerprint=keyed.fingerprint, report_id=report_id,
            response=response, created_at=now,
        ))
    return Submitted(report_id, response, receipt_key, replayed=False)


def _replay(session: Session, keys: Keys, keyed: _Keyed, now: datetime) -> Submitted | None:
    record = session.get(IdempotencyRecord, keyed.key_hash)
    if record is None:
        return None
    if record.created_at <= now - IDEMPOTENCY_TTL:
        return None  # expired: _create deletes it with the other expired keys
    if record.fingerprint != keyed.fingerprint:
        raise Invalid(
            "This Idempotency-Key was used before with a different request body.",
            errors={"Idempotency-Key": ["Reused with a different request body."]},
        )
    receipt_key = None
    if record.response.get("anonymous"):
        receipt_key = _replayable_receipt(keys, keyed.raw, record.report_id)
        report = session.get(Report, record.report_id)
        if report is None or report.receipt_hash != receipts.digest(keys.receipt, receipt_key):
            # Never show a key that opens nothing (a record written before receipt keys were
            # derived from the raw Idempotency-Key): the first response had the right one.
            receipt_key = None
    return Submitted(record.report_id, record.response, receipt_key, replayed=True)


def _replayable_receipt(keys: Keys, idempotency_key: str, report_id: str) -> str:
    """The receipt key of an anonymous report sent with an Idempotency-Key: derived, never
    stored, so a retry can be shown the same key.

    It is derived from the *raw* Idempotency-Key, which is never stored or logged (only its
    keyed hash is), so neither a copy of the database nor the server secret recovers it.  The
    report id makes it unique even when an expired idempotency key is used again."""
    return receipts.derive(keys.receipt, f"idempotency-key\n{idempotency_key}\n{report_id}")


def _fingerprint(data: NewReport, anonymous: bool) -> str:
    body = {**asdict(data), "anonymous": anonymous}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
