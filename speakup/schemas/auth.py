from marshmallow import Schema, fields, validate

from speakup.models import ROLES
from speakup.schemas.common import Input


class LoginSchema(Input):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024),
                             load_only=True)


class TokensSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})


class MeSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True)
    unit_id = fields.String(allow_none=True)
    active = fields.Boolean(required=True)
    leads_unit_ids = fields.List(fields.String(), required=True)
