"""Routing at creation: the leaders of the report's unit, else of the nearest unit above that
has leaders, else the safety officers; the decision is recorded with a reason people can read.
``involves_leader`` passes over the first leaders up the tree from the report's unit (those
the concern is about) -- the unit's own, or, for a unit without leaders, the nearest above.
A report never goes to its own reporter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from speakup.models import Unit, UnitLeader, User, UserRole


@dataclass(frozen=True)
class Decision:
    assignees: list[User]
    reason: str


def route(
    session: Session, *, unit: Unit, involves_leader: bool, reporter_id: str | None
) -> Decision:
    """Who a new report in ``unit`` goes to, and why (reads only).

    With ``involves_leader`` the first leaders up the tree from the unit -- its own, or for a
    unit without leaders the nearest above -- are passed over for the next ones up.
    """
    skipped: Unit | None = None
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


def _up_the_tree(session: Session, unit: Unit) -> Iterator[Unit]:
    """``unit`` and the units above it, nearest first, each read only when it is reached
    (most reports stop at their own unit)."""
    seen = set()
    level: Unit | None = unit
    while level is not None and level.id not in seen:
        seen.add(level.id)
        yield level
        level = session.get(Unit, level.parent_id) if level.parent_id else None


def _why(unit: Unit, level: Unit, skipped: Unit | None) -> str:
    if level.id == unit.id:
        return f"Routed to the leaders of {unit.name}, the unit of the report."
    return _skip_note(skipped) + (
        f"Routed to the leaders of {level.name}, the nearest unit above {unit.name} "
        "with leaders to route to."
    )


def _skip_note(skipped: Unit | None) -> str:
    if skipped is None:
        return ""
    return f"The report concerns a leader, so the leaders of {skipped.name} were passed over. "


def _leaders(session: Session, unit_id: str, exclude: str | None) -> list[User]:
    stmt = (
        select(User)
        .join(UnitLeader, UnitLeader.user_id == User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UnitLeader.unit_id == unit_id, User.active.is_(True), UserRole.role == "leader")
        .order_by(User.name, User.id)
        .options(lazyload(User.role_rows))  # routing needs ids and names only
    )
    return [u for u in session.scalars(stmt) if u.id != exclude]


def safety_officers(session: Session, *, exclude: str | None = None) -> list[User]:
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "safety_officer", User.active.is_(True))
        .order_by(User.name, User.id)
        .options(lazyload(User.role_rows))  # routing needs ids and names only
    )
    return [u for u in session.scalars(stmt) if u.id != exclude]
