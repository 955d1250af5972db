"""Fields and shapes shared by every part of the API."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from speakup.services.core.pages import DEFAULT_LIMIT, MAX_CURSOR_CHARS, MAX_LIMIT
from speakup.services.reports.views import iso

ID_LENGTH = validate.Length(min=1, max=64)


def _storable(text: str) -> bool:
    """Valid Unicode without NUL: what every database can store and every log can print."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from "\ud800" in JSON
        return False
    return True


class Input(Schema):
    """Base of every request schema: text must be storable, whatever field it is in."""

    @pre_load
    def _refuse_unstorable_text(self, data: Any, **_kwargs: Any) -> Any:
        if not hasattr(data, "items"):
            return data  # not an object: marshmallow says so itself
        bad = {
            str(key): ["Contains characters that cannot be stored (NUL or broken Unicode)."]
            for key, value in data.items()
            if any(isinstance(v, str) and not _storable(v)
                   for v in (value if isinstance(value, list) else [value]))
        }
        if bad:
            raise ValidationError(bad)
        return data


def is_blank(text: str) -> bool:
    """Nothing a reader would see: only spaces, line breaks, control or invisible format
    characters (such as zero-width spaces)."""
    return all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in text)


_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def not_blank(text: str) -> None:
    """Validator for free text that must say something (descriptions, names, replies)."""
    if is_blank(text):
        raise ValidationError("Must not be blank.")


class Bool(fields.Boolean):
    """A JSON ``true`` or ``false``, nothing else.

    marshmallow's Boolean also takes ``"yes"``, ``"off"``, ``1``, ``"0"``...; a client that
    sends ``"false"`` as a string has a bug, and should hear about it rather than have it
    guessed (for ``anonymous`` a wrong guess matters)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid")


class QueryBool(fields.Boolean):
    """A boolean in the query string: exactly ``true`` or ``false``."""

    default_error_messages = {"invalid": 'Must be "true" or "false".'}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid")


class Timestamp(fields.DateTime):
    """ISO 8601 in UTC with ``Z``.  Input without an offset is taken as UTC."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        return iso(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        result: datetime = super()._deserialize(value, attr, data, **kwargs)
        try:
            return result.replace(tzinfo=UTC) if result.tzinfo is None else result.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class ProblemSchema(Schema):
    """An RFC 9457 problem."""

    type = fields.String(metadata={"description": "A URI reference naming the problem type."})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "For invalid input: messages per field."},
    )


class PersonSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class PageArgsSchema(Input):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT}."},
    )
    # Checked by the list itself (speakup.services.core.pages), so that every cursor it did not
    # hand out, too long or otherwise, is refused with the very same answer.
    cursor = fields.String(
        metadata={"description": "`next_cursor` of the previous page: opaque and signed; "
                  f"at most {MAX_CURSOR_CHARS} characters."},
    )


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """A ``{"items": [...], "next_cursor": ...}`` schema for ``item``."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(required=True, allow_none=True),
        },
        name=name,
    )
