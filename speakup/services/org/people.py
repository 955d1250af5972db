"""Users with roles, and the leaders of units.  Passwords are hashed before the first
query, so the slow hash never holds a write lock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import ROLES, UnitLeader, User, UserRole
from speakup.services.auth import end_all_sessions, normalise_email
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import Clock
from speakup.services.core.errors import Conflict, Invalid, NotFound
from speakup.services.core.keys import Keys
from speakup.services.core.pages import Page, paginate
from speakup.services.org.units import existing_unit, get_unit


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
            existing_unit(session, data.unit_id, "unit_id")
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
        existing_unit(session, changes["unit_id"], "unit_id")
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
