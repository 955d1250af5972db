"""Who may see and do what with a report: the one place for the rule.

Safety officers and admins see every report from the staff side; a leader sees, from the
staff side, the reports assigned to them while they hold the leader role (taking the role
away takes the reports away, although the assignment stays on record); everyone sees their
own named reports, and a follow-up token its one report, from the reporter side.

:func:`visible_to` is that rule as one SQL predicate, used by the list and the detail (and
later by metrics and the huddle).  :func:`may` says which actions an actor may take on a
report they can see; a report they cannot see is :class:`NotFound`, exactly like one that
does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, false, or_, select, true
from sqlalchemy.orm import Session

from speakup.db import table
from speakup.models import Report, ReportAssignee
from speakup.services.core.actors import Actor
from speakup.services.core.errors import NotFound
from speakup.services.reports.views import REPORTER_NAME, Person, ReportRecord
from speakup.vocabulary import Role

NOT_FOUND = "No such report."
# A reporter may reopen their report for this long after it was closed.
REOPEN_WINDOW = timedelta(days=30)


class Action(StrEnum):
    READ = "read"
    ACKNOWLEDGE = "acknowledge"
    MESSAGE = "message"  # a reporter-visible message
    NOTE = "note"  # an internal message, staff side only
    CLOSE = "close"
    REOPEN = "reopen"
    ASSIGN = "assign"
    FEEDBACK = "feedback"


# What a report's assignees and the safety officers do with it.
_STAFF_ACTIONS = frozenset({Action.ACKNOWLEDGE, Action.MESSAGE, Action.NOTE, Action.CLOSE,
                            Action.ASSIGN})


@dataclass(frozen=True)
class Access:
    """A report the actor can see, and how they stand to it."""

    report: ReportRecord
    staff_side: bool  # sees the staff view: safety officers, admins, assignees
    assignee: bool  # a current assignee holding the leader role
    reporter: bool  # its named reporter, or the holder of its follow-up token

    @classmethod
    def of(cls, actor: Actor, report: ReportRecord, *, assignee: bool, reporter: bool
           ) -> Access:
        return cls(report, staff_side=actor.sees_everything or assignee, assignee=assignee,
                   reporter=reporter)

    def may(self, actor: Actor, action: Action, *, now: datetime | None = None) -> bool:
        return may(actor, action, self, now=now)


class Shape(NamedTuple):
    """What the visibility predicates depend on besides the ids they bind (see
    :func:`params`): statements built for one shape serve every actor of that shape."""

    sees_everything: bool
    leader: bool
    user: bool
    followup: bool

    @classmethod
    def of(cls, actor: Actor) -> Shape:
        return cls(actor.sees_everything, actor.user_id is not None
                   and actor.has_role(Role.LEADER), actor.user_id is not None,
                   actor.followup_report_id is not None)


def params(actor: Actor) -> dict[str, Any]:
    """The values the predicates' bind parameters take for ``actor``."""
    return {"actor_id": actor.user_id, "followup_report_id": actor.followup_report_id}


def staff_side(actor: Actor) -> ColumnElement[bool]:
    """The reports the actor sees from the staff side: all for safety officers and admins,
    for a leader those assigned to them (while they hold the role), else none."""
    if actor.sees_everything:
        return true()
    return assigned_to(actor)


def assigned_to(actor: Actor) -> ColumnElement[bool]:
    """The reports assigned to the actor while they hold the leader role."""
    if actor.user_id is not None and actor.has_role(Role.LEADER):
        return assignment_of_actor()
    return false()


def assignment_of_actor() -> ColumnElement[bool]:
    """The reports currently assigned to the actor (whatever their roles)."""
    return exists().where(
        ReportAssignee.report_id == Report.id,
        ReportAssignee.user_id == bindparam("actor_id"),
        ReportAssignee.active.is_(True),
    )


def reporter_side(actor: Actor) -> ColumnElement[bool]:
    """The reports the actor sees as their reporter: their own named reports, or the one
    report of a follow-up token."""
    if actor.followup_report_id is not None:
        return Report.id == bindparam("followup_report_id")
    if actor.user_id is not None:
        return and_(Report.anonymous.is_(False), Report.reporter_id == bindparam("actor_id"))
    return false()


def visible_to(actor: Actor) -> ColumnElement[bool]:
    """The one visibility rule, as SQL (bind :func:`params` when running it)."""
    return or_(staff_side(actor), reporter_side(actor))


def is_assignee(actor: Actor, assignees: Iterable[Person]) -> bool:
    """The same as :func:`assigned_to`, for a report whose assignees are loaded already."""
    return (actor.user_id is not None and actor.has_role(Role.LEADER)
            and any(u.id == actor.user_id for u in assignees))


def visible_report(session: Session, *, actor: Actor, report_id: str, lock: bool = False
                   ) -> Access:
    """The report with how the actor stands to it, else :class:`NotFound`; one query.

    With ``lock`` (a command about to change the report) its row is locked until the commit
    on PostgreSQL, so that concurrent steps on one report take turns; SQLite's write block
    serialises them already."""
    row = session.connection().execute(
        _visible_report(actor, lock), {**params(actor), "report_id": report_id}
    ).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    return Access.of(actor, row, assignee=bool(row.assignee_), reporter=bool(row.reporter_))


_VISIBLE_REPORT: dict[tuple[Shape, bool], Select[Any]] = {}


def _visible_report(actor: Actor, lock: bool) -> Select[Any]:
    """The one-report statement for the actor's shape, built once per shape (building a
    statement costs more than running it)."""
    key = (Shape.of(actor), lock)
    stmt = _VISIBLE_REPORT.get(key)
    if stmt is None:
        stmt = (
            select(table(Report), REPORTER_NAME, assigned_to(actor).label("assignee_"),
                   reporter_side(actor).label("reporter_"))
            .where(Report.id == bindparam("report_id"), visible_to(actor))
        )
        if lock:
            stmt = stmt.with_for_update(of=table(Report))
        _VISIBLE_REPORT[key] = stmt
    return stmt


def may(actor: Actor, action: Action, access: Access, *, now: datetime | None = None) -> bool:
    """Whether the actor may take ``action`` on a report they can see (``access``).

    Assignees and safety officers work on a report (acknowledge, message, note, close,
    assign); its reporter reads it, answers, gives feedback, and may reopen it within
    :data:`REOPEN_WINDOW` of its closing (``now`` is then required); safety officers reopen at
    any time; admins read.  The window runs from the latest closing.
    """
    officer = actor.has_role(Role.SAFETY_OFFICER)
    if action is Action.READ:
        return True  # the report was visible: access exists only for what the actor can see
    if action in _STAFF_ACTIONS and (access.assignee or officer):
        return True
    if action is Action.REOPEN:
        if officer:
            return True
        closed = access.report.last_closed_at
        return (access.reporter and closed is not None and now is not None
                and now - closed <= REOPEN_WINDOW)
    return access.reporter and action in (Action.MESSAGE, Action.FEEDBACK)
