"""Routing rules and the SLA policy.

Their bodies nest objects (``match``, ``route_to``, one entry per kind); an invalid field is
reported under its dotted path (``match.kind``, ``concern.ack_hours``), as the service reports
what it finds wrong after looking at the database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from speakup.schemas.common import ID_LENGTH, Bool, Input, Timestamp, page_of
from speakup.schemas.org import NAME
from speakup.services.org.config import KINDS, MAX_PRIORITY, MAX_ROUTE_USERS, Match, RouteTo
from speakup.services.reports.sla import ACK_CEILING_HOURS, CLOSE_CEILING_HOURS, Target
from speakup.services.routing.tree import CAN_ACT


class WholeNumber(fields.Integer):
    """A JSON integer, nothing else: not ``"48"``, not ``48.0``, not ``true``."""

    default_error_messages = {"invalid": "Must be a whole number."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


def _dotted(messages: Mapping[Any, Any], prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"match.kind": [...]}``; a nested object's own
    errors go under its name, a list item's under the list's."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key == "_schema" or isinstance(key, int):
            name = prefix or "_schema"
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            for inner, found in _dotted(value, name).items():
                flat.setdefault(inner, []).extend(found)
        else:
            flat.setdefault(name, []).extend(
                value if isinstance(value, list) else [str(value)])
    return flat


class _Dotted(Input):
    """A request body with nested objects: errors keyed by dotted path."""

    def handle_error(self, error: ValidationError, data: Any, *, many: bool,
                     **kwargs: Any) -> None:
        messages = error.messages
        if isinstance(messages, Mapping):
            raise ValidationError(_dotted(messages), data=data,
                                  valid_data=error.valid_data) from error


# --- routing rules -------------------------------------------------------------------------


class RuleMatchSchema(Schema):
    kind = fields.String(validate=validate.OneOf(KINDS))
    category = fields.String()
    unit_id = fields.String(metadata={"description": "The unit or any unit below it."})
    immediate_risk = fields.Boolean()


class RouteToSchema(Schema):
    user_ids = fields.List(fields.String())
    role = fields.String(validate=validate.OneOf(CAN_ACT))


class RoutingRuleSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    priority = fields.Integer(required=True,
                              metadata={"description": "Lower numbers are tried first."})
    active = fields.Boolean(required=True)
    match = fields.Nested(RuleMatchSchema, required=True, metadata={
        "description": "The conditions the rule sets; a condition left out matches anything."})
    route_to = fields.Nested(RouteToSchema, required=True, metadata={
        "description": "`user_ids` or `role`: the people it names, or every active holder "
        "of the role."})
    created_at = Timestamp(required=True, metadata={
        "description": "Among rules of equal priority the oldest is tried first."})


class RuleMatchInputSchema(Input):
    kind = fields.String(allow_none=True, validate=validate.OneOf(KINDS))
    category = fields.String(allow_none=True, validate=ID_LENGTH)
    unit_id = fields.String(allow_none=True, validate=ID_LENGTH,
                            metadata={"description": "The unit or any unit below it."})
    immediate_risk = Bool(allow_none=True)

    @post_load
    def _conditions(self, data: dict[str, Any], **_kwargs: Any) -> Match:
        return Match(**data)


class RouteToInputSchema(Input):
    user_ids = fields.List(fields.String(validate=ID_LENGTH),
                           validate=validate.Length(min=1, max=MAX_ROUTE_USERS),
                           metadata={"description": "Active leaders or safety officers."})
    role = fields.String(validate=validate.OneOf(CAN_ACT))

    @validates_schema
    def _exactly_one(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("user_ids" in data) == ("role" in data):
            raise ValidationError("Give exactly one of user_ids and role.")

    @post_load
    def _target(self, data: dict[str, Any], **_kwargs: Any) -> RouteTo:
        return RouteTo(**data)


_PRIORITY = validate.Range(min=0, max=MAX_PRIORITY)
_RULE_DESCRIPTION = {"description": "Conditions left out (or null) match anything."}


class RoutingRuleCreateSchema(_Dotted):
    name = fields.String(required=True, validate=NAME)
    priority = WholeNumber(required=True, validate=_PRIORITY,
                           metadata={"description": "Lower numbers are tried first."})
    active = Bool(load_default=True)
    match = fields.Nested(RuleMatchInputSchema, load_default=Match,
                          metadata=_RULE_DESCRIPTION)
    route_to = fields.Nested(RouteToInputSchema, required=True)


class RoutingRuleUpdateSchema(_Dotted):
    name = fields.String(validate=NAME)
    priority = WholeNumber(validate=_PRIORITY)
    active = Bool(metadata={"description": "`false` deactivates the rule."})
    match = fields.Nested(RuleMatchInputSchema, metadata={
        "description": "Replaces all of the rule's conditions."})
    route_to = fields.Nested(RouteToInputSchema)


RoutingRulePageSchema = page_of(RoutingRuleSchema, "RoutingRulePage")


# --- SLA policy ----------------------------------------------------------------------------


class SlaTargetSchema(Schema):
    ack_hours = fields.Integer(required=True)
    close_hours = fields.Integer(required=True)


class SlaPolicySchema(Schema):
    concern = fields.Nested(SlaTargetSchema, required=True)
    gap = fields.Nested(SlaTargetSchema, required=True)
    opportunity = fields.Nested(SlaTargetSchema, required=True)
    immediate_risk = fields.Nested(SlaTargetSchema, required=True, metadata={
        "description": "Overrides the kind's hours for reports with immediate risk."})


class SlaTargetInputSchema(Input):
    ack_hours = WholeNumber(required=True, validate=validate.Range(
        min=1, max=ACK_CEILING_HOURS,
        error=f"Must be from 1 to {ACK_CEILING_HOURS} hours (the EU Whistleblowing "
              "Directive's 7 days)."))
    close_hours = WholeNumber(required=True, validate=validate.Range(
        min=1, max=CLOSE_CEILING_HOURS,
        error=f"Must be from 1 to {CLOSE_CEILING_HOURS} hours (the EU Whistleblowing "
              "Directive's 3 months)."))

    @validates_schema
    def _ack_before_close(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data["ack_hours"] > data["close_hours"]:
            raise ValidationError("ack_hours must not be more than close_hours.")

    @post_load
    def _target(self, data: dict[str, Any], **_kwargs: Any) -> Target:
        return Target(**data)


class SlaPolicyInputSchema(_Dotted):
    concern = fields.Nested(SlaTargetInputSchema, required=True)
    gap = fields.Nested(SlaTargetInputSchema, required=True)
    opportunity = fields.Nested(SlaTargetInputSchema, required=True)
    immediate_risk = fields.Nested(SlaTargetInputSchema, required=True, metadata={
        "description": "Overrides the kind's hours for reports with immediate risk."})
