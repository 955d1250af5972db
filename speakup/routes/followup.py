"""Anonymous follow-up: trade a receipt key for a short token scoped to one report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from speakup.routes import tokens
from speakup.routes.common import JSON_BODY, Blueprint, problems, reads, runtime
from speakup.schemas.reports import FollowupRequestSchema, FollowupTokenSchema
from speakup.services.auth import followup

blp = Blueprint("followup", __name__, url_prefix="/api/v1",
                description="Follow-up for anonymous reporters")


@blp.route("/followup", methods=["POST"])
@blp.arguments(FollowupRequestSchema())
@blp.response(200, FollowupTokenSchema)
@problems(blp, 401, descriptions={401: "The key opens no report (every wrong key fails alike)"})
@problems(blp, *JSON_BODY)
def redeem(body: dict[str, Any]) -> dict[str, Any]:
    """Trade a receipt key for a follow-up token.

    The short-lived token can read (and later act on) only that one report, as its
    reporter.  It carries no identity; signing out with it ends it."""
    # Reads only: a follow-up never waits for (or holds) the write lock.
    report_id = followup.redeem(reads(), keys=runtime().keys,
                                receipt_key=body["receipt_key"])
    minutes = runtime().settings.followup_token_minutes
    token = tokens.followup_token(report_id=report_id, lifetime=timedelta(minutes=minutes))
    return {"access_token": token, "token_type": "Bearer", "expires_in": minutes * 60,
            "report_id": report_id}
