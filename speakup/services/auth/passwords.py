"""argon2id password hashing with a dummy verification for unknown accounts (so a wrong e-mail
and a wrong password take the same time)."""

from __future__ import annotations

import base64
import os

import argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        # A hash of nothing: random salt and digest under the same parameters, so verifying
        # against it costs what a real verification costs.  Made up rather than computed, so
        # that a process which never checks a password (the worker, a command) never pays
        # argon2's memory cost (64 MiB by default) just to start.
        self._dummy = (f"$argon2id$v={argon2.low_level.ARGON2_VERSION}$m={memory_kib},"
                       f"t={time_cost},p={parallelism}${_b64(16)}${_b64(32)}")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored``; with ``stored=None`` it spends the same
        effort on a dummy hash and returns False."""
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def _b64(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode().rstrip("=")
