"""Opaque identifiers: 128 random bits, lowercase base32, neither guessable nor sequential."""

import base64
import secrets


def new_id() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()
