"""Reading JSON request bodies strictly, in one place, so that every body the parser refuses is
a 400 problem and never a 500.

Python's ``json`` module raises more than ``JSONDecodeError``: ``ValueError`` for an integer
of more than 4,300 digits, ``RecursionError`` for deep nesting; and it accepts what JSON does
not (``NaN``, ``Infinity``, numbers too large for a float) and silently keeps the last of
duplicate keys.  :func:`loads` refuses all of these with :class:`MalformedJSON`.  Both readers
of request bodies use it: Flask's ``request.get_json`` (through :class:`JSONProvider`) and
webargs, which flask-smorest's ``@blp.arguments`` uses (through :class:`BodyParser`).
"""

from __future__ import annotations

import json
import math
from typing import Any

import flask
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest

NOT_JSON = "The request body is not valid JSON."
NOT_UTF8 = "The request body is not UTF-8."
TOO_DEEP = "The request body is nested too deeply."
DUPLICATE_KEY = "The request body repeats a key within one object."
BAD_NUMBER = "The request body has a number this API cannot read (too long or too large)."
NOT_A_NUMBER = "The request body has NaN or Infinity, which JSON does not allow."

# No field of this API needs more; a longer literal is an attack on the parser, not data.
MAX_NUMBER_CHARS = 100


class MalformedJSON(ValueError):
    """A body the JSON parser refuses.  ``str(error)`` is a fixed sentence, safe to show: it
    never repeats any of the input."""


def loads(data: str | bytes | bytearray) -> Any:
    """Parse a request body as strict JSON (RFC 8259, UTF-8), or raise :class:`MalformedJSON`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant,
                          parse_float=_float, parse_int=_int)
    except MalformedJSON:
        raise
    except RecursionError:
        raise MalformedJSON(TOO_DEEP) from None
    except UnicodeDecodeError:
        raise MalformedJSON(NOT_UTF8) from None
    except ValueError:  # JSONDecodeError, and whatever else the scanner may raise
        raise MalformedJSON(NOT_JSON) from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Parsers disagree on which duplicate wins; a body that means two things means none.
        raise MalformedJSON(DUPLICATE_KEY)
    return result


def _constant(_name: str) -> Any:
    raise MalformedJSON(NOT_A_NUMBER)


def _float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise MalformedJSON(BAD_NUMBER)
    value = float(literal)
    if not math.isfinite(value):  # 1e999999 would be inf
        raise MalformedJSON(BAD_NUMBER)
    return value


def _int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise MalformedJSON(BAD_NUMBER)
    return int(literal)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading with :func:`loads`; output keeps the order fields were given."""

    sort_keys = False

    def loads(self, s: str | bytes, **_kwargs: Any) -> Any:
        return loads(s)


class BodyParser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies with :func:`loads`."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not core.is_json(req.mimetype):
            return core.missing
        data = req.get_data(cache=True)
        if not data:
            return core.missing  # as webargs does: required fields then say what is missing
        try:
            return loads(data)
        except MalformedJSON as error:
            raise BadRequest(str(error)) from None
