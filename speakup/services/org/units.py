"""Units: the organisation's tree.  Nothing that reports refer to is deleted; a unit is
deactivated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import Unit
from speakup.services.core.clock import Clock
from speakup.services.core.errors import Conflict, Invalid, NotFound
from speakup.services.core.keys import Keys
from speakup.services.core.pages import Page, paginate


def list_units(
    session: Session, *, keys: Keys, include_inactive: bool, limit: int, cursor: str | None
) -> Page[Unit]:
    stmt = select(Unit)
    if not include_inactive:
        stmt = stmt.where(Unit.active.is_(True))
    return paginate(session, stmt, [Unit.created_at, Unit.id], signing_key=keys.cursor,
                    limit=limit, cursor=cursor)


def get_unit(session: Session, unit_id: str, *, include_inactive: bool = True) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or not (unit.active or include_inactive):
        raise NotFound("No such unit.")
    return unit


def create_unit(
    db: Database, *, clock: Clock, name: str, code: str, parent_id: str | None = None
) -> Unit:
    """Create a unit under an existing parent (or at the top)."""
    with db.write() as session:
        _check_code_free(session, code)
        if parent_id is not None:
            existing_unit(session, parent_id, "parent_id")
        unit = Unit(name=name, code=code, parent_id=parent_id, active=True,
                    created_at=clock.now())
        session.add(unit)
    return unit


def update_unit(db: Database, unit_id: str, **changes: Any) -> Unit:
    """Change name, code, parent or active; a parent that would make a cycle is refused."""
    with db.write() as session:
        return _update_unit(session, unit_id, changes)


def _update_unit(session: Session, unit_id: str, changes: dict[str, Any]) -> Unit:
    unit = get_unit(session, unit_id)
    if "code" in changes and changes["code"] != unit.code:
        _check_code_free(session, changes["code"])
    if "parent_id" in changes and changes["parent_id"] is not None:
        parent = existing_unit(session, changes["parent_id"], "parent_id")
        if unit.id in {u.id for u in ancestors(session, parent)}:
            raise Invalid.field("parent_id", "That parent would put the unit inside itself.")
    parent_id = changes["parent_id"] if "parent_id" in changes else unit.parent_id
    if changes.get("active") is True and not unit.active and parent_id is not None:
        above = session.get(Unit, parent_id)
        if above is None or not above.active:
            raise Conflict("Reactivate the unit above this one first.")
    if changes.get("active") is False and unit.active:
        children = session.scalar(
            select(func.count()).select_from(Unit).where(
                Unit.parent_id == unit.id, Unit.active.is_(True))
        )
        if children:
            raise Conflict("Deactivate the units below this one first.")
    for key, value in changes.items():
        setattr(unit, key, value)
    return unit


def ancestors(session: Session, unit: Unit) -> list[Unit]:
    """``unit`` and the units above it, nearest first."""
    chain = [unit]
    seen = {unit.id}
    while chain[-1].parent_id is not None and chain[-1].parent_id not in seen:
        parent = session.get(Unit, chain[-1].parent_id)
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent.id)
    return chain


def subtree_ids(session: Session, unit_id: str) -> list[str]:
    """``unit_id`` and every unit below it (recursive CTE, one query)."""
    tree = select(Unit.id).where(Unit.id == unit_id).cte("tree", recursive=True)
    # UNION, not UNION ALL: should a cycle ever slip in, the query still ends.
    tree = tree.union(select(Unit.id).join(tree, Unit.parent_id == tree.c.id))
    return list(session.scalars(select(tree.c.id)))


def existing_unit(session: Session, unit_id: str, field: str) -> Unit:
    """An active unit to attach something to (a child unit, a user), else 422."""
    unit = session.get(Unit, unit_id)
    if unit is None or not unit.active:
        raise Invalid.field(field, "No such active unit.")
    return unit


def _check_code_free(session: Session, code: str) -> None:
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise Conflict(f"A unit with code {code!r} exists already.")
