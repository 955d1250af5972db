"""Routing at creation: the leaders of the report's unit, else of the nearest unit above that
has leaders, else the safety officers; the decision is recorded with a reason people can read.
``involves_leader`` passes over the first leaders up the tree from the report's unit (those
the concern is about) -- the unit's own, or, for a unit without leaders, the nearest above.
A report never goes to its own reporter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from speakup.db import table
from speakup.models import Unit, UnitLeader, User, UserRole

# A unit as the ORM loads it, or as a row of its table: routing reads id, name, parent_id.
UnitRecord = Unit | Row[Any]


class Assignee(NamedTuple):
    id: str
    name: str


@dataclass(frozen=True)
class Decision:
    assignees: list[Assignee]
    reason: str


# Built once: building a statement costs more than running it.
_UNIT = select(table(Unit)).where(Unit.id == bindparam("unit_id"))
_LEADERS = (
    select(User.id, User.name)
    .join(UnitLeader, UnitLeader.user_id == User.id)
    .join(UserRole, UserRole.user_id == User.id)
    .where(UnitLeader.unit_id == bindparam("unit_id"), User.active.is_(True),
           UserRole.role == "leader")
    .order_by(User.name, User.id)
)
_OFFICERS = (
    select(User.id, User.name)
    .join(UserRole, UserRole.user_id == User.id)
    .where(UserRole.role == "safety_officer", User.active.is_(True))
    .order_by(User.name, User.id)
)


def route(
    session: Session, *, unit: UnitRecord, involves_leader: bool, reporter_id: str | None
) -> Decision:
    """Who a new report in ``unit`` goes to, and why (reads only).

    With ``involves_leader`` the first leaders up the tree from the unit -- its own, or for a
    unit without leaders the nearest above -- are passed over for the next ones up.
    """
    skipped: UnitRecord | None = None
    for level in _up_the_tree(session, unit):
        leaders = _leaders(session, level.id, reporter_id)
        if not leaders:
            continue
        if involves_leader and skipped is None:
            skipped = level
            continue
        return Decision(leaders, _why(unit, level, skipped))
    officers = safety_officers(session, exclude=reporter_id)
    prefix = _skip_note(skipped)
    if officers:
        return Decision(officers, prefix + "No other leaders up the tree to route to; routed "
                        "to the safety officers.")
    return Decision([], prefix + "No leaders and no safety officers to route to; the report "
                    "waits for an administrator to assign it.")


def _up_the_tree(session: Session, unit: UnitRecord) -> Iterator[UnitRecord]:
    """``unit`` and the units above it, nearest first, each read only when it is reached
    (most reports stop at their own unit)."""
    seen = set()
    level: UnitRecord | None = unit
    while level is not None and level.id not in seen:
        seen.add(level.id)
        yield level
        level = (session.connection().execute(_UNIT, {"unit_id": level.parent_id}).first()
                 if level.parent_id else None)


def _why(unit: UnitRecord, level: UnitRecord, skipped: UnitRecord | None) -> str:
    if level.id == unit.id:
        return f"Routed to the leaders of {unit.name}, the unit of the report."
    return _skip_note(skipped) + (
        f"Routed to the leaders of {level.name}, the nearest unit above {unit.name} "
        "with leaders to route to."
    )


def _skip_note(skipped: UnitRecord | None) -> str:
    if skipped is None:
        return ""
    return f"The report concerns a leader, so the leaders of {skipped.name} were passed over. "


def _leaders(session: Session, unit_id: str, exclude: str | None) -> list[Assignee]:
    rows = session.connection().execute(_LEADERS, {"unit_id": unit_id})
    return [Assignee(uid, name) for uid, name in rows if uid != exclude]


def safety_officers(session: Session, *, exclude: str | None = None) -> list[Assignee]:
    rows = session.connection().execute(_OFFICERS)
    return [Assignee(uid, name) for uid, name in rows if uid != exclude]
