"""Units, users, leaders and categories."""

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, validate

from speakup.models import ROLES
from speakup.schemas.common import (
    ID_LENGTH,
    Bool,
    Input,
    PageArgsSchema,
    QueryBool,
    not_blank,
    page_of,
)

NAME: list[Callable[[Any], Any]] = [validate.Length(min=1, max=200), not_blank]
CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$",
                       error="1 to 50 letters, digits, '.', '_' or '-'.")
ROLE = fields.String(validate=validate.OneOf(ROLES))
PASSWORD = validate.Length(min=8, max=1024)


class UnitSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    code = fields.String(required=True)
    parent_id = fields.String(required=True, allow_none=True)
    active = fields.Boolean(required=True)


class UnitCreateSchema(Input):
    name = fields.String(required=True, validate=NAME)
    code = fields.String(required=True, validate=CODE)
    parent_id = fields.String(load_default=None, allow_none=True, validate=ID_LENGTH)


class UnitUpdateSchema(Input):
    name = fields.String(validate=NAME)
    code = fields.String(validate=CODE)
    parent_id = fields.String(allow_none=True, validate=ID_LENGTH)
    active = Bool()


class UnitListArgsSchema(PageArgsSchema):
    include_inactive = QueryBool(
        load_default=False, metadata={"description": "Admins only: list inactive units too."}
    )


class UserSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    roles = fields.List(ROLE, required=True)
    unit_id = fields.String(required=True, allow_none=True)
    active = fields.Boolean(required=True)


class UserCreateSchema(Input):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=NAME)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    roles = fields.List(ROLE, required=True, validate=validate.Length(min=1))
    unit_id = fields.String(load_default=None, allow_none=True, validate=ID_LENGTH)


class UserUpdateSchema(Input):
    email = fields.Email(validate=validate.Length(max=254))
    name = fields.String(validate=NAME)
    password = fields.String(validate=PASSWORD, load_only=True)
    roles = fields.List(ROLE, validate=validate.Length(min=1))
    unit_id = fields.String(allow_none=True, validate=ID_LENGTH)
    active = Bool()


class LeaderAddSchema(Input):
    user_id = fields.String(required=True, validate=ID_LENGTH)


class CategorySchema(Schema):
    id = fields.String(required=True)
    label = fields.String(required=True)
    active = fields.Boolean(required=True)
    position = fields.Integer(required=True)


class CategoryCreateSchema(Input):
    id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$",
                                 error="Lower-case letters, digits and '_', 1 to 64."),
    )
    label = fields.String(required=True, validate=NAME)
    position = fields.Integer(validate=validate.Range(min=0, max=10_000))


class CategoryUpdateSchema(Input):
    label = fields.String(validate=NAME)
    active = Bool()
    position = fields.Integer(validate=validate.Range(min=0, max=10_000))


class CategoryListArgsSchema(Input):
    include_inactive = QueryBool(
        load_default=False, metadata={"description": "Admins only: list inactive ones too."}
    )


UnitPageSchema = page_of(UnitSchema, "UnitPage")
UserPageSchema = page_of(UserSchema, "UserPage")
CategoryPageSchema = page_of(CategorySchema, "CategoryPage")
