"""Response-time metrics for safety officers and admins, as JSON or CSV."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from speakup.routes.common import Blueprint, problems, reads, requires, runtime, send
from speakup.schemas.metrics import CSV, MetricsArgsSchema, MetricsSchema, to_csv
from speakup.services.reports import metrics
from speakup.services.reports.views import iso
from speakup.vocabulary import Role

blp = Blueprint("metrics", __name__, url_prefix="/api/v1",
                description="Response-time metrics")


@blp.route("/metrics/response-times", methods=["GET"])
@requires(blp, Role.SAFETY_OFFICER, Role.ADMIN)
@blp.arguments(MetricsArgsSchema(), location="query")
@blp.response(200, MetricsSchema)
@blp.alt_response(200, content_type=CSV, success=True,
                  description="The same table as CSV (`Accept: text/csv`): the groups, then "
                              "the overall row with key `overall`.")
@problems(blp, 422)
def response_times(args: dict[str, Any]) -> Response:
    """How fast reports are acknowledged, answered and closed, per group.

    Computed by the database over the reports created in `[from, to)`.  Durations are
    hours from creation (median and 90th percentile, continuous, two decimals) over the
    reports that have the event; SLA shares judge against the due times a report was
    created with.  Groups with fewer reports than the suppression threshold show no figures,
    and when only one group is hidden a second one (or the overall row) is too, so that no
    group can be recovered by subtraction.
    """
    settings = runtime().settings
    result = metrics.measure(
        reads(), now=runtime().clock.now(),
        minimum_threshold=settings.metrics_suppression_threshold,
        start=args.get("from_"), end=args.get("to"), group_by=args["group_by"],
        unit_id=args.get("unit_id"), kind=args.get("kind"), category=args.get("category"),
        threshold=args.get("suppression_threshold"))
    result["from"], result["to"] = iso(result["from"]), iso(result["to"])
    if request.accept_mimetypes.best_match(["application/json", CSV]) == CSV:
        return Response(to_csv(result), mimetype=CSV,
                        headers={"Content-Disposition": 'attachment; filename="metrics.csv"'})
    return send(result)
