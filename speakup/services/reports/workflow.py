"""Closing the loop: acknowledge, message, close, reopen, assign, and the reporter's feedback.

Each step is one write block.  It reads the report the actor can see (a report they cannot see
is :class:`NotFound`, like one that does not exist) with its row locked, checks what the actor
may do (:func:`speakup.services.reports.access.may`; a visible report they may not act on is
:class:`Forbidden`) and what the report's status allows (:class:`IllegalTransition`, a 409
whose problem type names the step and the status), then changes the report and writes the
timeline and audit rows through :mod:`speakup.services.reports.history`.

Statuses: ``new`` -> ``acknowledged`` -> ``in_progress`` -> ``closed``; ``closed`` ->
``in_progress`` on reopen.  The first staff-side message after the acknowledgement moves a
report to ``in_progress``; a reporter-visible staff message on a new report acknowledges it
at the same moment, as closing does.  The first reporter-visible staff message (with the
acknowledgement, on its own, or the closing response) sets ``first_response_at``; the first
closing sets ``closed_at`` and every closing ``last_closed_at``; reopening keeps both and
counts the reopen.

A step's caller may pass its request's read session (``reads``): the write block ends its
transaction first (:meth:`speakup.db.Database.write`), so that the view read afterwards sees
the change.

What a step writes is decided by pure functions of the report's state and the step's input
(:func:`acknowledgement`, :func:`messaging`, :func:`closing`, :func:`reopening`,
:func:`feedback_rows`, with :func:`message_row`): the columns it sets and the rows it adds.
The demo's bulk writer builds its history with them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from speakup.db import Database, table
from speakup.models import Feedback, Message, Report, ReportAssignee, User, UserRole
from speakup.models.reports import assignee_ids
from speakup.services.core.actors import Actor
from speakup.services.core.clock import Clock
from speakup.services.core.errors import Conflict, Forbidden, Invalid
from speakup.services.core.ids import new_id
from speakup.services.reports import access, delays, history, queries
from speakup.services.reports.access import Action
from speakup.services.reports.views import REPORTER_NAME, MessageView, Person, ReportView, iso
from speakup.vocabulary import Outcome, Role, Status

STAFF, REPORTER = "staff", "reporter"
LOOP_CLOSED = ("yes", "partly", "no")
WOULD_SPEAK_UP_AGAIN = ("yes", "no", "unsure")

_VERBS = {
    "acknowledge": "acknowledged", "message": "written on", "close": "closed",
    "reopen": "reopened", "assign": "reassigned", "feedback": "given feedback",
}


class IllegalTransition(Conflict):
    """A step the report's status does not allow: 409, with a problem type that names both,
    such as ``/problems/illegal-transition/reopen-from-new``."""

    def __init__(self, step: str, status: str) -> None:
        super().__init__(f"A report that is {status.replace('_', ' ')} cannot be "
                         f"{_VERBS[step]}.")
        self.type = f"/problems/illegal-transition/{step}-from-{status}"
        self.title = "Illegal transition"


class FeedbackGiven(Conflict):
    type = "/problems/feedback-given"
    title = "Feedback given already"


@dataclass(frozen=True)
class Done:
    """A step's result: the report, and whether the actor saw it from the staff side when
    they took the step (a reassignment may take the report away from them).  On PostgreSQL
    ``view`` is the report as it answers the step, read inside the step's transaction (no
    round trips of a transaction of its own); on SQLite it is None and the answer is read
    after the write lock is released (:func:`speakup.services.reports.queries.view_after`)."""

    report_id: str
    staff_side: bool
    view: ReportView | None = None
    # The report's row as the step's change left it (None when the step did not change it).
    row: Any = None


@dataclass(frozen=True, slots=True)
class FeedbackView:
    loop_closed: str
    would_speak_up_again: str
    comment: str | None
    created_at: datetime


def feedback_wire(view: FeedbackView) -> dict[str, Any]:
    return {"loop_closed": view.loop_closed, "would_speak_up_again": view.would_speak_up_again,
            "comment": view.comment, "created_at": iso(view.created_at)}


@dataclass(frozen=True)
class Change:
    """What a step does to a report: the columns it sets and the timeline rows it appends
    (built by :func:`speakup.services.reports.history.entry`; each gets an audit row)."""

    values: dict[str, Any]
    entries: list[dict[str, Any]]


def _entry(report_id: str, type: str, at: Any, actor_id: str | None, **details: Any
           ) -> dict[str, Any]:
    """A timeline row by ``actor_id`` (None for an anonymous reporter and the system), with
    the details that are not None."""
    return history.entry(report_id=report_id, type=type, at=at, actor_id=actor_id,
                         details={k: v for k, v in details.items() if v is not None})


def message_row(*, report_id: str, body: str, sender: str, at: Any, author_id: str | None,
                internal: bool = False, message_id: str | None = None) -> dict[str, Any]:
    """A message's row.  The reporter's own messages carry no author: for an anonymous report
    there is none, and for a named one the staff view shows the reporter already."""
    return {"id": message_id or new_id(), "report_id": report_id, "body": body,
            "sender": sender, "internal": internal, "created_at": at,
            "author_id": author_id if sender == STAFF else None}


def acknowledgement(*, report_id: str, at: Any, actor_id: str | None,
                    message_id: str | None = None) -> Change:
    """Acknowledging a report not acknowledged yet, with the id of the reporter-visible
    message sent with it (then also the first response)."""
    values: dict[str, Any] = {"status": Status.ACKNOWLEDGED.value, "acknowledged_at": at}
    if message_id is not None:
        values["first_response_at"] = at
    return Change(values, [_entry(report_id, "acknowledged", at, actor_id,
                                  message_id=message_id)])


def messaging(*, report_id: str, at: Any, actor_id: str | None, message_id: str, staff: bool,
              internal: bool, acknowledged_at: Any, first_response_at: Any) -> Change:
    """A message on an open report whose acknowledgement and first response were at
    ``acknowledged_at`` and ``first_response_at`` (None: not yet): from the staff side
    (``staff``; ``internal`` for a note) or from its reporter."""
    entries = []
    values: dict[str, Any] = {}
    if staff:
        if not internal and acknowledged_at is None:
            values["acknowledged_at"] = at
            entries.append(_entry(report_id, "acknowledged", at, actor_id))
        if not internal and first_response_at is None:
            values["first_response_at"] = at
        if acknowledged_at is not None or "acknowledged_at" in values:
            values["status"] = Status.IN_PROGRESS.value
    entries.append(_entry(report_id, "message", at, actor_id, message_id=message_id,
                          internal=internal))
    return Change(values, entries)


def closing(*, report_id: str, at: Any, actor_id: str | None, outcome: str, message_id: str,
            acknowledged_at: Any, first_response_at: Any, closed_at: Any) -> Change:
    """Closing an open report with ``outcome`` and the response ``message_id``; the report's
    acknowledgement, first response and first closing so far are given (None: not yet)."""
    entries = []
    values: dict[str, Any] = {"status": Status.CLOSED.value, "outcome": outcome,
                              "last_closed_at": at}
    if acknowledged_at is None:
        values["acknowledged_at"] = at
        entries.append(_entry(report_id, "acknowledged", at, actor_id))
    if first_response_at is None:
        values["first_response_at"] = at
    if closed_at is None:
        values["closed_at"] = at
    entries.append(_entry(report_id, "closed", at, actor_id, outcome=outcome,
                          message_id=message_id))
    return Change(values, entries)


def reopening(*, report_id: str, at: Any, actor_id: str | None, reason: str,
              reopen_count: int) -> Change:
    """Reopening a closed report that was reopened ``reopen_count`` times before."""
    return Change({"status": Status.IN_PROGRESS.value, "outcome": None,
                   "reopen_count": reopen_count + 1},
                  [_entry(report_id, "reopened", at, actor_id, reason=reason)])


def feedback_rows(*, report_id: str, at: Any, actor_id: str | None, loop_closed: str,
                  would_speak_up_again: str, comment: str | None
                  ) -> tuple[dict[str, Any], Change]:
    """The reporter's feedback row, and the change to the report: the answer the metrics
    count, and its timeline row (``actor_id``: the named reporter, None for an anonymous
    one; the feedback row itself names nobody)."""
    row = {"report_id": report_id, "loop_closed": loop_closed,
           "would_speak_up_again": would_speak_up_again, "comment": comment, "created_at": at}
    return row, Change({"would_speak_up_again": would_speak_up_again}, [
        _entry(report_id, "feedback", at, actor_id, loop_closed=loop_closed,
               would_speak_up_again=would_speak_up_again, comment=comment)])


# Built once: building a statement costs more than running it (a fifth of a step's time).
# The change gives back the report's row as its view reads it: one statement fewer.
_CHANGE = (update(table(Report)).where(table(Report).c.id == bindparam("b_report_id"))
           .returning(*table(Report).c, REPORTER_NAME))
_INSERT_MESSAGE = insert(table(Message))


@dataclass
class _Step:
    """What a step's write block works with."""

    session: Session
    actor: Actor
    seen: access.Access
    now: datetime
    changed: Any = None

    @property
    def report(self) -> Any:
        return self.seen.report

    @property
    def status(self) -> str:
        return str(self.report.status)

    @property
    def officer(self) -> bool:
        return self.actor.has_role(Role.SAFETY_OFFICER)

    def done(self, db: Database) -> Done:
        """The step's result; on PostgreSQL with its answer read in this transaction."""
        report_id, staff_side = self.report.id, self.seen.staff_side
        view = None
        if not db.write_lock_is_global:
            view = queries.view_after(self.session, report_id=report_id, staff_side=staff_side,
                                      row=self.changed)
        return Done(report_id, staff_side, view, self.changed)

    def require(self, action: Action, what: str) -> None:
        if not access.may(self.actor, action, self.seen, now=self.now):
            raise Forbidden(f"You may not {what} this report.")

    def change(self, **values: Any) -> None:
        """Set these columns of the report (the statement's SET clause is the values' keys),
        with the delays of the event times among them."""
        delays.add(values, self.report.created_at)
        self.changed = self.session.connection().execute(
            _CHANGE, {"b_report_id": self.report.id, **values}).one()

    def record(self, rows: list[dict[str, Any]],
               notify: dict[str, history.Notify] | None = None) -> None:
        """Write the step's timeline rows with their audit rows and outbox events."""
        status = self.changed.status if self.changed is not None else self.status
        history.record(self.session, rows, status=status, notify=notify)

    def entry(self, type: str, **details: Any) -> dict[str, Any]:
        """A timeline row by this actor (None for an anonymous reporter and the system)."""
        return _entry(self.report.id, type, self.now, self.actor.user_id, **details)

    def apply(self, change: Change) -> None:
        """Make the change: the report's columns, if any, then the timeline rows."""
        if change.values:
            self.change(**change.values)
        self.record(change.entries)

    def message(self, body: str, *, sender: str, internal: bool = False) -> MessageView:
        row = message_row(report_id=self.report.id, body=body, sender=sender, at=self.now,
                          author_id=self.actor.user_id, internal=internal)
        self.session.connection().execute(_INSERT_MESSAGE, [row])
        author = (Person(self.actor.user_id, self.actor.name or "")
                  if sender == STAFF and self.actor.user_id else None)
        return MessageView(id=row["id"], body=body, sender=sender, internal=internal,
                           created_at=self.now, author=author)


@contextmanager
def _step(db: Database, clock: Clock, actor: Actor, report_id: str, reads: Session | None
          ) -> Iterator[_Step]:
    """A step's write block around the report the actor can see (see the module's
    docstring for ``reads``)."""
    with db.write(ending=reads) as session:
        seen = access.visible_report(session, actor=actor, report_id=report_id, lock=True)
        yield _Step(session, actor, seen, clock.now())


def acknowledge(db: Database, *, clock: Clock, actor: Actor, report_id: str,
                message: str | None = None, reads: Session | None = None) -> Done:
    """Acknowledge a report, optionally with a reporter-visible message.  Idempotent: on a
    report acknowledged already (whatever its status now) nothing changes, and a message
    sent with the repeat is not stored (retries carry the same one)."""
    with _step(db, clock, actor, report_id, reads) as step:
        step.require(Action.ACKNOWLEDGE, "acknowledge")
        if step.report.acknowledged_at is None:
            written = None if message is None else step.message(message, sender=STAFF)
            step.apply(acknowledgement(report_id=report_id, at=step.now,
                                       actor_id=actor.user_id,
                                       message_id=written.id if written else None))
        return step.done(db)


def post_message(db: Database, *, clock: Clock, actor: Actor, report_id: str, body: str,
                 internal: bool = False, reads: Session | None = None) -> MessageView:
    """A message on a report, from the staff side (assignees, safety officers; ``internal``
    for a note the reporter never sees) or from its reporter."""
    with _step(db, clock, actor, report_id, reads) as step:
        # Notes are the staff side's alone: who may write one writes as staff.
        staff = access.may(actor, Action.NOTE, step.seen)
        if internal and not staff:
            raise Forbidden("Only the staff side writes internal notes.")
        if not staff:
            step.require(Action.MESSAGE, "write on")
        if step.status == Status.CLOSED:
            raise IllegalTransition("message", step.status)
        written = step.message(body, sender=STAFF if staff else REPORTER, internal=internal)
        change = messaging(report_id=report_id, at=step.now, actor_id=actor.user_id,
                           message_id=written.id, staff=staff, internal=internal,
                           acknowledged_at=step.report.acknowledged_at,
                           first_response_at=step.report.first_response_at)
        if change.values:
            step.change(**change.values)
        # The reporter's answer is e-mailed to the people working on the report.
        step.record(change.entries,
                    None if staff else {"message": history.Notify(assignees=True)})
        return written


def close(db: Database, *, clock: Clock, actor: Actor, report_id: str, outcome: str,
          response: str, reads: Session | None = None) -> Done:
    """Close the loop: an outcome and a reporter-visible response (what was done and why).
    Closing an unacknowledged report acknowledges it at the same moment."""
    if outcome not in set(Outcome):
        raise Invalid.field("outcome", f"Must be one of: {', '.join(Outcome)}.")
    with _step(db, clock, actor, report_id, reads) as step:
        step.require(Action.CLOSE, "close")
        if step.status == Status.CLOSED:
            raise IllegalTransition("close", step.status)
        report = step.report
        written = step.message(response, sender=STAFF)
        step.apply(closing(report_id=report_id, at=step.now, actor_id=actor.user_id,
                           outcome=outcome, message_id=written.id,
                           acknowledged_at=report.acknowledged_at,
                           first_response_at=report.first_response_at,
                           closed_at=report.closed_at))
        return step.done(db)


def reopen(db: Database, *, clock: Clock, actor: Actor, report_id: str, reason: str,
           reads: Session | None = None) -> Done:
    """Reopen a closed report: its reporter within 30 days of the latest closing, a safety
    officer at any time.  It goes back to ``in_progress`` and its outcome is cleared."""
    with _step(db, clock, actor, report_id, reads) as step:
        if not (step.officer or step.seen.reporter):
            raise Forbidden("You may not reopen this report.")
        if step.status != Status.CLOSED:
            raise IllegalTransition("reopen", step.status)
        if not access.may(actor, Action.REOPEN, step.seen, now=step.now):
            raise Forbidden("A report can be reopened by its reporter for 30 days after it "
                            "was closed; ask a safety officer.")
        step.apply(reopening(report_id=report_id, at=step.now, actor_id=actor.user_id,
                             reason=reason, reopen_count=step.report.reopen_count))
        return step.done(db)


# Who can act on a report when it is assigned to them.
_CAN_ACT = (Role.LEADER.value, Role.SAFETY_OFFICER.value)


def assign(db: Database, *, clock: Clock, actor: Actor, report_id: str, user_id: str,
           reason: str, reads: Session | None = None) -> Done:
    """Hand the report to another person who can act on it (an active leader or safety
    officer, never its own named reporter).  The current assignees stop being assignees (the
    assignment stays on record); the new one sees it from now on."""
    with _step(db, clock, actor, report_id, reads) as step:
        step.require(Action.ASSIGN, "reassign")
        if step.status == Status.CLOSED:
            raise IllegalTransition("assign", step.status)
        session = step.session
        connection = session.connection()
        target = connection.execute(
            select(User.id, User.name).where(
                User.id == user_id, User.active.is_(True),
                select(UserRole.user_id).where(UserRole.user_id == User.id,
                                               UserRole.role.in_(_CAN_ACT)).exists())
        ).first()
        if target is None or (not step.report.anonymous and step.report.reporter_id == user_id):
            raise Invalid.field("user_id", "Not someone who can act on this report.")
        assignees = table(ReportAssignee)
        existing = set(connection.execute(
            select(assignees.c.user_id).where(assignees.c.report_id == report_id)).scalars())
        connection.execute(update(assignees).where(assignees.c.report_id == report_id)
                           .values(active=assignees.c.user_id == user_id))
        step.change(assignee_ids=assignee_ids([user_id]))
        if user_id in existing:
            connection.execute(update(assignees).where(
                assignees.c.report_id == report_id, assignees.c.user_id == user_id,
            ).values(assigned_at=step.now))
        else:
            connection.execute(insert(assignees), [{
                "report_id": report_id, "user_id": user_id, "assigned_at": step.now,
                "active": True, "report_created_at": step.report.created_at}])
        step.record([step.entry(
            "assigned", reason=reason, assignees=[{"id": target.id, "name": target.name}])],
            {"assigned": history.Notify(user_ids=(target.id,))})
        return step.done(db)


def give_feedback(db: Database, *, clock: Clock, actor: Actor, report_id: str,
                  loop_closed: str, would_speak_up_again: str, comment: str | None = None,
                  reads: Session | None = None) -> FeedbackView:
    """The reporter's verdict once the report is closed: once per report."""
    if loop_closed not in LOOP_CLOSED:
        raise Invalid.field("loop_closed", f"Must be one of: {', '.join(LOOP_CLOSED)}.")
    if would_speak_up_again not in WOULD_SPEAK_UP_AGAIN:
        raise Invalid.field("would_speak_up_again",
                            f"Must be one of: {', '.join(WOULD_SPEAK_UP_AGAIN)}.")
    try:
        with _step(db, clock, actor, report_id, reads) as step:
            step.require(Action.FEEDBACK, "give feedback on")
            if step.status != Status.CLOSED:
                raise IllegalTransition("feedback", step.status)
            # The report keeps the answer (the feedback row's primary key still stops a
            # concurrent second one).
            if step.report.would_speak_up_again is not None:
                raise FeedbackGiven("Feedback on this report was given already.")
            connection = step.session.connection()
            row, change = feedback_rows(
                report_id=report_id, at=step.now, actor_id=actor.user_id,
                loop_closed=loop_closed, would_speak_up_again=would_speak_up_again,
                comment=comment)
            connection.execute(insert(table(Feedback)), [row])
            step.apply(change)
            return FeedbackView(loop_closed, would_speak_up_again, comment, step.now)
    except IntegrityError:  # a concurrent second feedback won the race
        raise FeedbackGiven("Feedback on this report was given already.") from None
