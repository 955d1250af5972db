"""Routing at creation: the leaders of the report's unit, else of the nearest unit above that
has leaders, else the safety officers; the decision is recorded with a reason people can read.
``involves_leader`` skips the unit's own leaders.  A report never goes to its own reporter."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.models import Unit, UnitLeader, User, UserRole
from speakup.services.org import ancestors


@dataclass(frozen=True)
class Decision:
    assignees: list[User]
    reason: str


def route(
    session: Session, *, unit: Unit, involves_leader: bool, reporter_id: str | None
) -> Decision:
    """Who a new report in ``unit`` goes to, and why (reads only)."""
    chain = ancestors(session, unit)
    start = 1 if involves_leader else 0
    skipped = f"The report concerns a leader of {unit.name}, so their leaders were skipped. "
    prefix = skipped if involves_leader else ""
    for depth, level in enumerate(chain[start:], start=start):
        leaders = _leaders(session, level.id, reporter_id)
        if not leaders:
            continue
        if depth == 0:
            why = f"Routed to the leaders of {level.name}, the unit of the report."
        else:
            why = (
                f"Routed to the leaders of {level.name}, the nearest unit above "
                f"{unit.name} that has leaders."
            )
        return Decision(leaders, prefix + why)
    officers = safety_officers(session, exclude=reporter_id)
    if officers:
        return Decision(officers, prefix + "No unit up the tree has leaders to route to; "
                        "routed to the safety officers.")
    return Decision([], prefix + "No leaders and no safety officers to route to; the report "
                    "waits for an administrator to assign it.")


def _leaders(session: Session, unit_id: str, exclude: str | None) -> list[User]:
    stmt = (
        select(User)
        .join(UnitLeader, UnitLeader.user_id == User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UnitLeader.unit_id == unit_id, User.active.is_(True), UserRole.role == "leader")
        .order_by(User.name, User.id)
    )
    return [u for u in session.scalars(stmt) if u.id != exclude]


def safety_officers(session: Session, *, exclude: str | None = None) -> list[User]:
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "safety_officer", User.active.is_(True))
        .order_by(User.name, User.id)
    )
    return [u for u in session.scalars(stmt) if u.id != exclude]
