"""``speakup worker``: delivers notifications and runs escalation passes, until stopped.

Built from the same :class:`speakup.runtime.Runtime` as the API.  Each round it runs an
escalation pass when one is due, dispatches new outbox events into deliveries, and claims,
delivers and settles one batch.  When a round finds nothing to do it sleeps ``poll`` seconds.
A stop request (SIGTERM, SIGINT) is honoured between batches: the batch in hand is delivered
and settled first.  Several workers may run against one PostgreSQL database.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace

from speakup.runtime import Runtime
from speakup.services.notify import delivery
from speakup.services.notify.mail import Smtp
from speakup.services.reports import escalation

log = logging.getLogger("speakup.worker")


@dataclass
class Tally:
    escalated: int = 0
    dispatched: int = 0
    delivered: int = 0
    failed: int = 0

    def __iadd__(self, other: Tally) -> Tally:
        self.escalated += other.escalated
        self.dispatched += other.dispatched
        self.delivered += other.delivered
        self.failed += other.failed
        return self

    @property
    def busy(self) -> bool:
        return bool(self.escalated or self.dispatched or self.delivered or self.failed)


def options_from(runtime: Runtime, options: delivery.Options | None = None
                 ) -> delivery.Options:
    """``options`` (or the defaults) with SMTP, the sender and the public URL of the
    settings."""
    settings = runtime.settings
    smtp = Smtp.from_url(settings.smtp_url) if settings.smtp_url else None
    return replace(options or delivery.Options(), smtp=smtp, mail_from=settings.mail_from,
                   public_url=settings.public_url)


@dataclass
class Worker:
    runtime: Runtime
    options: delivery.Options
    escalate_every: float = 60.0  # seconds between escalation passes
    poll: float = 2.0  # seconds to sleep when there was nothing to do
    stop: threading.Event = field(default_factory=threading.Event)
    _next_pass: float | None = None

    def round(self) -> Tally:
        """One round: an escalation pass if due, dispatch, one batch of deliveries."""
        db, clock = self.runtime.database, self.runtime.clock
        tally = Tally()
        now = clock.now().timestamp()
        if self._next_pass is None or now >= self._next_pass:
            tally.escalated = len(escalation.run_pass(db, clock=clock))
            self._next_pass = now + self.escalate_every
        tally.dispatched = delivery.dispatch(db, self.options, now=clock.now())
        jobs = delivery.claim(db, self.options, now=clock.now())
        outcomes = delivery.deliver(jobs, self.options)
        delivery.settle(db, outcomes, self.options, now=clock.now())
        tally.delivered = sum(o.ok for o in outcomes)
        tally.failed = len(outcomes) - tally.delivered
        return tally

    def run(self) -> Tally:
        """Rounds until :attr:`stop` is set; returns what was done."""
        total = Tally()
        while not self.stop.is_set():
            try:
                tally = self.round()
            except Exception:  # a database that is down for a moment must not end the worker
                log.exception("worker round failed; retrying in %.1f s", self.poll)
                self.stop.wait(self.poll)
                continue
            total += tally
            if not tally.busy:
                self.stop.wait(self.poll)
        return total
