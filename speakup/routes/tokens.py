"""What speakup's tokens carry, and which ones are refused before any route runs.

Every token names its session (``sid``: random, stored only once the session has ended) and
when that session ends (``sx``: seconds since the epoch, by the app's clock).  Tokens of a
signed-in user also carry the user's session epoch (``ep``), checked where the user is loaded
anyway; follow-up tokens carry ``scope`` and the report id (``rid``) instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from flask import g
from flask_jwt_extended import create_access_token, create_refresh_token

from speakup.routes.common import lookup, runtime
from speakup.services import auth

MAX_ID_LENGTH = 64  # the deny list's key
CLOCK_SKEW = timedelta(minutes=5)


def session_tokens(
    *, user_id: str, session_id: str, epoch: int, ends_at: datetime
) -> dict[str, Any]:
    """An access and a refresh token of one session; the refresh token lasts only as long as
    the session has left, so refreshing can never stretch a session past ``ends_at``."""
    claims = {"sid": session_id, "ep": epoch, "sx": int(ends_at.timestamp())}
    left = ends_at - runtime().clock.now()
    return {
        "access_token": create_access_token(identity=user_id, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=user_id, additional_claims=claims,
                                              expires_delta=left),
        "token_type": "Bearer",
        "expires_in": runtime().settings.access_token_minutes * 60,
    }


def followup_token(*, report_id: str, lifetime: timedelta) -> str:
    """A short token that opens one report as its reporter; it carries no identity, but its
    own session id, so that signing out ends it."""
    ends_at = runtime().clock.now() + lifetime
    claims = {"scope": "followup", "rid": report_id, "sid": auth.new_session_id(),
              "sx": int(ends_at.timestamp())}
    token: str = create_access_token(identity="anonymous-reporter", additional_claims=claims,
                                     expires_delta=lifetime)
    return token


def session_end(claims: dict[str, Any]) -> datetime:
    """When the session of a token (already accepted by :func:`refused`) ends."""
    return datetime.fromtimestamp(claims["sx"], UTC)


def refused(claims: dict[str, Any]) -> bool:
    """Whether a well-signed, unexpired token is still refused: it lacks what speakup's tokens
    carry, its session is over, or its session was ended (one primary-key lookup)."""
    sid, ends = claims.get("sid"), claims.get("sx")
    if not isinstance(sid, str) or not 0 < len(sid) <= MAX_ID_LENGTH:
        return True
    if not _is_int(ends):
        return True
    now = runtime().clock.now()
    # No session lasts longer than the configured lifetime (the slack covers clock skew
    # between machines); a claim beyond it is no token of ours, or of an older setting.
    longest = now + timedelta(days=runtime().settings.refresh_token_days) + CLOCK_SKEW
    if not now.timestamp() < ends <= longest.timestamp():
        return True
    if claims.get("scope") == "followup":
        if not isinstance(claims.get("rid"), str):
            return True
        with lookup() as connection:
            return auth.session_is_ended(connection, session_id=sid)
    if not _is_int(claims.get("ep")) or not isinstance(claims.get("sub"), str):
        return True
    # The user is read with the check, for actor_from_token: one statement for both.
    with lookup() as connection:
        user, ended = auth.signed_in(connection, user_id=claims["sub"], session_id=sid)
    g.signed_in = user
    return ended


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
