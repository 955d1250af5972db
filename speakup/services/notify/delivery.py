"""Delivering the outbox: at least once, retried with backoff, dead after the last attempt.

The worker repeats three steps (:func:`dispatch`, :func:`claim`, :func:`deliver` and
:func:`settle`):

1. **Dispatch** turns each new outbox event into deliveries: one per active webhook that wants
   its type, and one per person to e-mail when SMTP is configured.
2. **Claim** takes due deliveries with a lease (``locked_until``): on PostgreSQL with ``FOR
   UPDATE SKIP LOCKED``, so two workers never take the same one; on SQLite the write lock makes
   the claim a single claimer's.  A worker killed mid-batch loses nothing: its deliveries are
   due again when the lease runs out, and the next worker delivers them with the same event id.
3. **Deliver** outside any transaction (a webhook POST signed with its secret, or an e-mail),
   then **settle**: delivered, or retried after an exponential backoff with jitter, or dead
   after :data:`MAX_ATTEMPTS`.  Every attempt is recorded.

The event body is ``{"id", "type", "occurred_at", "report": {"id", "reference", "unit_id",
"kind", "status"}}``: never report text, never the reporter.
"""

from __future__ import annotations

import json
import logging
import random
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update

from speakup.db import Database, table
from speakup.models import (
    Delivery,
    DeliveryAttempt,
    OutboxEvent,
    Report,
    ReportAssignee,
    User,
    Webhook,
)
from speakup.services.core.ids import new_id
from speakup.services.notify import mail
from speakup.services.notify.webhooks import SIGNATURE_HEADER, signature
from speakup.services.reports.views import iso

log = logging.getLogger("speakup.delivery")

MAX_ATTEMPTS = 10
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"

_D, _O, _W = table(Delivery), table(OutboxEvent), table(Webhook)
_R, _U, _A = table(Report), table(User), table(ReportAssignee)


@dataclass(frozen=True)
class Options:
    """How the worker delivers (``speakup worker``'s options)."""

    batch: int = 20
    timeout: float = 5.0  # seconds for one webhook POST or one SMTP conversation
    concurrency: int = 4  # deliveries of a batch in flight at once
    backoff: float = 30.0  # seconds before the second attempt; doubled for each one after
    backoff_cap: float = 6 * 3600.0
    max_attempts: int = MAX_ATTEMPTS
    smtp: mail.Smtp | None = None
    mail_from: str = "speakup@localhost"
    public_url: str = "http://127.0.0.1:8000"
    lease_seconds: float | None = None  # default: the whole batch at its slowest, and some

    @property
    def lease(self) -> timedelta:
        """How long a claim holds before another worker may take the delivery again."""
        if self.lease_seconds is not None:
            return timedelta(seconds=self.lease_seconds)
        rounds = -(-self.batch // max(1, self.concurrency))
        return timedelta(seconds=rounds * self.timeout * 2 + 30)


@dataclass(frozen=True)
class Job:
    """A claimed delivery with what it takes to deliver it."""

    id: str
    event_id: str
    event_type: str
    attempts: int
    lease: datetime
    body: bytes
    reference: str
    report_id: str
    webhook_id: str | None
    url: str | None
    secret: str | None
    email: str | None
    live: bool  # its webhook or person is still active


@dataclass(frozen=True)
class Outcome:
    job: Job
    ok: bool
    status_code: int | None = None
    error: str | None = None


def event_body(*, event_id: str, type: str, occurred_at: datetime, report_id: str,
               reference: str, unit_id: str, kind: str, status: str) -> bytes:
    """The JSON an event is delivered as (the same bytes on every attempt)."""
    return json.dumps({
        "id": event_id, "type": type, "occurred_at": iso(occurred_at),
        "report": {"id": report_id, "reference": reference, "unit_id": unit_id,
                   "kind": kind, "status": status},
    }, separators=(",", ":"), sort_keys=True).encode()


# --- dispatch --------------------------------------------------------------------------------

_WAITING = (select(_O.c.id, _O.c.type, _O.c.report_id, _O.c.notify_user_ids,
                   _O.c.notify_assignees)
            .where(~_O.c.dispatched).order_by(_O.c.occurred_at, _O.c.id))


def dispatch(db: Database, options: Options, *, now: datetime, limit: int = 200) -> int:
    """Turn up to ``limit`` new outbox events into deliveries; returns how many events."""
    with db.write() as session:
        connection = session.connection()
        waiting = _WAITING.limit(limit)
        if not db.write_lock_is_global:
            waiting = waiting.with_for_update(skip_locked=True)
        events = connection.execute(waiting).all()
        if not events:
            return 0
        hooks = connection.execute(select(_W.c.id, _W.c.events).where(_W.c.active)).all()
        assignees: dict[str, list[str]] = {}
        if options.smtp is not None:
            asking = [e.report_id for e in events if e.notify_assignees]
            if asking:
                for report_id, user_id in connection.execute(
                        select(_A.c.report_id, _A.c.user_id)
                        .where(_A.c.report_id.in_(asking), _A.c.active)):
                    assignees.setdefault(report_id, []).append(user_id)
        rows = []
        for event in events:
            base = {"event_id": event.id, "state": PENDING, "attempts": 0,
                    "next_attempt_at": now, "locked_until": None, "created_at": now}
            rows += [{**base, "id": new_id(), "target": f"webhook:{hook.id}",
                      "webhook_id": hook.id, "user_id": None}
                     for hook in hooks if event.type in hook.events]
            if options.smtp is not None:
                people = [*event.notify_user_ids, *assignees.get(event.report_id, [])]
                rows += [{**base, "id": new_id(), "target": f"email:{user_id}",
                          "webhook_id": None, "user_id": user_id}
                         for user_id in dict.fromkeys(people)]
        if rows:
            connection.execute(insert(_D), rows)
        connection.execute(update(_O).where(_O.c.id.in_([e.id for e in events]))
                           .values(dispatched=True))
        return len(events)


# --- claim -----------------------------------------------------------------------------------

_DUE_NOW = (_D.c.state == PENDING, _D.c.next_attempt_at <= bindparam("now"),
            or_(_D.c.locked_until.is_(None), _D.c.locked_until <= bindparam("now")))
_DUE = select(_D.c.id).where(*_DUE_NOW).order_by(_D.c.next_attempt_at, _D.c.id)
_JOBS = (
    select(_D.c.id, _D.c.event_id, _D.c.attempts, _D.c.webhook_id, _O.c.type,
           _O.c.occurred_at, _O.c.status, _O.c.report_id, _R.c.reference, _R.c.unit_id,
           _R.c.kind, _W.c.url, _W.c.secret, _W.c.active.label("hook_active"),
           _U.c.email, _U.c.active.label("user_active"))
    .join(_O, _O.c.id == _D.c.event_id)
    .join(_R, _R.c.id == _O.c.report_id)
    .outerjoin(_W, _W.c.id == _D.c.webhook_id)
    .outerjoin(_U, _U.c.id == _D.c.user_id)
    .where(_D.c.id.in_(bindparam("ids", expanding=True)))
)


def claim(db: Database, options: Options, *, now: datetime) -> list[Job]:
    """Take up to ``options.batch`` due deliveries for ``options.lease``."""
    lease = now + options.lease
    with db.write() as session:
        connection = session.connection()
        due = _DUE.limit(options.batch)
        if not db.write_lock_is_global:
            due = due.with_for_update(skip_locked=True)
        # The outer conditions repeat the inner ones: PostgreSQL checks them again on a row
        # another claim changed meanwhile, so a delivery is never claimed twice.
        ids = list(connection.execute(
            update(_D).where(_D.c.id.in_(due.scalar_subquery()), *_DUE_NOW)
            .values(locked_until=lease).returning(_D.c.id), {"now": now}).scalars())
        if not ids:
            return []
        rows = connection.execute(_JOBS, {"ids": ids}).all()
    return [Job(
        id=r.id, event_id=r.event_id, event_type=r.type, attempts=r.attempts, lease=lease,
        body=event_body(event_id=r.event_id, type=r.type, occurred_at=r.occurred_at,
                        report_id=r.report_id, reference=r.reference, unit_id=r.unit_id,
                        kind=r.kind, status=r.status),
        reference=r.reference, report_id=r.report_id, webhook_id=r.webhook_id, url=r.url,
        secret=r.secret, email=r.email,
        live=bool(r.hook_active if r.webhook_id else r.user_active),
    ) for r in rows]


# --- deliver ---------------------------------------------------------------------------------

class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer that is not a 2xx: the delivery failed


_OPENER = urllib.request.build_opener(_NoRedirects, urllib.request.ProxyHandler({}))


def deliver(jobs: Sequence[Job], options: Options) -> list[Outcome]:
    """Deliver each job (``options.concurrency`` at a time); never raises for one that fails."""
    if len(jobs) <= 1 or options.concurrency <= 1:
        return [_deliver_one(job, options) for job in jobs]
    with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
        return list(pool.map(lambda job: _deliver_one(job, options), jobs))


def _deliver_one(job: Job, options: Options) -> Outcome:
    if not job.live:
        return Outcome(job, False, error="the webhook or the person was deactivated")
    try:
        if job.webhook_id is not None:
            return _post(job, options)
        return _mail(job, options)
    except Exception as error:  # noqa: BLE001 - any failure is one failed attempt
        return Outcome(job, False, error=_describe(error))


def _post(job: Job, options: Options) -> Outcome:
    url, secret = job.url or "", job.secret or ""
    if not url.startswith(("http://", "https://")):  # checked when the webhook was saved
        return Outcome(job, False, error="not an http(s) URL")
    request = urllib.request.Request(url, data=job.body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "User-Agent": "speakup-webhooks",
        SIGNATURE_HEADER: signature(secret, job.body),
        "X-Speakup-Event": job.event_type, "X-Speakup-Delivery": job.id,
    })
    try:
        with _OPENER.open(request, timeout=options.timeout) as response:
            response.read(4096)
            code = response.status
    except urllib.error.HTTPError as error:
        error.close()
        return Outcome(job, False, status_code=error.code, error=f"HTTP {error.code}")
    if 200 <= code < 300:
        return Outcome(job, True, status_code=code)
    return Outcome(job, False, status_code=code, error=f"HTTP {code}")


def _mail(job: Job, options: Options) -> Outcome:
    if options.smtp is None or not job.email:
        return Outcome(job, False, error="SMTP is not configured")
    link = f"{options.public_url.rstrip('/')}/api/v1/reports/{job.report_id}"
    options.smtp.send(mail.message(sender=options.mail_from, to=job.email,
                                   event_type=job.event_type, reference=job.reference,
                                   link=link), timeout=options.timeout)
    return Outcome(job, True)


def _describe(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    text = f"{type(error).__name__}: {reason if reason is not None else error}"
    return text[:500]


# --- settle ----------------------------------------------------------------------------------

def backoff(attempt: int, options: Options, *, rng: random.Random | None = None) -> timedelta:
    """The wait after failed attempt number ``attempt``: doubling from ``options.backoff``,
    capped, with jitter (between half and all of it) so retries of many deliveries spread."""
    full = min(options.backoff * 2 ** (attempt - 1), options.backoff_cap)
    return timedelta(seconds=full * (0.5 + (rng or random).random() / 2))


def settle(db: Database, outcomes: Sequence[Outcome], options: Options, *, now: datetime
           ) -> None:
    """Record each attempt and what follows from it, in one transaction."""
    if not outcomes:
        return
    attempts = []
    with db.write() as session:
        connection = session.connection()
        for outcome in outcomes:
            job, number = outcome.job, outcome.job.attempts + 1
            state = (DELIVERED if outcome.ok
                     else DEAD if number >= options.max_attempts or not job.live else PENDING)
            values: dict[str, Any] = {"state": state, "attempts": number, "locked_until": None}
            if state == PENDING:
                values["next_attempt_at"] = now + backoff(number, options)
            # Only while the lease is ours: after it ran out another worker may own it.
            connection.execute(update(_D).where(_D.c.id == job.id, _D.c.locked_until == job.lease)
                               .values(**values))
            attempts.append({"delivery_id": job.id, "webhook_id": job.webhook_id,
                             "event_id": job.event_id, "attempt": number,
                             "status_code": outcome.status_code, "error": outcome.error,
                             "at": now, "state": state})
            if not outcome.ok:
                log.warning("delivery %s of event %s failed (attempt %d, %s): %s", job.id,
                            job.event_id, number, state, outcome.error)
        connection.execute(insert(table(DeliveryAttempt)), attempts)
