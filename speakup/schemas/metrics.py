"""Response-time metrics on the wire: JSON, and the same table as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from marshmallow import Schema, fields, validate

from speakup.schemas.common import ID_LENGTH, Input, Timestamp
from speakup.schemas.config import WholeNumber
from speakup.services.reports.metrics import (
    COUNTS,
    DURATIONS,
    GROUPINGS,
    MAX_THRESHOLD,
    SHARES,
)
from speakup.vocabulary import Kind

CSV = "text/csv"


class MetricsArgsSchema(Input):
    from_ = Timestamp(data_key="from", metadata={
        "description": "Reports created at or after this time (default: 90 days before `to`)."})
    to = Timestamp(metadata={"description": "Reports created before this time (default: now)."})
    group_by = fields.String(load_default="none", validate=validate.OneOf(GROUPINGS))
    unit_id = fields.String(validate=ID_LENGTH,
                            metadata={"description": "Only this unit and the units below it."})
    kind = fields.String(validate=validate.OneOf([k.value for k in Kind]))
    category = fields.String(validate=validate.Length(min=1, max=64))
    suppression_threshold = fields.Integer(
        strict=False, validate=validate.Range(min=1, max=MAX_THRESHOLD),
        metadata={"description": "Hide groups with fewer reports than this; never below the "
                  "installation's threshold (default 5)."})


class DurationSchema(Schema):
    median = fields.Float(required=True, allow_none=True)
    p90 = fields.Float(required=True, allow_none=True)


def _figures() -> dict[str, fields.Field[Any]]:
    declared: dict[str, fields.Field[Any]] = {name: fields.Integer() for name in COUNTS}
    declared |= {name: fields.Nested(DurationSchema, metadata={
        "description": "Hours from creation, over the reports that have the event."})
        for name in DURATIONS}
    declared |= {name: fields.Float(allow_none=True, metadata={
        "description": "Percent, one decimal; null without a denominator."}) for name in SHARES}
    return declared


MetricsGroupSchema = Schema.from_dict({
    "key": fields.String(required=True),
    "label": fields.String(required=True),
    "suppressed": fields.Boolean(required=True, metadata={
        "description": "Too few reports to show: only key, label and this flag are sent."}),
    **_figures(),
}, name="MetricsGroup")

MetricsOverallSchema = Schema.from_dict({
    "suppressed": fields.Boolean(required=True, metadata={
        "description": "Hidden when there are too few reports, or when it would give away "
                       "the only suppressed group."}),
    **_figures(),
}, name="MetricsOverall")


class MetricsSchema(Schema):
    from_ = Timestamp(data_key="from", required=True)
    to = Timestamp(required=True)
    group_by = fields.String(required=True, validate=validate.OneOf(GROUPINGS))
    unit_id = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, allow_none=True)
    category = fields.String(required=True, allow_none=True)
    suppression_threshold = WholeNumber(required=True)
    groups = fields.List(fields.Nested(MetricsGroupSchema), required=True, metadata={
        "description": "Empty for `group_by=none`."})
    overall = fields.Nested(MetricsOverallSchema, required=True)


def csv_columns() -> list[str]:
    columns = ["key", "label", "suppressed", *COUNTS]
    for name in DURATIONS:
        columns += [f"{name}_median", f"{name}_p90"]
    return columns + list(SHARES)


def to_csv(metrics: dict[str, Any]) -> str:
    """The groups and then the overall row (key ``overall``), one line each; an empty cell
    for null and for a suppressed row's figures.  A cell that a spreadsheet would take for
    a formula gets a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(csv_columns())
    rows = [*metrics["groups"], {"key": "overall", "label": "All reports",
                                 **metrics["overall"]}]
    for row in rows:
        cells: list[Any] = [_cell(row["key"]), _cell(row["label"]),
                            "true" if row["suppressed"] else "false"]
        for name in COUNTS:
            cells.append(row.get(name, ""))
        for name in DURATIONS:
            spans = row.get(name) or {}
            cells += [_number(spans.get("median")), _number(spans.get("p90"))]
        cells += [_number(row.get(name)) for name in SHARES]
        writer.writerow(cells)
    return out.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
