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
    command,
    current_user,
    problems,
    reads,
    requires,
    runtime,
    send,
)
from speakup.schemas.reports import (
    AcknowledgeSchema,
    AssignSchema,
    CloseSchema,
    FeedbackCreateSchema,
    FeedbackSchema,
    IdempotencyHeaderSchema,
    MessageCreateSchema,
    MessageSchema,
    ReopenSchema,
    ReportCreatedSchema,
    ReportCreateSchema,
    ReportListArgsSchema,
    ReportPageSchema,
    ReportSchema,
)
from speakup.services import auth
from speakup.services.reports import history, intake, queries, views, workflow

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
    view = queries.get_report(reads(), actor=g.actor, report_id=report_id)
    if view.timeline is not None:  # the staff side: audited, after the read
        reads().rollback()
        rt = runtime()
        history.read(rt.database, actor_id=g.actor.user_id, report_id=report_id,
                     at=rt.clock.now())
    return send(views.wire(view))


def _report(done: workflow.Done) -> Response:
    view = done.view or queries.view_after(reads(), report_id=done.report_id,
                                           staff_side=done.staff_side, row=done.row)
    return send(views.wire(view))


@blp.route("/reports/<report_id>/acknowledge", methods=["POST"])
@requires(blp)
@blp.arguments(AcknowledgeSchema())
@blp.response(200, ReportSchema)
@problems(blp, 404, *JSON_BODY)
def acknowledge(body: dict[str, Any], report_id: str) -> Response:
    """Acknowledge a report (assignees, safety officers), optionally with a reporter-visible
    message.  Idempotent: a repeat returns the first acknowledgement unchanged."""
    return _report(workflow.acknowledge(report_id=report_id, message=body["message"],
                                        **command()))


@blp.route("/reports/<report_id>/messages", methods=["POST"])
@requires(blp, followup=True)
@blp.arguments(MessageCreateSchema())
@blp.response(201, MessageSchema)
@problems(blp, 404, 409, *JSON_BODY)
def post_message(body: dict[str, Any], report_id: str) -> Response:
    """Write on a report: from the staff side (assignees, safety officers; `internal` notes
    are never shown to the reporter) or as its reporter.  The first reporter-visible staff
    message is the report's first response.  Not on a closed report: reopen it first."""
    written = workflow.post_message(report_id=report_id, body=body["body"],
                                    internal=body["internal"], **command())
    return send(views.message_wire(written), 201)


@blp.route("/reports/<report_id>/close", methods=["POST"])
@requires(blp)
@blp.arguments(CloseSchema())
@blp.response(200, ReportSchema)
@problems(blp, 404, 409, *JSON_BODY)
def close(body: dict[str, Any], report_id: str) -> Response:
    """Close the loop with an outcome and a reporter-visible response.  Closing an
    unacknowledged report acknowledges it at the same moment."""
    return _report(workflow.close(report_id=report_id, outcome=body["outcome"],
                                  response=body["response"], **command()))


@blp.route("/reports/<report_id>/reopen", methods=["POST"])
@requires(blp, followup=True)
@blp.arguments(ReopenSchema())
@blp.response(200, ReportSchema)
@problems(blp, 404, 409, *JSON_BODY)
def reopen(body: dict[str, Any], report_id: str) -> Response:
    """Reopen a closed report: its reporter within 30 days of the latest closing, a safety
    officer at any time."""
    return _report(workflow.reopen(report_id=report_id, reason=body["reason"], **command()))


@blp.route("/reports/<report_id>/assign", methods=["POST"])
@requires(blp)
@blp.arguments(AssignSchema())
@blp.response(200, ReportSchema)
@problems(blp, 404, 409, *JSON_BODY)
def assign(body: dict[str, Any], report_id: str) -> Response:
    """Hand the report to someone who can act on it, with a reason."""
    return _report(workflow.assign(report_id=report_id, user_id=body["user_id"],
                                   reason=body["reason"], **command()))


@blp.route("/reports/<report_id>/feedback", methods=["POST"])
@requires(blp, followup=True)
@blp.arguments(FeedbackCreateSchema())
@blp.response(201, FeedbackSchema)
@problems(blp, 404, 409, *JSON_BODY)
def feedback(body: dict[str, Any], report_id: str) -> Response:
    """The reporter's verdict once the report is closed; once per report (a second is 409)."""
    given = workflow.give_feedback(report_id=report_id, **body, **command())
    return send(workflow.feedback_wire(given), 201)
