"""Ids: 128 random bits in lowercase base32, one at a time or many at once alike."""

from __future__ import annotations

import base64

from speakup.services.core.ids import new_id, new_ids


def bits(identifier: str) -> bytes:
    return base64.b32decode(identifier.upper() + "======")


def test_many_at_once_have_the_form_of_one():
    many = new_ids(1000)
    assert len(many) == len(set(many)) == 1000
    for identifier in [*many[:50], new_id()]:
        raw = bits(identifier)
        assert len(identifier) == 26 and len(raw) == 16
        assert base64.b32encode(raw).decode().rstrip("=").lower() == identifier
    # Every bit varies: the last character's three bits too.
    assert len({identifier[-1] for identifier in many}) == 8
    assert new_ids(0) == []
