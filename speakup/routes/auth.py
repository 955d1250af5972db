"""Sign-in, token refresh, sign-out and who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_jwt_extended import get_jwt

from speakup.routes import tokens
from speakup.routes.common import (
    JSON_BODY,
    Blueprint,
    actor_from_token,
    current_user,
    problems,
    reads,
    requires,
    runtime,
)
from speakup.schemas.auth import LoginSchema, MeSchema, TokensSchema
from speakup.services import auth, org
from speakup.services.core.errors import Unauthorized

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Sign in and sessions")


@blp.route("/auth/login", methods=["POST"])
@blp.arguments(LoginSchema())
@blp.response(200, TokensSchema)
@problems(blp, 401, descriptions={401: "Wrong e-mail or password (alike)"})
@problems(blp, *JSON_BODY)
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Trade e-mail and password for an access and a refresh token (one session)."""
    # Check the password (slow, on purpose) before taking the write lock.
    user = auth.authenticate(reads(), email=body["email"], password=body["password"],
                             passwords=runtime().passwords)
    rehashed = auth.fresher_hash(user, password=body["password"], passwords=runtime().passwords)
    user_id, verified = user.id, user.password_hash
    # Nothing is written for the session itself: only an outdated hash takes the write lock.
    epoch = auth.confirm_sign_in(runtime().database, user_id=user_id,
                                 verified_hash=verified, password_hash=rehashed)
    ends_at = runtime().clock.now() + timedelta(days=runtime().settings.refresh_token_days)
    return tokens.session_tokens(user_id=user_id, session_id=auth.new_session_id(),
                                 epoch=epoch, ends_at=ends_at)


@blp.route("/auth/refresh", methods=["POST"])
@blp.response(200, TokensSchema)
@blp.doc(security=[{"bearerAuth": []}],
         description="Send the **refresh** token as the Bearer token.  The answer holds a new "
         "access token and a new refresh token; the refresh token sent is spent.  Sending a "
         "spent refresh token again ends the whole session (it was copied, or sent twice).  "
         "The session still ends when it would have at sign-in.")
@problems(blp, 401, descriptions={401: "No, bad, expired, spent or revoked token"})
def refresh() -> dict[str, Any]:
    """A new access and refresh token in the same session (refresh-token rotation)."""
    actor = actor_from_token(refresh=True)
    claims = get_jwt()
    token_id = claims.get("jti")
    if (actor.user_id is None or not isinstance(token_id, str)
            or not 0 < len(token_id) <= tokens.MAX_ID_LENGTH):
        raise Unauthorized("The bearer token is not valid here.")
    ends_at = tokens.session_end(claims)
    auth.spend_refresh_token(runtime().database, token_id=token_id, session_id=claims["sid"],
                             until=ends_at)
    return tokens.session_tokens(user_id=actor.user_id, session_id=claims["sid"],
                                 epoch=claims["ep"], ends_at=ends_at)


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
@blp.doc(security=[{"bearerAuth": []}],
         description="Send the access or the refresh token, or a follow-up token; every token "
         "of its session stops working at once, on every server.")
@problems(blp, 401, descriptions={401: "No, bad, expired or revoked token"})
def logout() -> None:
    """End the session of the token sent."""
    actor_from_token(any_type=True)
    claims = get_jwt()
    auth.end_session(runtime().database, session_id=claims["sid"], until=tokens.session_end(claims))


@blp.route("/me", methods=["GET"])
@requires(blp)
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """The signed-in user, their roles and the units they lead."""
    user = current_user()
    return {
        "id": user.id, "email": user.email, "name": user.name, "roles": user.roles,
        "unit_id": user.unit_id, "active": user.active,
        "leads_unit_ids": org.units_led_by(reads(), user.id),
    }

