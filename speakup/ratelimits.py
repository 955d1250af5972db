"""Rate limits: clock-aligned windows, counted by the `limits` library, for clients that leave
no address.

A client is counted under ``HMAC(day key, purpose + address)``; the day key is derived from the
server secret and the UTC date, so it is the same on every worker and machine, changes every
day, and is stored nowhere (not in the counters' store, not in the database).  IPv6 clients are
counted by their /64 network: one device can choose any address inside it.

Windows are aligned to the clock (an hourly limit counts 10:00-11:00) rather than starting at a
client's first request, so a counter's expiry says nothing more precise than "in this window";
counters vanish when their window ends.  The README says what a reader of the store can learn.

Only the routes in :data:`RULES` pay for any of this: one ``before_request`` hook looks the
endpoint up and returns at once elsewhere, and an ``after_request`` hook exists only for the
limits that count refused attempts.  (flask-limiter, used before, ran three hooks on every
request and took a tenth of a submission's time.)
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

from flask import Flask, Response, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage, Storage

from speakup.problems import problem
from speakup.routes.common import runtime
from speakup.services.auth import normalise_email
from speakup.settings import Settings

logger = logging.getLogger(__name__)
# Groups that submitting clients are counted in (see by_client_group).
INTAKE_GROUPS = 64


def _window(item: RateLimitItem) -> tuple[str, int]:
    """The current window's number and the whole seconds until it ends (at least 1)."""
    length = item.get_expiry()
    now = time.time()
    number = int(now // length)
    return str(number), max(1, math.ceil((number + 1) * length - now))


def seconds_left(item: RateLimitItem) -> int:
    return _window(item)[1]


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
    # that would leave a request uncounted.
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


class Counters:
    """The counters of every limit: in memory, or in Redis with an in-memory stand-in.

    A Redis that stops answering costs a request its 0.5 s timeouts once; then the counters
    live in this worker's memory (each limit then holds per worker, not across them) and Redis
    is tried again after :attr:`RETRY_SECONDS`.  A limit is never switched off by a failing
    store.
    """

    RETRY_SECONDS = 30.0

    def __init__(self, url: str) -> None:
        self.fallback = MemoryStorage()
        self.primary: Storage = self.fallback
        if url.startswith(("redis://", "rediss://")):
            self.primary = RedisStorage(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._down_until = 0.0

    @property
    def storage(self) -> Storage:
        """The store in use now."""
        return self.fallback if time.monotonic() < self._down_until else self.primary

    def _call(self, use: Callable[[Storage], int]) -> int:
        storage = self.storage
        try:
            return use(storage)
        except Exception:  # noqa: BLE001 - any failure of the store: count in memory instead
            if storage is self.fallback:
                raise
            logger.warning("rate-limit store unreachable; counting in memory for %.0f s",
                           self.RETRY_SECONDS)
            self._down_until = time.monotonic() + self.RETRY_SECONDS
            return use(self.fallback)

    def hit(self, key: str, item: RateLimitItem) -> int:
        """Count one request in the current window of ``item``; the count so far."""
        return self._call(lambda s: s.incr(key, _window(item)[1]))

    def used(self, key: str) -> int:
        return self._call(lambda s: s.get(key))

    def reset(self) -> None:
        """Forget every counter (tests start each with fresh ones)."""
        self.fallback.reset()
        if self.primary is not self.fallback:
            self.primary.reset()


class Limited(Exception):
    """A request over one of its route's limits."""

    def __init__(self, item: RateLimitItem) -> None:
        super().__init__(str(item))
        self.item = item


def init_app(app: Flask, settings: Settings) -> Counters:
    """Hook the limits of :data:`RULES` into ``app``; counters in memory, or in Redis."""
    counters = Counters(settings.ratelimit_storage_url)
    # Each rule with its parsed limit, per endpoint; limits that count every attempt first.
    checks = {endpoint: tuple((rule, parse(getattr(settings, rule.setting))) for rule in rules)
              for endpoint, rules in RULES.items()}
    after_failures = {endpoint: tuple(pair for pair in pairs if pair[0].failures_only)
                      for endpoint, pairs in checks.items()}

    def key(rule: Rule, item: RateLimitItem, client: str) -> str:
        window = _window(item)[0]
        return f"speakup/{rule.setting}/{client}/{item.amount}-{item.get_expiry()}/{window}"

    @app.before_request
    def check() -> None:
        pairs = checks.get(request.endpoint or "")
        if pairs is None:
            return
        pending: list[str] = []
        for rule, item in pairs:
            counter = key(rule, item, rule.key())
            if rule.failures_only:
                if counters.used(counter) >= item.amount:
                    raise Limited(item)
                pending.append(counter)
            elif counters.hit(counter, item) > item.amount:
                raise Limited(item)
        if pending:
            request.environ["speakup.ratelimit.pending"] = pending

    @app.after_request
    def count_refusals(response: Response) -> Response:
        pending: list[str] | None = request.environ.get("speakup.ratelimit.pending")
        if pending and refused(response):
            pairs = after_failures[request.endpoint or ""]
            for counter, (_, item) in zip(pending, pairs, strict=True):
                counters.hit(counter, item)
        return response

    app.register_error_handler(Limited, _too_many)
    return counters


def _too_many(error: Limited) -> Response:
    retry = seconds_left(error.item)
    response = problem(429, "Too Many Requests",
                       f"Too many attempts; try again in {_spoken(retry)}.")
    response.headers["Retry-After"] = str(retry)
    return response


def _spoken(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
