"""Report intake and reading.

``POST /reports`` decides anonymity from the body *before* it looks at any token: for an
anonymous report the Authorization header is never read, so nothing about the sender can
reach the service, the database or the log.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g

from speakup.routes.common import (
    JSON_BODY,
    Blueprint,
    actor_from_token,
    current_user,
    problems,
    reads,
    requires,
    runtime,
    send,
)
from speakup.schemas.reports import (
    IdempotencyHeaderSchema,
    ReportCreatedSchema,
    ReportCreateSchema,
    ReportListArgsSchema,
    ReportPageSchema,
    ReportSchema,
)
from speakup.services import auth
from speakup.services.reports import intake, queries, views

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Speaking up")


@blp.route("/reports", methods=["POST"])
@blp.arguments(IdempotencyHeaderSchema(), location="headers")
@blp.arguments(ReportCreateSchema())
@blp.response(201, ReportCreatedSchema)
@blp.doc(security=[{}, {"bearerAuth": []}])
@problems(blp, 401, descriptions={401: "A named report was sent with a bad or expired token"})
@problems(blp, *JSON_BODY)
def submit(headers: dict[str, Any], body: dict[str, Any]) -> Response:
    """Speak up, named or anonymous.

    Without a token the report is anonymous (a follow-up token carries no identity, so a
    report sent with one is anonymous too).  An anonymous report's response carries a
    `receipt_key` to follow up with, shown only here (and to a retry with the same
    Idempotency-Key).
    """
    data = intake.NewReport(**body)
    reporter = None if data.anonymous else _named_reporter()
    rt = runtime()
    result = intake.submit(rt.database, clock=rt.clock, keys=rt.keys, data=data,
                           reporter=reporter, idempotency_key=headers.get("idempotency_key"),
                           reads=reads())
    response = dict(result.response)
    if result.receipt_key is not None:
        response["receipt_key"] = result.receipt_key
    return send(response, 201)


def _named_reporter() -> auth.SignedIn | None:
    """The signed-in user who sends a named report, or None when no token came with it."""
    actor_from_token(optional=True)
    return current_user() if g.get("user") is not None else None


@blp.route("/reports", methods=["GET"])
@requires(blp)
@blp.arguments(ReportListArgsSchema(), location="query")
@blp.response(200, ReportPageSchema)
def list_reports(args: dict[str, Any]) -> Response:
    """Reports you may see, newest first.

    Your own named reports; as a leader, those routed to you; as a safety officer or
    admin, all.
    """
    filters = queries.Filters(
        status=args.get("status"), kind=args.get("kind"), category=args.get("category"),
        unit_id=args.get("unit_id"), overdue=args.get("overdue"),
        assigned_to_me=args.get("assigned_to") == "me",
        created_from=args.get("created_from"), created_to=args.get("created_to"),
    )
    rt = runtime()
    page = queries.list_reports(reads(), actor=g.actor, clock=rt.clock, keys=rt.keys,
                                filters=filters, limit=args["limit"], cursor=args.get("cursor"))
    return send({"items": [views.wire(item) for item in page.items],
                 "next_cursor": page.next_cursor})


@blp.route("/reports/<report_id>", methods=["GET"])
@requires(blp, followup=True)
@blp.response(200, ReportSchema)
@problems(blp, 404)
def get_report(report_id: str) -> Response:
    """One report, as the caller may see it.

    The staff view for its assignees, safety officers and admins; the reporter view for
    its reporter (or the follow-up token of an anonymous reporter).
    """
    return send(views.wire(queries.get_report(reads(), actor=g.actor, report_id=report_id)))
