"""Receipt keys for anonymous reporters.

A key is 160 random bits written as 32 Crockford base32 characters in groups of four
(``7K3M-Q9XD-...``), easy to copy by hand.  The server stores only an HMAC of the normalised
key under a server secret, so neither a database dump nor the server log can recover it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
KEY_BYTES = 20
KEY_CHARS = 32  # 160 bits / 5 bits per character
GROUP = 4
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0"})
_SEPARATORS = re.compile(r"[\s\-_.]+")


def _encode(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    chars = []
    for _ in range(KEY_CHARS):
        number, digit = divmod(number, 32)
        chars.append(ALPHABET[digit])
    plain = "".join(reversed(chars))
    return "-".join(plain[i : i + GROUP] for i in range(0, KEY_CHARS, GROUP))


def generate() -> str:
    """A fresh receipt key from the operating system's CSPRNG."""
    return _encode(secrets.token_bytes(KEY_BYTES))


def derive(key: bytes, seed: str) -> str:
    """A receipt key determined by ``seed`` under the server key (used for idempotent replay,
    so that the key can be shown again to the one client holding the idempotency key without
    ever being stored).

    ``seed`` must contain a secret the server never stores (the raw Idempotency-Key): the
    server key sits beside the database, so a seed made only of stored values would let a
    copy of both recompute the receipt key."""
    return _encode(hmac.new(key, b"receipt-from:" + seed.encode(), hashlib.sha256).digest()[:20])


def normalise(text: str) -> str:
    """Upper-case, separators dropped, look-alike letters mapped; may still be malformed."""
    return _SEPARATORS.sub("", text).upper().translate(_CONFUSABLE)


def digest(key: bytes, text: str) -> str:
    """The stored form of a receipt key.  Malformed input is hashed too, so a wrong key and a
    malformed one take the same path and fail the same way."""
    return hmac.new(key, b"receipt:" + normalise(text).encode(), hashlib.sha256).hexdigest()
