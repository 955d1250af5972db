"""A unit's daily huddle on the wire.  It has no reporter, no description and no internal
message anywhere: a huddle screen hangs where everyone can read it."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from speakup.schemas.common import Timestamp
from speakup.services.reports.huddle import CLOSED_DAYS, DUE_SOON, LIMIT, MEDIAN_DAYS, Sla
from speakup.vocabulary import Kind, Outcome, Status, values

SLA_STATES = values(Sla)
_DUE_SOON_HOURS = int(DUE_SOON.total_seconds() // 3600)


class HuddleOpenReportSchema(Schema):
    id = fields.String(required=True)
    reference = fields.String(required=True, metadata={"example": "SU-2026-000042"})
    kind = fields.String(required=True, validate=validate.OneOf(values(Kind)))
    category = fields.String(required=True)
    title = fields.String(required=True, allow_none=True)
    immediate_risk = fields.Boolean(required=True)
    status = fields.String(required=True, validate=validate.OneOf(values(Status)))
    unit_id = fields.String(required=True)
    created_at = Timestamp(required=True)
    age_hours = fields.Float(required=True, metadata={
        "description": "Hours since the report was made, one decimal."})
    ack_due_at = Timestamp(required=True)
    close_due_at = Timestamp(required=True)
    sla = fields.String(required=True, validate=validate.OneOf(SLA_STATES), metadata={
        "description": "`ack_overdue`: unacknowledged past `ack_due_at`; `close_overdue`: "
                       "past `close_due_at`; `due_soon`: its next due time within "
                       f"{_DUE_SOON_HOURS} hours; else `on_track`."})


HuddleSlaCountsSchema = Schema.from_dict(
    {state: fields.Integer(required=True) for state in SLA_STATES}, name="HuddleSlaCounts")


class HuddleOpenSchema(Schema):
    total = fields.Integer(required=True, metadata={"description": "Every open report."})
    by_sla = fields.Nested(HuddleSlaCountsSchema, required=True, metadata={
        "description": "Every open report, counted by SLA state."})
    items = fields.List(fields.Nested(HuddleOpenReportSchema), required=True, metadata={
        "description": f"The oldest {LIMIT} open reports, oldest first."})


class HuddleClosedReportSchema(Schema):
    reference = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(values(Kind)))
    category = fields.String(required=True)
    title = fields.String(required=True, allow_none=True)
    closed_at = Timestamp(required=True, metadata={"description": "The latest closing."})
    outcome = fields.String(required=True, allow_none=True,
                            validate=validate.OneOf(values(Outcome)))
    response = fields.String(required=True, allow_none=True, metadata={
        "description": "What was done and why: the response the reporter was sent with the "
                       "closing (\"we did\")."})


class HuddleClosedSchema(Schema):
    since = Timestamp(required=True, metadata={
        "description": f"{CLOSED_DAYS} days before `as_of`."})
    total = fields.Integer(required=True)
    items = fields.List(fields.Nested(HuddleClosedReportSchema), required=True, metadata={
        "description": f"Reports closed since `since` (by their latest closing) and closed "
                       f"still, newest first; at most {LIMIT}."})


class HuddleUpdateSchema(Schema):
    body = fields.String(required=True)
    at = Timestamp(required=True)


class HuddleActionSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    unit_id = fields.String(required=True)
    status = fields.String(required=True)
    latest_update = fields.Nested(HuddleUpdateSchema, required=True, allow_none=True)
    linked_reports = fields.Integer(required=True)


class HuddleActionsSchema(Schema):
    total = fields.Integer(required=True)
    items = fields.List(fields.Nested(HuddleActionSchema), required=True, metadata={
        "description": f"Improvement actions in progress, oldest first; at most {LIMIT}."})


class HuddleSchema(Schema):
    unit_id = fields.String(required=True)
    as_of = Timestamp(required=True)
    open = fields.Nested(HuddleOpenSchema, required=True)
    closed_recently = fields.Nested(HuddleClosedSchema, required=True)
    actions_in_progress = fields.Nested(HuddleActionsSchema, required=True)
    median_ack_hours_30d = fields.Float(required=True, allow_none=True, metadata={
        "description": f"Median hours from creation to acknowledgement of the reports made "
                       f"in the last {MEDIAN_DAYS} days that were acknowledged; null if none "
                       "was."})
    reports_30d = fields.Integer(required=True, metadata={
        "description": f"Reports made in the last {MEDIAN_DAYS} days."})
    acknowledged_30d = fields.Integer(required=True, metadata={
        "description": "Of those, the acknowledged ones."})
