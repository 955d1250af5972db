"""The audit log on the wire."""

from marshmallow import Schema, fields, validate

from speakup.schemas.common import ID_LENGTH, PageArgsSchema, PersonSchema, Timestamp, page_of
from speakup.services.reports.audit import ACTIONS


class AuditListArgsSchema(PageArgsSchema):
    report_id = fields.String(validate=ID_LENGTH)
    actor_id = fields.String(validate=ID_LENGTH)
    action = fields.String(validate=validate.OneOf(ACTIONS))
    from_ = Timestamp(data_key="from", metadata={"description": "At or after (inclusive)."})
    to = Timestamp(metadata={"description": "Before (exclusive)."})


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = Timestamp(required=True)
    actor = fields.Nested(PersonSchema, required=True, allow_none=True,
                          metadata={"description": "None for the system and for the reporter "
                                    "of an anonymous report."})
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    report_id = fields.String(required=True, allow_none=True)
    action_id = fields.String(required=True, allow_none=True,
                              metadata={"description": "An improvement action."})


AuditPageSchema = page_of(AuditEntrySchema, "AuditPage")
