"""Sign-in and sessions, kept without storing when anybody signed in.

A session is stateless: its tokens carry a random session id and the user's session epoch.
Signing in writes nothing (unless the password hash is upgraded).  Ending one session puts
its id on the deny list; ending all of a user's sessions (new password, deactivation) raises
the user's epoch, which every older token still carries.  The deny list holds token ids and
an expiry rounded up to the hour, nothing else: no user id, no time of sign-in or use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, bindparam, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from speakup.db import Database
from speakup.models import RevokedToken, User, UserRole
from speakup.services.auth.passwords import Passwords
from speakup.services.core.errors import Unauthorized
from speakup.services.core.ids import new_id

LOGIN_FAILED = "The e-mail address or the password is not correct."
SESSION_ENDED = "This session has ended; sign in again."
REFRESH_REUSED = ("This refresh token was used before, so the session has ended for safety; "
                  "sign in again.")

# An INSERT that leaves an existing row alone, in each dialect speakup runs on.
_INSERTS: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert,
}


def authenticate(session: Session, *, email: str, password: str, passwords: Passwords) -> User:
    """The active user with these credentials, else :class:`Unauthorized`.  An unknown e-mail,
    an inactive account and a wrong password fail alike, with the same hashing work.  Reads
    only: the slow hash must not run inside a writing transaction."""
    user = session.scalars(select(User).where(User.email == normalise_email(email))
                           .options(joinedload(User.role_rows))).unique().first()
    stored = user.password_hash if user is not None and user.active else None
    if not passwords.verify(stored, password) or user is None:
        raise Unauthorized(LOGIN_FAILED)
    return user


def fresher_hash(user: User, *, password: str, passwords: Passwords) -> str | None:
    """A new hash of the (verified) password when the stored one uses outdated parameters."""
    if passwords.needs_rehash(user.password_hash):
        return passwords.hash(password)
    return None


def confirm_sign_in(
    db: Database, *, user_id: str, verified_hash: str, password_hash: str | None = None
) -> int:
    """The session epoch for new tokens of the user whose password was verified against
    ``verified_hash``; stores the fresher ``password_hash`` if given (and then commits).

    The password was checked outside this transaction (hashing is slow), so the account is
    read again here: if it was deactivated or its password changed meanwhile, the sign-in
    fails like any other.  The rehash is one conditional UPDATE, so a new password is never
    overwritten by a rehash of the old one, whatever runs concurrently.  Without a rehash
    nothing is written: a sign-in leaves no trace in the database.
    """
    current = (User.id == user_id, User.active.is_(True), User.password_hash == verified_hash)
    epoch: int | None
    if password_hash is not None:
        with db.write() as session:
            epoch = session.scalar(
                update(User).where(*current).values(password_hash=password_hash)
                .returning(User.session_epoch)
            )
    else:
        with db.read() as session:
            epoch = session.scalar(select(User.session_epoch).where(*current))
    if epoch is None:
        raise Unauthorized(LOGIN_FAILED)
    return epoch


def new_session_id() -> str:
    """A random id for a new session (or follow-up token); stored only if it is ended."""
    return new_id()


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The user behind a session token, as read for one request."""

    id: str
    email: str
    name: str
    unit_id: str | None
    active: bool
    session_epoch: int
    roles: tuple[str, ...]


# One statement per signed-in request: the user, their roles (one row each) and whether the
# token's session was ended.  Built once: building a statement costs more than running it.
_SIGNED_IN = (
    select(User.id, User.email, User.name, User.unit_id, User.active, User.session_epoch,
           UserRole.role,
           exists().where(RevokedToken.id == bindparam("session_id")).label("ended"))
    .select_from(User)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(User.id == bindparam("user_id"))
    .order_by(UserRole.role)
)
_ENDED = select(RevokedToken.id).where(RevokedToken.id == bindparam("session_id"))


def signed_in(connection: Connection, *, user_id: str, session_id: str
              ) -> tuple[SignedIn | None, bool]:
    """The token's user (None if there is no such user) and whether its session was ended,
    in one statement (a single read: ``connection`` may be in autocommit mode)."""
    rows = connection.execute(
        _SIGNED_IN, {"user_id": user_id, "session_id": session_id}).all()
    if not rows:
        return None, session_is_ended(connection, session_id=session_id)
    first = rows[0]
    user = SignedIn(id=first.id, email=first.email, name=first.name, unit_id=first.unit_id,
                    active=first.active, session_epoch=first.session_epoch,
                    roles=tuple(row.role for row in rows if row.role is not None))
    return user, bool(first.ended)


def session_is_ended(connection: Connection, *, session_id: str) -> bool:
    """Whether the session was ended (one primary-key lookup)."""
    return connection.execute(_ENDED, {"session_id": session_id}).first() is not None


def end_session(db: Database, *, session_id: str, until: datetime) -> None:
    """End the session: its tokens are refused from now on, on every worker.  ``until`` is
    when its last token expires; the row is kept until then, rounded up to the hour.
    Idempotent."""
    with db.write() as session:
        _deny(session, session_id, until)


def spend_refresh_token(
    db: Database, *, token_id: str, session_id: str, until: datetime
) -> None:
    """Mark the refresh token ``token_id`` as used, so that it works exactly once.

    A token that was spent already is being replayed (stolen, or sent twice): the whole
    session ends and :class:`Unauthorized` is raised.  The primary key decides between
    concurrent uses of the same token: exactly one of them succeeds.
    """
    with db.write() as session:
        spent = _deny(session, token_id, until)
        if not spent:
            _deny(session, session_id, until)
    if not spent:  # raised after the block, which keeps the session's end
        raise Unauthorized(REFRESH_REUSED)


def end_all_sessions(user: User) -> None:
    """End every session of the user, on every worker: their tokens carry the old epoch.
    Not committed: part of the caller's change."""
    user.session_epoch = User.session_epoch + 1  # type: ignore[assignment]


def purge_revoked(session: Session, *, now: datetime) -> int:
    """Delete the deny-list rows whose tokens have all expired; how many.  Not committed."""
    result = cast(CursorResult[Any], session.execute(
        delete(RevokedToken).where(RevokedToken.expires_at <= now),
        execution_options={"synchronize_session": False},
    ))
    return result.rowcount


def next_whole_hour(moment: datetime) -> datetime:
    """``moment`` rounded up to the hour (unchanged if it is on the hour)."""
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _deny(session: Session, token_id: str, until: datetime) -> bool:
    """Put ``token_id`` on the deny list; False if it was there already."""
    insert = _INSERTS[session.get_bind().dialect.name]
    added = session.scalar(
        insert(RevokedToken)
        .values(id=token_id, expires_at=next_whole_hour(until))
        .on_conflict_do_nothing(index_elements=[RevokedToken.id])
        .returning(RevokedToken.id)
    )
    return added is not None
