"""Keyset pagination: ``{"items": [...], "next_cursor": ...}``, stable under concurrent inserts
because a page continues strictly after the last row seen, never at an offset.

A cursor is opaque and signed: an HMAC under a key derived from the server secret covers the
key values and the list they belong to, so the only cursors accepted are those this server
handed out for this list.  Even a signed cursor is then decoded field by field, each value
checked against the type of its key column; anything else is one 422, whatever was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, Integer, Select, String, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from speakup.services.core.errors import Invalid

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_CHARS = 500
BAD_CURSOR = "Not a cursor this list handed out."

_MAC_BYTES = 16  # 128 bits: forging one is as hard as guessing a receipt key
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MICROS = (datetime(1, 1, 2, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_MAX_MICROS = (datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_MAX_TEXT = 64
_MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class _BadCursor(Exception):
    pass


def paginate(
    session: Session,
    stmt: Select[Any],
    columns: Sequence[InstrumentedAttribute[Any]],
    *,
    signing_key: bytes,
    limit: int,
    cursor: str | None,
    descending: bool = False,
    params: Mapping[str, Any] | None = None,
    rows: bool = False,
) -> Page[Any]:
    """Rows of ``stmt`` ordered by ``columns`` (the last must be unique), one page at a time.

    ``signing_key`` signs the cursors handed out and checks those coming back
    (:attr:`speakup.services.core.keys.Keys.cursor`).  A cursor that is not one of ours for this
    list raises :class:`Invalid` naming ``cursor``.  ``params`` binds the statement's
    parameters; with ``rows`` the items are plain rows rather than ORM entities."""
    list_scope = scope(columns, descending)
    if cursor is not None:  # an empty one too is not a cursor we handed out
        values = decode_cursor(signing_key, list_scope, cursor, columns)
        stmt = stmt.where(after(columns, values, descending))
    order = [c.desc() if descending else c.asc() for c in columns]
    ordered = stmt.order_by(*order).limit(limit + 1)
    found: list[Any] = list(
        session.connection().execute(ordered, params or {}).all() if rows
        else session.scalars(ordered, params or {}))
    more = len(found) > limit
    found = found[:limit]
    next_cursor = None
    if more:
        last = [getattr(found[-1], c.key) for c in columns]
        next_cursor = encode_cursor(signing_key, list_scope, last)
    return Page(found, next_cursor)


def encode_cursor(signing_key: bytes, scope: str, values: Sequence[Any]) -> str:
    """Compact JSON of the key values (a time as microseconds since 1970 UTC), signed."""
    plain = [_micros(v) if isinstance(v, datetime) else v for v in values]
    payload = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    token = _mac(signing_key, scope, payload) + payload
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(
    signing_key: bytes, scope: str, cursor: str, columns: Sequence[InstrumentedAttribute[Any]]
) -> list[Any]:
    """The key values in ``cursor``, if this server signed it for ``scope``; else
    :class:`Invalid`."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS or not _BASE64URL.fullmatch(cursor):
            raise _BadCursor
        token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        mac, payload = token[:_MAC_BYTES], token[_MAC_BYTES:]
        if not hmac.compare_digest(mac, _mac(signing_key, scope, payload)):
            raise _BadCursor
        raw = json.loads(payload)
        if not isinstance(raw, list) or len(raw) != len(columns):
            raise _BadCursor
        return [_field(value, column) for value, column in zip(raw, columns, strict=True)]
    except (_BadCursor, ValueError, binascii.Error, RecursionError):
        raise Invalid.field("cursor", BAD_CURSOR) from None


def scope(columns: Sequence[InstrumentedAttribute[Any]], descending: bool) -> str:
    """What a cursor is for: a cursor of one list is refused by every other."""
    return " ".join(str(c) for c in columns) + (" desc" if descending else " asc")


def _mac(signing_key: bytes, scope: str, payload: bytes) -> bytes:
    message = b"speakup cursor\x00" + scope.encode() + b"\x00" + payload
    return hmac.new(signing_key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def _micros(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # stored times are UTC
    return (value - _EPOCH) // timedelta(microseconds=1)


def _field(value: Any, column: InstrumentedAttribute[Any]) -> Any:
    """``value`` as the type ``column`` holds, or :class:`_BadCursor`."""
    kind = _kind(column.type)
    if kind is datetime:
        if type(value) is not int or not _MIN_MICROS <= value <= _MAX_MICROS:
            raise _BadCursor
        return _EPOCH + timedelta(microseconds=value)
    if kind is int:
        if type(value) is not int or not -_MAX_INT - 1 <= value <= _MAX_INT:
            raise _BadCursor
        return value
    if type(value) is not str or not 0 < len(value) <= _MAX_TEXT or not value.isprintable():
        raise _BadCursor
    return value


def _kind(column_type: TypeEngine[Any]) -> type:
    # A TypeDecorator (UTCDateTime) reports ``object`` as its python_type; ask what it wraps.
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, DateTime):
        return datetime
    if isinstance(column_type, Integer):
        return int
    if isinstance(column_type, String):
        return str
    raise TypeError(f"no cursor encoding for {column_type!r}")  # a programming error


def after(columns: Sequence[Any], values: Sequence[Any], desc: bool) -> Any:
    """Rows strictly after ``values`` in the order of ``columns`` (a cursor's condition)."""
    # (a, b) > (x, y)  ==  a > x OR (a = x AND b > y); spelled out for SQLite and PostgreSQL.
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        step = column < values[i] if desc else column > values[i]
        clauses.append(and_(*equal, step))
    return or_(*clauses)
