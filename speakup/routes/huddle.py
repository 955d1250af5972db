"""A unit's daily huddle, for its leaders, the leaders above it and safety officers."""

from __future__ import annotations

from flask import Response, g

from speakup.routes.common import Blueprint, problems, reads, requires, runtime, send
from speakup.schemas.huddle import HuddleSchema
from speakup.services.reports import huddle as huddles

blp = Blueprint("huddle", __name__, url_prefix="/api/v1",
                description="What a unit's daily huddle shows")


@blp.route("/units/<unit_id>/huddle", methods=["GET"])
@requires(blp)
@blp.response(200, HuddleSchema)
@problems(blp, 404, descriptions={404: "No such active unit"})
def huddle(unit_id: str) -> Response:
    """What the unit's daily huddle screen shows, in one call.

    Open reports with their age and SLA state (oldest first), reports closed in the last 14
    days with their outcome and the response the reporter was sent ("you said, we did"),
    improvement actions in progress, and the median hours to acknowledge over the last 30
    days.  Covers the unit and every unit below it; each list holds at most 200 items beside
    its full count.  For the leaders of the unit or of a unit above it, and safety officers.
    It never shows who reported, descriptions or internal messages: the screen hangs where
    everyone can read it.
    """
    view = huddles.huddle(reads(), actor=g.actor, unit_id=unit_id, now=runtime().clock.now())
    return send(huddles.wire(view))
