"""Sign-in and sessions.  Tokens issued together belong to one session row; revoking the row
stops every token of the session on every worker, because each request checks it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.models import AuthSession, User
from speakup.services.clock import Clock
from speakup.services.errors import Unauthorized
from speakup.services.passwords import Passwords

LOGIN_FAILED = "The e-mail address or the password is not correct."


def authenticate(session: Session, *, email: str, password: str, passwords: Passwords) -> User:
    """The active user with these credentials, else :class:`Unauthorized`.  An unknown e-mail,
    an inactive account and a wrong password fail alike, with the same hashing work.  Reads
    only: the slow hash must not run inside a writing transaction."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    stored = user.password_hash if user is not None and user.active else None
    if not passwords.verify(stored, password) or user is None:
        raise Unauthorized(LOGIN_FAILED)
    return user


def fresher_hash(user: User, *, password: str, passwords: Passwords) -> str | None:
    """A new hash of the (verified) password when the stored one uses outdated parameters."""
    if passwords.needs_rehash(user.password_hash):
        return passwords.hash(password)
    return None


def start_session(
    session: Session, *, user_id: str, verified_hash: str, clock: Clock, lifetime: timedelta,
    password_hash: str | None = None,
) -> AuthSession:
    """A new session for the user whose password was verified against ``verified_hash``;
    committed, with a fresher ``password_hash`` if given.

    The password was checked outside this transaction (hashing is slow), so the account is
    read again here: if it was deactivated or its password changed meanwhile, the sign-in
    fails like any other, and a new password is never overwritten by a rehash of the old.
    """
    user = session.get(User, user_id)
    if user is None or not user.active or user.password_hash != verified_hash:
        raise Unauthorized(LOGIN_FAILED)
    now = clock.now()
    row = AuthSession(user_id=user_id, created_at=now, expires_at=now + lifetime)
    session.add(row)
    if password_hash is not None:
        user.password_hash = password_hash
    session.commit()
    return row


def session_is_live(session: Session, *, session_id: str, clock: Clock) -> bool:
    row = session.get(AuthSession, session_id)
    return row is not None and row.revoked_at is None and row.expires_at > clock.now()


def end_session(session: Session, *, session_id: str, clock: Clock) -> None:
    """Revoke a session (idempotent; committed)."""
    row = session.get(AuthSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        session.commit()


def end_all_sessions(session: Session, *, user_id: str, now: datetime) -> None:
    """Revoke every live session of a user (not committed: part of the caller's change)."""
    rows = session.scalars(
        select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    )
    for row in rows:
        row.revoked_at = now


def normalise_email(email: str) -> str:
    return email.strip().lower()
