"""Keys derived from the one server secret, each for one purpose (domain separation)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Keys:
    jwt: str = field(repr=False)
    receipt: bytes = field(repr=False)
    idempotency: bytes = field(repr=False)
    ratelimit: bytes = field(repr=False)
    cursor: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str) -> Keys:
        def derive(purpose: str) -> bytes:
            return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()

        return cls(
            jwt=derive("speakup jwt v1").hex(),
            receipt=derive("speakup receipt v1"),
            idempotency=derive("speakup idempotency v1"),
            ratelimit=derive("speakup ratelimit v1"),
            cursor=derive("speakup cursor v1"),
        )


def keyed_hash(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
