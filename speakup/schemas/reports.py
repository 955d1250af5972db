"""Reports on the wire: what a reporter sends, and the two views of a report."""

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, post_dump, post_load, validate

from speakup.schemas.common import (
    ID_LENGTH,
    Bool,
    Input,
    PageArgsSchema,
    PersonSchema,
    QueryBool,
    Timestamp,
    is_blank,
    not_blank,
    page_of,
)
from speakup.services.reports import history, workflow
from speakup.vocabulary import Kind, Outcome, Status, values

KINDS = values(Kind)
STATUSES = values(Status)

OUTCOMES = values(Outcome)
TIMELINE_TYPES = history.EVENT_TYPES


class ReportCreateSchema(Input):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64),
                             metadata={"description": "One of `GET /api/v1/categories`."})
    unit_id = fields.String(required=True, validate=ID_LENGTH)
    title = fields.String(load_default=None, allow_none=True,
                          validate=validate.Length(max=200),
                          metadata={"description": "Optional; blank means no title."})
    description = fields.String(required=True,
                                validate=[validate.Length(min=1, max=10_000), not_blank])
    immediate_risk = Bool(load_default=False,
                          metadata={"description": "Someone may be harmed now."})
    anonymous = Bool(
        load_default=False,
        metadata={"description": "Forced true when no token is sent.  Nothing that identifies "
                  "the reporter or the request is stored for an anonymous report."},
    )
    involves_leader = Bool(
        load_default=False,
        metadata={"description": "The concern is about the reporter's own leader."},
    )
    wants_involvement = Bool(
        load_default=False,
        metadata={"description": "The reporter would like to help shape the fix."},
    )

    @post_load
    def _blank_title_is_none(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data.get("title") is not None and is_blank(data["title"]):
            data["title"] = None
        return data


class IdempotencyHeaderSchema(Input):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Regexp(
            r"^[A-Za-z0-9_-]{22,255}$",
            error="22 to 255 letters, digits, '-' or '_': use a random UUID.",
        ),
        metadata={"description": "A random key per submission (a UUID; at least 128 bits, "
                  "since a replay of an anonymous report shows its receipt key again).  A "
                  "retry with the same key and body within 24 hours returns the first "
                  "response and creates nothing; the same key with another body is 422."},
    )


class _Optional(Schema):
    """Keys a view leaves out rather than send as null (``OPTIONAL``), as
    :func:`speakup.services.reports.views.wire` does."""

    OPTIONAL: tuple[str, ...] = ()

    @post_dump
    def _leave_out_absent(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        for key in self.OPTIONAL:
            if data.get(key, 0) is None:
                del data[key]
        return data


class MessageSchema(Schema):
    id = fields.String(required=True)
    body = fields.String(required=True)
    from_ = fields.String(required=True, attribute="sender", data_key="from",
                          validate=validate.OneOf(["staff", "reporter"]))
    internal = fields.Boolean(required=True)
    created_at = Timestamp(required=True)
    author = fields.Nested(PersonSchema, required=True, allow_none=True)


class RoutingSchema(Schema):
    assignees = fields.List(fields.Nested(PersonSchema), required=True)
    reason = fields.String(required=True)


class TimelineEntrySchema(_Optional):
    OPTIONAL: tuple[str, ...] = ("reason", "assignees", "message_id", "internal", "outcome",
                                 "action_id", "status", "loop_closed", "would_speak_up_again",
                                 "comment")

    type = fields.String(required=True, validate=validate.OneOf(TIMELINE_TYPES))
    at = Timestamp(required=True)
    actor = fields.Nested(PersonSchema, required=True, allow_none=True,
                          metadata={"description": "None for the system and for the reporter "
                                    "of an anonymous report."})
    reason = fields.String(metadata={"description": "Why (routed, assigned, reopened)."})
    assignees = fields.List(fields.Nested(PersonSchema),
                            metadata={"description": "Who it went to (routed, assigned)."})
    message_id = fields.String(metadata={"description": "The message written with this step."})
    internal = fields.Boolean(metadata={"description": "An internal note (message)."})
    outcome = fields.String(validate=validate.OneOf(OUTCOMES),
                            metadata={"description": "closed"})
    action_id = fields.String(metadata={"description": "The improvement action "
                                        "(action_update)."})
    status = fields.String(metadata={"description": "The action's status (action_update)."})
    loop_closed = fields.String(metadata={"description": "feedback"})
    would_speak_up_again = fields.String(metadata={"description": "feedback"})
    comment = fields.String(metadata={"description": "feedback"})


class ReportFieldsSchema(_Optional):
    OPTIONAL: tuple[str, ...] = ("routing", "reporter")

    id = fields.String(required=True)
    reference = fields.String(required=True, metadata={"example": "SU-2026-000042"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    category = fields.String(required=True)
    unit_id = fields.String(required=True)
    title = fields.String(required=True, allow_none=True)
    description = fields.String(required=True)
    immediate_risk = fields.Boolean(required=True)
    anonymous = fields.Boolean(required=True)
    involves_leader = fields.Boolean(required=True)
    wants_involvement = fields.Boolean(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    created_at = Timestamp(required=True)
    ack_due_at = Timestamp(required=True)
    close_due_at = Timestamp(required=True)
    acknowledged_at = Timestamp(required=True, allow_none=True)
    first_response_at = Timestamp(required=True, allow_none=True)
    closed_at = Timestamp(required=True, allow_none=True)
    outcome = fields.String(required=True, allow_none=True, validate=validate.OneOf(OUTCOMES))
    reopen_count = fields.Integer(required=True)
    routing = fields.Nested(RoutingSchema, metadata={"description": "Staff side only."})
    reporter = fields.Nested(
        PersonSchema,
        metadata={"description": "Staff side, named reports only; anonymous reports never "
                  "have this key."},
    )


class ReportSchema(ReportFieldsSchema):
    """One report: the staff view, or the reporter view (no routing, timeline, internal
    messages or reporter)."""

    OPTIONAL = ("routing", "reporter", "timeline")

    messages = fields.List(fields.Nested(MessageSchema), required=True)
    timeline = fields.List(fields.Nested(TimelineEntrySchema),
                           metadata={"description": "Staff side only."})


class ReportCreatedSchema(ReportSchema):
    receipt_key = fields.String(
        metadata={"description": "Anonymous reports only: the key to follow up with.  Shown "
                  "in this response and to a retry with the same Idempotency-Key and body, "
                  "never otherwise."},
    )


class ReportListArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(validate=validate.OneOf(KINDS))
    category = fields.String(validate=validate.Length(min=1, max=64))
    unit_id = fields.String(validate=ID_LENGTH,
                            metadata={"description": "This unit and every unit below it."})
    overdue = QueryBool(metadata={"description": "Open and past a due time."})
    assigned_to = fields.String(validate=validate.OneOf(["me"]))
    created_from = Timestamp(metadata={"description": "Created at or after (inclusive)."})
    created_to = Timestamp(metadata={"description": "Created before (exclusive)."})


ReportPageSchema = page_of(ReportFieldsSchema, "ReportPage")


class FollowupRequestSchema(Input):
    receipt_key = fields.String(required=True, validate=validate.Length(min=1, max=200))


class FollowupTokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})
    report_id = fields.String(required=True)


# --- the workflow --------------------------------------------------------------------------

TEXT: list[Callable[[Any], Any]] = [validate.Length(min=1, max=10_000), not_blank]
REASON: list[Callable[[Any], Any]] = [validate.Length(min=1, max=2_000), not_blank]


class AcknowledgeSchema(Input):
    message = fields.String(
        load_default=None, validate=TEXT,
        metadata={"description": "Optional, reporter-visible: the report's first response.  "
                  "Not stored when the report was acknowledged already."},
    )


class MessageCreateSchema(Input):
    body = fields.String(required=True, validate=TEXT)
    internal = Bool(load_default=False,
                    metadata={"description": "A note for the staff side only (never shown to "
                              "the reporter); the reporter may not write one."})


class CloseSchema(Input):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    response = fields.String(required=True, validate=TEXT,
                             metadata={"description": "Reporter-visible: what was done and "
                                       "why."})


class ReopenSchema(Input):
    reason = fields.String(required=True, validate=REASON)


class AssignSchema(Input):
    user_id = fields.String(required=True, validate=ID_LENGTH,
                            metadata={"description": "An active leader or safety officer, not "
                                      "the report's own reporter."})
    reason = fields.String(required=True, validate=REASON)


class FeedbackCreateSchema(Input):
    loop_closed = fields.String(required=True,
                                validate=validate.OneOf(workflow.LOOP_CLOSED))
    would_speak_up_again = fields.String(required=True,
                                         validate=validate.OneOf(workflow.WOULD_SPEAK_UP_AGAIN))
    comment = fields.String(load_default=None, allow_none=True, validate=REASON)


class FeedbackSchema(Schema):
    loop_closed = fields.String(required=True, validate=validate.OneOf(workflow.LOOP_CLOSED))
    would_speak_up_again = fields.String(
        required=True, validate=validate.OneOf(workflow.WOULD_SPEAK_UP_AGAIN))
    comment = fields.String(required=True, allow_none=True)
    created_at = Timestamp(required=True)
