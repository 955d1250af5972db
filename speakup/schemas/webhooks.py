"""Webhooks and their deliveries on the wire."""

from marshmallow import Schema, fields, validate

from speakup.schemas.common import Bool, Input, Timestamp, page_of
from speakup.services.notify.delivery import DEAD, DELIVERED, PENDING
from speakup.services.reports.history import EVENT_NAMES

URL = fields.String(validate=validate.Length(min=1, max=2000),
                    metadata={"description": "An http:// or https:// URL that receives a POST "
                              "per event."})
SECRET = fields.String(validate=validate.Length(min=16, max=200), load_only=True,
                       metadata={"description": "Write-only.  Signs each body: "
                                 "`X-Speakup-Signature: sha256=<hex HMAC-SHA256 of the body>`."})
EVENTS = fields.List(fields.String(validate=validate.OneOf(EVENT_NAMES)),
                     validate=validate.Length(min=1, max=len(EVENT_NAMES)),
                     metadata={"description": "The event types to send (default: all)."})


class WebhookCreateSchema(Input):
    url = fields.String(required=True, validate=URL.validate, metadata=URL.metadata)
    secret = fields.String(required=True, validate=SECRET.validate, metadata=SECRET.metadata)
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_NAMES)),
                         validate=EVENTS.validate, load_default=None, metadata=EVENTS.metadata)
    active = Bool(load_default=True)


class WebhookUpdateSchema(Input):
    url = fields.String(validate=URL.validate, metadata=URL.metadata)
    secret = fields.String(validate=SECRET.validate, metadata=SECRET.metadata)
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_NAMES)),
                         validate=EVENTS.validate, metadata=EVENTS.metadata)
    active = Bool()


class WebhookSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_NAMES)), required=True)
    active = fields.Boolean(required=True)
    created_at = Timestamp(required=True)


class DeliverySchema(Schema):
    id = fields.String(required=True)
    event_id = fields.String(required=True)
    attempt = fields.Integer(required=True)
    status_code = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    at = Timestamp(required=True)
    state = fields.String(required=True, validate=validate.OneOf((PENDING, DELIVERED, DEAD)),
                          metadata={"description": "The delivery's state after this attempt."})


WebhookPageSchema = page_of(WebhookSchema, "WebhookPage")
DeliveryPageSchema = page_of(DeliverySchema, "DeliveryPage")
