"""Sign-in, token refresh, sign-out and who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt
from flask_smorest import Blueprint

from speakup.routes.common import (
    JSON_BODY,
    actor_from_token,
    clock,
    current_user,
    db,
    end_reads,
    passwords,
    problems,
    requires,
    settings,
)
from speakup.schemas.auth import AccessTokenSchema, LoginSchema, MeSchema, TokensSchema
from speakup.services import auth, org

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Sign in and sessions")


@blp.route("/auth/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
@problems(blp, 401, descriptions={401: "Wrong e-mail or password (alike)"})
@problems(blp, *JSON_BODY)
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Trade e-mail and password for an access and a refresh token (one session)."""
    # Check the password (slow, on purpose) before taking the write lock.
    user = auth.authenticate(db(write=False), email=body["email"], password=body["password"],
                             passwords=passwords())
    rehashed = auth.fresher_hash(user, password=body["password"], passwords=passwords())
    user_id, verified = user.id, user.password_hash
    end_reads()
    cfg = settings()
    row = auth.start_session(db(write=True), user_id=user_id, verified_hash=verified,
                             clock=clock(), lifetime=timedelta(days=cfg.refresh_token_days),
                             password_hash=rehashed)
    claims = {"sid": row.id}
    return {
        "access_token": create_access_token(identity=user_id, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=user_id, additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": cfg.access_token_minutes * 60,
    }


@blp.route("/auth/refresh", methods=["POST"])
@blp.response(200, AccessTokenSchema)
@blp.doc(security=[{"bearerAuth": []}],
         description="Send the **refresh** token as the Bearer token.")
@problems(blp, 401, descriptions={401: "No, bad, expired or revoked token"})
def refresh() -> dict[str, Any]:
    """A new access token in the same session."""
    actor = actor_from_token(refresh=True)
    claims = {"sid": get_jwt()["sid"]}
    return {
        "access_token": create_access_token(identity=actor.user_id, additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": settings().access_token_minutes * 60,
    }


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
@blp.doc(security=[{"bearerAuth": []}],
         description="Send the access or the refresh token; both stop working at once, on "
         "every server.")
@problems(blp, 401, descriptions={401: "No, bad, expired or revoked token"})
def logout() -> None:
    """End the session of the token sent."""
    actor_from_token(any_type=True)
    sid = get_jwt().get("sid")
    if sid:
        auth.end_session(db(), session_id=str(sid), clock=clock())


@blp.route("/me", methods=["GET"])
@requires(blp)
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """The signed-in user, their roles and the units they lead."""
    user = current_user()
    return {
        "id": user.id, "email": user.email, "name": user.name, "roles": user.roles,
        "unit_id": user.unit_id, "active": user.active,
        "leads_unit_ids": org.units_led_by(db(), user.id),
    }

