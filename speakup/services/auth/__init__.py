"""Who is asking: passwords, sign-in and sessions, receipt keys and anonymous follow-up."""

from speakup.services.auth.sessions import (
    LOGIN_FAILED,
    REFRESH_REUSED,
    SESSION_ENDED,
    SignedIn,
    authenticate,
    confirm_sign_in,
    end_all_sessions,
    end_session,
    fresher_hash,
    new_session_id,
    next_whole_hour,
    normalise_email,
    purge_revoked,
    session_is_ended,
    signed_in,
    spend_refresh_token,
)

__all__ = [
    "LOGIN_FAILED", "REFRESH_REUSED", "SESSION_ENDED", "authenticate", "confirm_sign_in",
    "end_all_sessions", "end_session", "fresher_hash", "new_session_id", "next_whole_hour",
    "normalise_email", "purge_revoked", "session_is_ended", "signed_in", "SignedIn",
    "spend_refresh_token",
]
