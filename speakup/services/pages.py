"""Keyset pagination: ``{"items": [...], "next_cursor": ...}``, stable under concurrent inserts
because a page continues strictly after the last row seen, never at an offset."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from speakup.services.errors import Invalid

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[type]) -> list[Any]:
    """The key values in ``cursor``, each checked against the type its key column holds."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(types):
            raise ValueError
        values = [datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in raw]
        for value, expected in zip(values, types, strict=True):
            # bool is an int to Python but never a key value here
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValueError
            if isinstance(value, str) and ("\x00" in value or not value.isprintable()):
                raise ValueError
            if isinstance(value, datetime):
                if value.utcoffset() is None:
                    raise ValueError
                value.astimezone(UTC)  # OverflowError near year 1 or 9999
        return values
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error, UnicodeError):
        raise Invalid.field("cursor", "Not a cursor this list handed out.") from None


def paginate(
    session: Session,
    stmt: Select[Any],
    keys: Sequence[InstrumentedAttribute[Any]],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> Page[Any]:
    """Rows of ``stmt`` ordered by ``keys`` (the last key must be unique), one page at a time."""
    if cursor:
        values = decode_cursor(cursor, [k.type.python_type for k in keys])
        stmt = stmt.where(_after(keys, values, descending))
    order = [k.desc() if descending else k.asc() for k in keys]
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([getattr(rows[-1], k.key) for k in keys]) if more else None
    return Page(rows, next_cursor)


def _after(keys: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], desc: bool) -> Any:
    # (a, b) > (x, y)  ==  a > x OR (a = x AND b > y); spelled out for SQLite and PostgreSQL.
    clauses = []
    for i, key in enumerate(keys):
        equal = [keys[j] == values[j] for j in range(i)]
        step = key < values[i] if desc else key > values[i]
        clauses.append(and_(*equal, step))
    return or_(*clauses)
