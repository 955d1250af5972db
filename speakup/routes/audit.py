"""The audit log: who read or changed which report, when (safety officers and admins)."""

from __future__ import annotations

from typing import Any

from flask import Response

from speakup.routes.common import Blueprint, reads, requires, runtime, send
from speakup.schemas.audit import AuditListArgsSchema, AuditPageSchema
from speakup.services.reports import audit
from speakup.vocabulary import Role

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="The audit log")


@blp.route("/audit", methods=["GET"])
@requires(blp, Role.SAFETY_OFFICER, Role.ADMIN)
@blp.arguments(AuditListArgsSchema(), location="query")
@blp.response(200, AuditPageSchema)
def list_audit(args: dict[str, Any]) -> Response:
    """Every staff-side read of a report's details and every change to a report, newest
    first.  Append-only: nothing here is ever updated or deleted."""
    filters = audit.Filters(report_id=args.get("report_id"), actor_id=args.get("actor_id"),
                            action=args.get("action"), from_=args.get("from_"),
                            to=args.get("to"))
    page = audit.list_entries(reads(), keys=runtime().keys, filters=filters,
                              limit=args["limit"], cursor=args.get("cursor"))
    return send({"items": [audit.wire(item) for item in page.items],
                 "next_cursor": page.next_cursor})
