"""Improvement actions ("label and link"): a change made because people spoke up, linked to
their reports, so that every one of them hears what changed.

Leaders and safety officers create actions and link reports they may act on (a report they
cannot see or may not act on is refused like one that does not exist).  Linking posts a
reporter-visible message on the report and moves an open report to ``in_progress``
(acknowledging it if it was new); every update of the action (``PATCH``) is a
reporter-visible message on every linked report, anonymous ones included, written with its
timeline and audit rows through :mod:`speakup.services.reports.history` in the update's own
transaction.  The fan-out costs the same few statements for one linked report or a thousand.

Who may change an action: its creator and safety officers.  Leaders, safety officers and
admins read every action; its ``report_ids`` list only the reports the reader can see.

The rows are built by pure functions (:func:`action_row`, :func:`link_rows`,
:func:`update_row`, :func:`told`), which the demo's bulk writer uses too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from speakup.db import Database, table
from speakup.models import ActionReport, ActionUpdate, ImprovementAction, Message, Report, User
from speakup.services.core.actors import Actor
from speakup.services.core.clock import Clock
from speakup.services.core.errors import Forbidden, Invalid, NotFound
from speakup.services.core.ids import new_id
from speakup.services.core.keys import Keys
from speakup.services.core.pages import Page, paginate
from speakup.services.org import subtree_ids
from speakup.services.org.units import existing_unit
from speakup.services.reports import access, delays, history
from speakup.services.reports.views import Person, iso, person_wire
from speakup.services.reports.workflow import STAFF, message_row
from speakup.vocabulary import Role, Status

MAX_LINKED = 500  # reports linked in one call
NOT_FOUND = "No such improvement action."


class ActionStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class UpdateView:
    body: str
    status: str
    at: datetime
    author: Person | None


@dataclass(frozen=True, slots=True)
class ActionView:
    id: str
    title: str
    description: str
    unit_id: str
    status: str
    created_at: datetime
    created_by: Person | None
    report_ids: tuple[str, ...]
    updates: tuple[UpdateView, ...]


def wire(v: ActionView) -> dict[str, Any]:
    return {"id": v.id, "title": v.title, "description": v.description, "unit_id": v.unit_id,
            "status": v.status, "created_at": iso(v.created_at),
            "created_by": person_wire(v.created_by), "report_ids": list(v.report_ids),
            "updates": [{"body": u.body, "status": u.status, "at": iso(u.at),
                         "author": person_wire(u.author)} for u in v.updates]}


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    unit_id: str | None = None
    report_id: str | None = None


def action_row(*, action_id: str, title: str, description: str, unit_id: str, at: Any,
               created_by: str | None) -> dict[str, Any]:
    """A new action's row: planned."""
    return {"id": action_id, "title": title, "description": description, "unit_id": unit_id,
            "status": ActionStatus.PLANNED.value, "created_at": at, "created_by": created_by}


def link_rows(*, action_id: str, report_ids: Iterable[str], at: Any) -> list[dict[str, Any]]:
    return [{"action_id": action_id, "report_id": rid, "linked_at": at} for rid in report_ids]


def linked_message(title: str) -> str:
    """What the reporter of a report linked to the action ``title`` reads."""
    return f"Your report is now part of an improvement: {title}"


def update_row(*, action_id: str, body: str, status: str, at: Any, author_id: str | None
               ) -> dict[str, Any]:
    return {"action_id": action_id, "body": body, "status": status, "at": at,
            "author_id": author_id}


def told(*, action_id: str, status: str, report_ids: Iterable[str], body: str, at: Any,
         actor_id: str | None, message_ids: Iterable[str] | None = None
         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The reporter-visible message ``body`` on each report (with ``message_ids``, default
    new ones) and its ``action_update`` timeline row: ``(messages, entries)``."""
    ids = list(report_ids)
    mids = [new_id() for _ in ids] if message_ids is None else list(message_ids)
    messages = [message_row(report_id=rid, body=body, sender=STAFF, at=at, author_id=actor_id,
                            message_id=mid) for rid, mid in zip(ids, mids, strict=True)]
    entries = [history.entry(
        report_id=m["report_id"], type="action_update", at=at, actor_id=actor_id,
        details={"action_id": action_id, "status": status, "message_id": m["id"]})
        for m in messages]
    return messages, entries


def _works_on_actions(actor: Actor) -> None:
    if actor.user_id is None or not actor.has_role(Role.LEADER, Role.SAFETY_OFFICER):
        raise Forbidden("This needs the role leader or safety_officer.")


def create(db: Database, *, clock: Clock, actor: Actor, title: str, description: str,
           unit_id: str, report_ids: Sequence[str], reads: Session | None = None
           ) -> ActionView:
    """A new action (status ``planned``) with the reports it answers."""
    _works_on_actions(actor)
    with db.write(ending=reads) as session:
        existing_unit(session, unit_id, "unit_id")
        now = clock.now()
        action_id = new_id()
        session.connection().execute(insert(table(ImprovementAction)), [action_row(
            action_id=action_id, title=title, description=description, unit_id=unit_id,
            at=now, created_by=actor.user_id)])
        _link(session, actor, action_id, title, ActionStatus.PLANNED, report_ids, now)
        return _view(session, actor, action_id)


def link(db: Database, *, clock: Clock, actor: Actor, action_id: str,
         report_ids: Sequence[str], reads: Session | None = None) -> ActionView:
    """Link more reports to an action (those linked already are left as they are)."""
    _works_on_actions(actor)
    with db.write(ending=reads) as session:
        action = _changeable(session, actor, action_id)
        _link(session, actor, action_id, action.title, ActionStatus(action.status),
              report_ids, clock.now())
        return _view(session, actor, action_id)


def post_update(db: Database, *, clock: Clock, actor: Actor, action_id: str, body: str,
                status: str | None = None, reads: Session | None = None) -> ActionView:
    """An update of the action (and its new status): a reporter-visible message on every
    linked report."""
    _works_on_actions(actor)
    if status is not None and status not in set(ActionStatus):
        raise Invalid.field("status", f"Must be one of: {', '.join(ActionStatus)}.")
    with db.write(ending=reads) as session:
        action = _changeable(session, actor, action_id)
        now = clock.now()
        new_status = ActionStatus(status or action.status)
        connection = session.connection()
        connection.execute(insert(table(ActionUpdate)), [update_row(
            action_id=action_id, body=body, status=new_status.value, at=now,
            author_id=actor.user_id)])
        if new_status != action.status:
            connection.execute(update(table(ImprovementAction))
                               .where(table(ImprovementAction).c.id == action_id)
                               .values(status=new_status.value))
        linked = list(connection.execute(
            select(ActionReport.report_id).where(ActionReport.action_id == action_id)
        ).scalars())
        _tell(session, actor, action_id, new_status, linked, body, now)
        return _view(session, actor, action_id)


def get(session: Session, *, actor: Actor, action_id: str) -> ActionView:
    _works_on_actions_or_reads(actor)
    return _view(session, actor, action_id)


def list_actions(session: Session, *, actor: Actor, keys: Keys, filters: Filters, limit: int,
                 cursor: str | None) -> Page[ActionView]:
    """Actions, newest first, keyset-paginated."""
    _works_on_actions_or_reads(actor)
    stmt = cast(Select[Any], select(ImprovementAction.id, ImprovementAction.created_at))
    if filters.status is not None:
        stmt = stmt.where(ImprovementAction.status == filters.status)
    if filters.unit_id is not None:
        stmt = stmt.where(ImprovementAction.unit_id.in_(subtree_ids(session, filters.unit_id)))
    if filters.report_id is not None:
        stmt = stmt.where(select(ActionReport.action_id).where(
            ActionReport.action_id == ImprovementAction.id,
            ActionReport.report_id == filters.report_id).exists())
    page = paginate(session, stmt, [ImprovementAction.created_at, ImprovementAction.id],
                    signing_key=keys.cursor, limit=limit, cursor=cursor, descending=True,
                    rows=True)
    views = _views(session, actor, [row.id for row in page.items])
    return Page([views[row.id] for row in page.items], page.next_cursor)


def _works_on_actions_or_reads(actor: Actor) -> None:
    if actor.user_id is None or not actor.has_role(Role.LEADER, Role.SAFETY_OFFICER,
                                                   Role.ADMIN):
        raise Forbidden("This needs the role leader, safety_officer or admin.")


def _changeable(session: Session, actor: Actor, action_id: str) -> Any:
    stmt = select(table(ImprovementAction)).where(table(ImprovementAction).c.id == action_id)
    action = session.connection().execute(stmt.with_for_update()).first()
    if action is None:
        raise NotFound(NOT_FOUND)
    if action.created_by != actor.user_id and not actor.has_role(Role.SAFETY_OFFICER):
        raise Forbidden("Only the action's creator and safety officers change it.")
    return action


def _link(session: Session, actor: Actor, action_id: str, title: str, status: ActionStatus,
          report_ids: Sequence[str], now: datetime) -> None:
    """Link the reports the actor may act on; refuse the call if any other is named."""
    wanted = list(dict.fromkeys(report_ids))
    if len(wanted) > MAX_LINKED:
        raise Invalid.field("report_ids", f"At most {MAX_LINKED} reports at a time.")
    if not wanted:
        return
    connection = session.connection()
    workable = access.staff_side(actor) if actor.sees_everything else access.assigned_to(actor)
    found = set(connection.execute(
        select(Report.id).where(Report.id.in_(wanted), workable).with_for_update(of=Report),
        access.params(actor)).scalars())
    missing = [rid for rid in wanted if rid not in found]
    if missing:
        raise Invalid("Some reports cannot be linked.", errors={"report_ids": [
            f"No such report that you work on: {rid}" for rid in missing[:20]]})
    linked = set(connection.execute(select(ActionReport.report_id).where(
        ActionReport.action_id == action_id, ActionReport.report_id.in_(wanted))).scalars())
    new = [rid for rid in wanted if rid not in linked]
    if not new:
        return
    connection.execute(insert(table(ActionReport)),
                       link_rows(action_id=action_id, report_ids=new, at=now))
    _tell(session, actor, action_id, status, new, linked_message(title), now)


def _tell(session: Session, actor: Actor, action_id: str, status: ActionStatus,
          report_ids: Iterable[str], body: str, now: datetime) -> None:
    """A reporter-visible message on each report, with its timeline and audit rows, and each
    open report moved to ``in_progress``: a fixed number of statements."""
    ids = list(report_ids)
    if not ids:
        return
    connection = session.connection()
    messages, entries = told(action_id=action_id, status=status.value, report_ids=ids,
                             body=body, at=now, actor_id=actor.user_id)
    connection.execute(insert(table(Message)), messages)
    reports = table(Report)
    told_at = bindparam("told_at", now, type_=reports.c.created_at.type)
    since_created = delays.MicrosSinceCreated(told_at, reports.c.created_at)
    connection.execute(
        update(reports)
        .where(reports.c.id.in_(bindparam("ids", expanding=True)),
               reports.c.status != Status.CLOSED.value)
        .values(status=Status.IN_PROGRESS.value,
                acknowledged_at=func.coalesce(reports.c.acknowledged_at, now),
                first_response_at=func.coalesce(reports.c.first_response_at, now),
                ack_after_us=func.coalesce(reports.c.ack_after_us, since_created),
                first_response_after_us=func.coalesce(reports.c.first_response_after_us,
                                                      since_created)),
        {"ids": ids})
    history.record(session, entries)


def _view(session: Session, actor: Actor, action_id: str) -> ActionView:
    view = _views(session, actor, [action_id]).get(action_id)
    if view is None:
        raise NotFound(NOT_FOUND)
    return view


def _views(session: Session, actor: Actor, action_ids: list[str]) -> dict[str, ActionView]:
    """The actions with their visible linked reports and updates: three queries."""
    if not action_ids:
        return {}
    connection = session.connection()
    actions = table(ImprovementAction)
    rows = connection.execute(
        select(actions, User.name.label("creator_name"))
        .outerjoin(User, User.id == actions.c.created_by)
        .where(actions.c.id.in_(action_ids))).all()
    linked: dict[str, list[str]] = {aid: [] for aid in action_ids}
    visible = access.visible_to(actor)
    for action_id, report_id in connection.execute(
            select(ActionReport.action_id, ActionReport.report_id)
            .join(Report, Report.id == ActionReport.report_id)
            .where(ActionReport.action_id.in_(action_ids), visible)
            .order_by(ActionReport.linked_at, ActionReport.report_id),
            access.params(actor)):
        linked[action_id].append(report_id)
    updates: dict[str, list[UpdateView]] = {aid: [] for aid in action_ids}
    for u in connection.execute(
            select(ActionUpdate.action_id, ActionUpdate.body, ActionUpdate.status,
                   ActionUpdate.at, ActionUpdate.author_id, User.name)
            .outerjoin(User, User.id == ActionUpdate.author_id)
            .where(ActionUpdate.action_id.in_(action_ids))
            .order_by(ActionUpdate.at, ActionUpdate.id)):
        updates[u.action_id].append(UpdateView(
            u.body, u.status, u.at, None if u.author_id is None else Person(u.author_id,
                                                                             u.name)))
    return {r.id: ActionView(
        id=r.id, title=r.title, description=r.description, unit_id=r.unit_id,
        status=r.status, created_at=r.created_at,
        created_by=Person(r.created_by, r.creator_name),
        report_ids=tuple(linked[r.id]), updates=tuple(updates[r.id])) for r in rows}

