"""Organisation administration: units (a tree), users with roles, unit leaders, categories.

Nothing that reports refer to is deleted; it is deactivated.  Every function validates its
input against the database and raises a 4xx :class:`ServiceError`; only two concurrent writers
racing for the same unique value reach the database's constraint (the web layer answers 409).
Passwords are hashed before the first query, so the slow hash never holds a write lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import ROLES, Category, Unit, UnitLeader, User, UserRole
from speakup.services.auth import end_all_sessions, normalise_email
from speakup.services.clock import Clock
from speakup.services.errors import Conflict, Invalid, NotFound
from speakup.services.keys import Keys
from speakup.services.pages import Page, paginate
from speakup.services.passwords import Passwords

DEFAULT_CATEGORIES = (
    ("patient_safety", "Patient safety"),
    ("staff_safety_wellbeing", "Staff safety and wellbeing"),
    ("bullying_harassment", "Bullying and harassment"),
    ("behaviour_attitudes", "Behaviour and attitudes"),
    ("staffing_workload", "Staffing and workload"),
    ("equipment_environment", "Equipment and environment"),
    ("process_systems", "Processes and systems"),
    ("quality_improvement", "Quality improvement"),
    ("other", "Other"),
)


# --- units -----------------------------------------------------------------------------


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
            _existing_unit(session, parent_id, "parent_id")
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
        parent = _existing_unit(session, changes["parent_id"], "parent_id")
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


def _existing_unit(session: Session, unit_id: str, field: str) -> Unit:
    """An active unit to attach something to (a child unit, a user), else 422."""
    unit = session.get(Unit, unit_id)
    if unit is None or not unit.active:
        raise Invalid.field(field, "No such active unit.")
    return unit


def _check_code_free(session: Session, code: str) -> None:
    if session.scalar(select(Unit.id).where(Unit.code == code)) is not None:
        raise Conflict(f"A unit with code {code!r} exists already.")


# --- users -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str
    password: str
    roles: list[str]
    unit_id: str | None = None


def list_users(session: Session, *, keys: Keys, limit: int, cursor: str | None) -> Page[User]:
    return paginate(session, select(User), [User.created_at, User.id], signing_key=keys.cursor,
                    limit=limit, cursor=cursor)


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def create_user(db: Database, *, clock: Clock, passwords: Passwords, data: NewUser) -> User:
    """Create a user with a hashed password and roles.  Duplicate e-mail is 409."""
    password_hash = passwords.hash(data.password)  # slow: before the write lock
    email = normalise_email(data.email)
    user = User(email=email, name=data.name, password_hash=password_hash,
                unit_id=data.unit_id, active=True, created_at=clock.now())
    _set_roles(user, data.roles)
    with db.write() as session:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict("A user with that e-mail address exists already.")
        if data.unit_id is not None:
            _existing_unit(session, data.unit_id, "unit_id")
        session.add(user)
    return user


def update_user(
    db: Database, user_id: str, *, clock: Clock, passwords: Passwords, **changes: Any
) -> User:
    """Change name, e-mail, roles, unit, password or active.  Deactivating a user or changing
    their password ends their sessions."""
    if "password" in changes:  # slow: before the write lock
        changes["password_hash"] = passwords.hash(changes.pop("password"))
    with db.write() as session:
        return _update_user(session, user_id, changes)


def _update_user(session: Session, user_id: str, changes: dict[str, Any]) -> User:
    user = get_user(session, user_id)
    was_admin = user.active and user.has_role("admin")
    if "email" in changes:
        email = normalise_email(changes.pop("email"))
        if email != user.email:
            if session.scalar(select(User.id).where(User.email == email)) is not None:
                raise Conflict("A user with that e-mail address exists already.")
            user.email = email
    if changes.get("unit_id") is not None:
        _existing_unit(session, changes["unit_id"], "unit_id")
    if "roles" in changes:
        _set_roles(user, changes.pop("roles"))
        if not user.has_role("leader"):
            # Leading a unit needs the role; without it the assignments would linger.
            session.execute(delete(UnitLeader).where(UnitLeader.user_id == user.id))
    if was_admin and (changes.get("active") is False or not user.has_role("admin")):
        _keep_an_admin(session, user)
    if "password_hash" in changes or changes.get("active") is False:
        end_all_sessions(user)
    for key, value in changes.items():
        setattr(user, key, value)
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave the organisation without an active admin (``user``
    is an admin losing the role or being deactivated)."""
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "admin", User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise Conflict("This is the last active admin; make someone else admin first.")


def _set_roles(user: User, roles: Iterable[str]) -> None:
    wanted = sorted(set(roles))  # the relationship's order, so a PATCH and a GET agree
    unknown = [r for r in wanted if r not in ROLES]
    if unknown:
        raise Invalid.field("roles", f"Unknown role(s): {', '.join(unknown)}.")
    if not wanted:
        raise Invalid.field("roles", "A user needs at least one role.")
    existing = {row.role: row for row in user.role_rows}
    user.role_rows = [existing.get(r) or UserRole(role=r) for r in wanted]


# --- leaders ---------------------------------------------------------------------------


def list_leaders(session: Session, unit_id: str) -> list[User]:
    get_unit(session, unit_id)
    stmt = (
        select(User)
        .join(UnitLeader, UnitLeader.user_id == User.id)
        .where(UnitLeader.unit_id == unit_id)
        .order_by(User.name, User.id)
    )
    return list(session.scalars(stmt))


def add_leader(db: Database, *, clock: Clock, unit_id: str, user_id: str) -> User:
    """Make a user with the leader role a leader of an active unit.  Twice is 409."""
    with db.write() as session:
        return _add_leader(session, clock, unit_id, user_id)


def _add_leader(session: Session, clock: Clock, unit_id: str, user_id: str) -> User:
    if not get_unit(session, unit_id).active:
        raise Conflict("That unit is deactivated; reactivate it before adding leaders.")
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise Invalid.field("user_id", "No such active user.")
    if not user.has_role("leader"):
        raise Invalid.field("user_id", "Only a user with the leader role can lead a unit.")
    if session.get(UnitLeader, (unit_id, user_id)) is not None:
        raise Conflict("That user leads this unit already.")
    session.add(UnitLeader(unit_id=unit_id, user_id=user_id, assigned_at=clock.now()))
    return user


def remove_leader(db: Database, *, unit_id: str, user_id: str) -> None:
    """Remove a leader assignment.  Reports keep their recorded assignees."""
    with db.write() as session:
        row = session.get(UnitLeader, (unit_id, user_id))
        if row is None:
            raise NotFound("That user does not lead this unit.")
        session.delete(row)


def units_led_by(session: Session, user_id: str) -> list[str]:
    return list(session.scalars(select(UnitLeader.unit_id).where(UnitLeader.user_id == user_id)))


# --- categories ------------------------------------------------------------------------


def list_categories(session: Session, *, include_inactive: bool) -> list[Category]:
    stmt = select(Category).order_by(Category.position, Category.id)
    if not include_inactive:
        stmt = stmt.where(Category.active.is_(True))
    return list(session.scalars(stmt))


def get_category(session: Session, category_id: str, *, include_inactive: bool = True
                 ) -> Category:
    category = session.get(Category, category_id)
    if category is None or not (category.active or include_inactive):
        raise NotFound("No such category.")
    return category


def create_category(
    db: Database, *, id: str, label: str, position: int | None = None
) -> Category:
    """Add a category.  An existing id is 409."""
    with db.write() as session:
        if session.get(Category, id) is not None:
            raise Conflict(f"Category {id!r} exists already.")
        if position is None:
            last = session.scalar(select(Category.position).order_by(Category.position.desc()))
            position = (last or 0) + 1
        category = Category(id=id, label=label, active=True, position=position)
        session.add(category)
    return category


def update_category(db: Database, category_id: str, **changes: Any) -> Category:
    with db.write() as session:
        category = get_category(session, category_id)
        for key, value in changes.items():
            setattr(category, key, value)
    return category
