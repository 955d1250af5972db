"""Opaque identifiers: 128 random bits, lowercase base32, neither guessable nor sequential."""

import base64
import secrets


def new_id() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


# Base32 of 16 bytes is 24 characters for the first 15 and 2 for the last: the last byte's
# two characters, by its value.
_LAST = [base64.b32encode(bytes(15) + bytes([b])).decode()[24:26].lower() for b in range(256)]


def new_ids(count: int) -> list[str]:
    """``count`` ids of :func:`new_id`'s form and randomness, at a fraction of the cost each
    (one base32 encoding for all): for bulk writers."""
    raw = secrets.token_bytes(16 * count)
    head = base64.b32encode(raw[: 15 * count]).decode().lower()
    return [head[24 * i : 24 * i + 24] + _LAST[last]
            for i, last in enumerate(raw[15 * count :])]
