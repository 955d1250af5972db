"""Improvement actions on the wire."""

from marshmallow import Schema, fields, validate

from speakup.schemas.common import (
    ID_LENGTH,
    Input,
    PageArgsSchema,
    PersonSchema,
    Timestamp,
    page_of,
)
from speakup.schemas.reports import TEXT
from speakup.services.reports.improvements import MAX_LINKED, ActionStatus
from speakup.vocabulary import values

STATUSES = values(ActionStatus)
REPORT_IDS = fields.List(fields.String(validate=ID_LENGTH),
                         validate=validate.Length(max=MAX_LINKED),
                         metadata={"description": "Reports you work on (assigned to you, or "
                                   "any as a safety officer).  Each hears about the action."})


class ActionCreateSchema(Input):
    title = fields.String(required=True, validate=[validate.Length(min=1, max=200), TEXT[1]])
    description = fields.String(required=True, validate=TEXT)
    unit_id = fields.String(required=True, validate=ID_LENGTH)
    report_ids = fields.List(fields.String(validate=ID_LENGTH),
                             validate=validate.Length(max=MAX_LINKED), load_default=list,
                             metadata=REPORT_IDS.metadata)


class ActionUpdateSchema(Input):
    status = fields.String(validate=validate.OneOf(STATUSES), load_default=None,
                           metadata={"description": "The new status; unchanged if left out."})
    update = fields.String(required=True, validate=TEXT,
                           metadata={"description": "What changed: a reporter-visible message "
                                     "on every linked report."})


class ActionLinkSchema(Input):
    report_ids = fields.List(fields.String(validate=ID_LENGTH), required=True,
                             validate=validate.Length(min=1, max=MAX_LINKED),
                             metadata=REPORT_IDS.metadata)


class ActionUpdateViewSchema(Schema):
    body = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    at = Timestamp(required=True)
    author = fields.Nested(PersonSchema, required=True, allow_none=True)


class ActionSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    unit_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    created_at = Timestamp(required=True)
    created_by = fields.Nested(PersonSchema, required=True, allow_none=True)
    report_ids = fields.List(fields.String(), required=True,
                             metadata={"description": "The linked reports you can see."})
    updates = fields.List(fields.Nested(ActionUpdateViewSchema), required=True)


class ActionListArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    unit_id = fields.String(validate=ID_LENGTH,
                            metadata={"description": "This unit and every unit below it."})
    report_id = fields.String(validate=ID_LENGTH,
                              metadata={"description": "Actions this report is linked to."})


ActionPageSchema = page_of(ActionSchema, "ActionPage")
