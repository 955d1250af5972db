"""Improvement actions ("label and link"): leaders and safety officers tell everyone who
spoke up what changed because of it."""

from __future__ import annotations

from typing import Any

from flask import Response, g

from speakup.routes.common import (
    JSON_BODY,
    Blueprint,
    command,
    problems,
    reads,
    requires,
    runtime,
    send,
)
from speakup.schemas.actions import (
    ActionCreateSchema,
    ActionLinkSchema,
    ActionListArgsSchema,
    ActionPageSchema,
    ActionSchema,
    ActionUpdateSchema,
)
from speakup.services.reports import improvements
from speakup.vocabulary import Role

blp = Blueprint("actions", __name__, url_prefix="/api/v1", description="Improvement actions")
WORKERS = (Role.LEADER, Role.SAFETY_OFFICER)


@blp.route("/actions", methods=["POST"])
@requires(blp, *WORKERS)
@blp.arguments(ActionCreateSchema())
@blp.response(201, ActionSchema)
@problems(blp, *JSON_BODY)
def create_action(body: dict[str, Any]) -> Response:
    """Start an improvement action, linked to the reports it answers: each of their
    reporters hears about it."""
    return send(improvements.wire(improvements.create(**body, **command())), 201)


@blp.route("/actions", methods=["GET"])
@requires(blp, *WORKERS, Role.ADMIN)
@blp.arguments(ActionListArgsSchema(), location="query")
@blp.response(200, ActionPageSchema)
def list_actions(args: dict[str, Any]) -> Response:
    """Improvement actions, newest first."""
    filters = improvements.Filters(status=args.get("status"), unit_id=args.get("unit_id"),
                                   report_id=args.get("report_id"))
    page = improvements.list_actions(reads(), actor=g.actor, keys=runtime().keys,
                                     filters=filters, limit=args["limit"],
                                     cursor=args.get("cursor"))
    return send({"items": [improvements.wire(a) for a in page.items],
                 "next_cursor": page.next_cursor})


@blp.route("/actions/<action_id>", methods=["GET"])
@requires(blp, *WORKERS, Role.ADMIN)
@blp.response(200, ActionSchema)
@problems(blp, 404)
def get_action(action_id: str) -> Response:
    """One improvement action with its updates."""
    return send(improvements.wire(improvements.get(reads(), actor=g.actor,
                                                   action_id=action_id)))


@blp.route("/actions/<action_id>", methods=["PATCH"])
@requires(blp, *WORKERS)
@blp.arguments(ActionUpdateSchema())
@blp.response(200, ActionSchema)
@problems(blp, 404, *JSON_BODY)
def update_action(body: dict[str, Any], action_id: str) -> Response:
    """Post an update (and a new status): it appears as a reporter-visible message on every
    linked report, anonymous ones included.  For the action's creator and safety
    officers."""
    return send(improvements.wire(improvements.post_update(
        action_id=action_id, body=body["update"], status=body["status"], **command())))


@blp.route("/actions/<action_id>/reports", methods=["POST"])
@requires(blp, *WORKERS)
@blp.arguments(ActionLinkSchema())
@blp.response(200, ActionSchema)
@problems(blp, 404, *JSON_BODY)
def link_reports(body: dict[str, Any], action_id: str) -> Response:
    """Link more reports to the action; each of their reporters hears about it."""
    return send(improvements.wire(improvements.link(action_id=action_id,
                                                    report_ids=body["report_ids"],
                                                    **command())))
