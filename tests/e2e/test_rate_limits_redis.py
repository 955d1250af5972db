"""Rate limits hold across workers when the counters live in Redis: real `speakup serve` with
two workers, every request on a new connection.  Runs when SPEAKUP_TEST_REDIS_URL is set (CI
sets it)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from tests.e2e.server import Server, serve

REDIS_URL = os.environ.get("SPEAKUP_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="SPEAKUP_TEST_REDIS_URL is not set")


def attempt(server: Server, email: str, address: str) -> tuple[int, dict]:
    return server.call("POST", "/api/v1/auth/login", {"email": email, "password": "not it"},
                       headers={"X-Forwarded-For": address})


def test_sign_in_limits_hold_across_two_workers_sharing_redis(tmp_path: Path):
    import redis

    # Fresh names, so counters of earlier runs in the same window cannot interfere.
    email = f"nurse-{secrets.token_hex(4)}@redis.test"
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    settings = {"SPEAKUP_RATELIMIT_STORAGE_URL": REDIS_URL, "SPEAKUP_PROXY_COUNT": "1"}
    with serve(f"sqlite:///{tmp_path / 'redis.db'}", tmp_path, "--workers", "2",
               settings=settings) as server:
        answers = [attempt(server, email, address)[0] for _ in range(10)]
        assert answers == [401] * 10
        status, problem = attempt(server, email, address)
        assert status == 429 and problem["status"] == 429
        # A different account from a different client is still served.
        other = f"10.{secrets.randbelow(250)}.0.1"
        assert attempt(server, f"x{email}", other)[0] == 401

    store = redis.Redis.from_url(REDIS_URL)
    keys = [key.decode() for key in store.scan_iter("*speakup*")]
    assert keys
    for key in keys:
        assert address not in key and email not in key
        assert 0 < store.ttl(key) <= 15 * 60  # every counter expires with its window
