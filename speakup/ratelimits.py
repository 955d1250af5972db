"""Rate limits: flask-limiter with clock-aligned windows and clients that leave no address.

A client is counted under ``HMAC(day key, purpose + address)``; the day key is derived from the
server secret and the UTC date, so it is the same on every worker and machine, changes every
day, and is stored nowhere (not in the limiter's store, not in the database).  IPv6 clients are
counted by their /64 network: one device can choose any address inside it.

Windows are aligned to the clock (an hourly limit counts 10:00-11:00) rather than starting at a
client's first request, so a counter's expiry says nothing more precise than "in this window";
counters vanish when their window ends.  The README says what a reader of the store can learn.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from limits import RateLimitItem
from limits.strategies import STRATEGIES, FixedWindowRateLimiter
from limits.util import WindowStats

from speakup.routes.common import runtime
from speakup.services.auth import normalise_email
from speakup.settings import Settings

STRATEGY = "speakup-aligned-window"
# Groups that submitting clients are counted in (see by_client_group).
INTAKE_GROUPS = 64


class AlignedWindowRateLimiter(FixedWindowRateLimiter):
    """A fixed window that starts on a multiple of its length (in Unix time), not at the first
    hit; every counter of a window expires at the window's end."""

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        window, expiry = _window(item)
        key = item.key_for(*identifiers, window)
        return self.storage.incr(key, expiry, amount=cost) <= item.amount

    def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        window, _ = _window(item)
        return self.storage.get(item.key_for(*identifiers, window)) < item.amount - cost + 1

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        window, expiry = _window(item)
        used = self.storage.get(item.key_for(*identifiers, window))
        return WindowStats(time.time() + expiry, max(0, item.amount - used))


def _window(item: RateLimitItem) -> tuple[str, int]:
    """The current window's number and the whole seconds until it ends (at least 1)."""
    length = item.get_expiry()
    now = time.time()
    number = int(now // length)
    return str(number), max(1, math.ceil((number + 1) * length - now))


def seconds_left(item: RateLimitItem) -> int:
    return _window(item)[1]


STRATEGIES[STRATEGY] = AlignedWindowRateLimiter  # type: ignore[assignment]


def _day_key(secret: bytes, day: str) -> bytes:
    return hmac.new(secret, f"ratelimit-day:{day}".encode(), hashlib.sha256).digest()


def client_address() -> str:
    """The address a client is counted by: IPv4 as is, IPv6 by its /64 network."""
    raw = request.remote_addr or ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _mac(purpose: str, value: str) -> bytes:
    secret = runtime().keys.ratelimit
    day = datetime.now(UTC).date().isoformat()
    # surrogatepass: whatever a client typed (even a lone surrogate) gets a key, never an error
    # that would make flask-limiter give up on its store.
    message = f"{purpose}\0{value}".encode("utf-8", "surrogatepass")
    return hmac.new(_day_key(secret, day), message, hashlib.sha256).digest()


def pseudonym(purpose: str, value: str) -> str:
    """An opaque counter key for ``value``: unlinkable across purposes and across days."""
    return base64.urlsafe_b64encode(_mac(purpose, value)[:16]).decode().rstrip("=")


def by_client(purpose: str) -> Callable[[], str]:
    def key() -> str:
        return pseudonym(purpose, client_address())

    return key


def by_client_group() -> str:
    """Submissions are counted per group of clients, not per client: the address picks one of
    :data:`INTAKE_GROUPS` groups.  Even with the server secret, a counter then says only that
    someone among a large share of all addresses submitted in that window, so the limit
    keeps no record of who submitted when.  One client still cannot flood intake; it can at
    worst use up its group's allowance."""
    group = _mac("intake", client_address())[0] % INTAKE_GROUPS
    return f"intake-group-{group}"


def by_account() -> str:
    """Sign-in attempts are counted per e-mail address as typed (normalised), known or not, so
    the limit reveals nothing about which accounts exist."""
    body = request.get_json(silent=True, cache=True)
    email = body.get("email") if isinstance(body, dict) else None
    typed = normalise_email(email) if isinstance(email, str) else ""
    return pseudonym("login-account", typed)


def everyone() -> str:
    return "everyone"


def refused(response: Response) -> bool:
    """Count only the attempts that failed to authenticate."""
    return response.status_code == 401


def setting(name: str) -> Callable[[], str]:
    def value() -> str:
        limit: str = getattr(runtime().settings, name)
        return limit

    return value


@dataclass(frozen=True)
class Rule:
    """One limit on one endpoint: the setting naming it, how clients are told apart, and
    whether only refused attempts count."""

    setting: str
    key: Callable[[], str]
    failures_only: bool = False


# What is limited, in one place (endpoint -> rules).  Submissions count named and anonymous
# alike, so a counter does not even say which kind was sent.
RULES: dict[str, tuple[Rule, ...]] = {
    "auth.login": (
        Rule("ratelimit_login_per_client", by_client("login")),
        Rule("ratelimit_login_per_account", by_account, failures_only=True),
    ),
    "followup.redeem": (
        Rule("ratelimit_followup_per_client", by_client("followup"), failures_only=True),
        Rule("ratelimit_followup_global", everyone, failures_only=True),
    ),
    "reports.submit": (
        Rule("ratelimit_intake_per_client", by_client_group),
    ),
}


def init_app(app: Flask, settings: Settings) -> Limiter:
    """A limiter for ``app`` with the rules above; counters in memory, or in Redis."""
    options: dict[str, Any] = {}
    if settings.ratelimit_storage_url.startswith(("redis://", "rediss://")):
        # A Redis that stops answering must cost a request milliseconds, not the worker.
        options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    limiter = Limiter(
        key_func=by_client("default"),
        strategy=STRATEGY,
        storage_uri=settings.ratelimit_storage_url,
        storage_options=options,
        headers_enabled=False,
        key_prefix="speakup",
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    limiter.init_app(app)
    for endpoint, rules in RULES.items():
        # flask-limiter checks a route's own limits in the wrapper its decorator returns.
        view: Any = app.view_functions[endpoint]
        for rule in rules:
            view = limiter.limit(setting(rule.setting), key_func=rule.key,
                                 deduct_when=refused if rule.failures_only else None)(view)
        app.view_functions[endpoint] = view
    # Its INFO lines name the counter key of every breach; nothing of a client is logged.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    app.register_error_handler(RateLimitExceeded, _too_many)
    return limiter


def _too_many(error: RateLimitExceeded) -> Response:
    from speakup.problems import problem

    retry = seconds_left(error.limit.limit)
    response = problem(429, "Too Many Requests",
                       f"Too many attempts; try again in {_spoken(retry)}.")
    response.headers["Retry-After"] = str(retry)
    return response


def _spoken(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
