"""What happened to each demo report: submitted through intake's row builders, then
acknowledged, updated and closed with realistic delays."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from speakup.demo.bulk import Wire
from speakup.demo.content import KIND_WEIGHTS, OUTCOME_WEIGHTS
from speakup.demo.progress import Progress
from speakup.demo.timing import day_plan, timestamps
from speakup.demo.world import Place, Route, World
from speakup.services.auth import receipts
from speakup.services.core.ids import new_id
from speakup.services.core.keys import Keys
from speakup.services.reports import history, intake, references, sla
from speakup.services.reports.intake import NewReport

BATCH = 20_000  # reports per transaction



def references_for(session: Session, times: list[datetime]) -> list[str]:
    """References for ascending ``times``: one allocation per year, numbers rising with time."""
    result: list[str] = []
    for year, group in itertools.groupby(times, key=lambda t: t.year):
        result += references.allocate(session, year=year, count=sum(1 for _ in group))
    return result


KINDS = tuple(KIND_WEIGHTS)
KIND_CUMULATIVE = list(itertools.accumulate(KIND_WEIGHTS.values()))
OUTCOMES = {kind: (tuple(w), list(itertools.accumulate(w.values())))
            for kind, w in OUTCOME_WEIGHTS.items()}
LOCAL_REPORTER = 0.75  # chance that a named reporter works in the report's department
UNTITLED = 0.08
IGNORED = 0.01  # never acknowledged
STALLED = 0.025  # acknowledged but never closed
UPDATE_SHARE = 0.5  # a reporter-visible staff update before the closing response
# Delays as multiples of the SLA period, lognormal: about 9% of acknowledgements and 10% of
# closings are late.
ACK_MU, ACK_SIGMA = math.log(0.3), 0.9
CLOSE_MU, CLOSE_SIGMA = math.log(0.35), 0.8


@dataclass
class Rows:
    """One batch of rows in their wire form, by table."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    assignees: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def insert(self, session: Session, wire: Wire) -> None:
        """Insert everything, parents first (one executemany per table)."""
        with wire.roomy_cache(session):
            wire.insert(session, "reports", self.reports)
            wire.insert(session, "report_assignees", self.assignees)
            wire.insert(session, "report_events", self.events)
            wire.insert(session, "messages", self.messages)


def _message(report_id: str, body: str, at: Any, author: str) -> dict[str, Any]:
    """A reporter-visible message from the staff side."""
    return {"id": new_id(), "report_id": report_id, "body": body, "sender": "staff",
            "internal": False, "created_at": at, "author_id": author}


class History:
    """Writes made-up reports into a loaded world.  Times are naive UTC here (cheaper to
    compute with); ``wire.time`` turns them into what the database expects."""

    def __init__(self, world: World, wire: Wire, keys: Keys, now: datetime,
                 rng: random.Random) -> None:
        self.world = world
        self.wire = wire
        self.keys = keys
        self.now = now
        self.rng = rng

    def write(self, session: Session, count: int, progress: Progress) -> None:
        """Add ``count`` reports created over the past HISTORY_DAYS, one commit per BATCH."""
        times = timestamps(day_plan(count, self.now, self.rng), self.rng)
        with progress(count, "Adding demo reports") as bar:
            while chunk := list(itertools.islice(times, BATCH)):
                self._batch(session, chunk).insert(session, self.wire)
                session.commit()
                bar.update(len(chunk))

    def _batch(self, session: Session, times: list[datetime]) -> Rows:
        rows = Rows()
        n = len(times)
        places = self.rng.choices(self.world.places, cum_weights=self.world.place_weights, k=n)
        kinds = self.rng.choices(KINDS, cum_weights=KIND_CUMULATIVE, k=n)
        refs = references_for(session, times)
        for created, reference, place, kind in zip(times, refs, places, kinds, strict=True):
            self._add(rows, created, reference, place, kind)
        return rows

    def _add(self, rows: Rows, created: datetime, reference: str, place: Place,
             kind: str) -> None:
        """A report as submitted and routed at ``created``, then what its leaders did."""
        rng = self.rng
        text = rng.choice(place.texts[kind])
        template = text.template
        risk = rng.random() < template.risk
        involves_leader = rng.random() < template.leader
        reporter = None
        if rng.random() >= template.anonymous and self.world.reporters:
            reporter = self._reporter(place)
        data = NewReport(
            kind=kind, category=self.world.categories[template.category], unit_id=place.id,
            description=text.description,
            title=None if rng.random() < UNTITLED else template.title,
            immediate_risk=risk, anonymous=reporter is None, involves_leader=involves_leader,
            wants_involvement=rng.random() < (0.45 if kind == "opportunity" else 0.2),
        )
        report = self.submit(rows, created=created, reference=reference, place=place,
                             data=data, reporter_id=reporter)
        route = place.routes[involves_leader]
        if route.assignees:
            ack_due, close_due = sla.due_times(created, kind=kind, immediate_risk=risk)
            self._handle(rows, report, place, route,
                         self._lifecycle(created, ack_due, close_due))

    def submit(self, rows: Rows, *, created: datetime, reference: str, place: Place,
               data: NewReport, reporter_id: str | None) -> dict[str, Any]:
        """Add the rows of ``data`` submitted at ``created``, exactly as intake builds them
        (routed as the service routes; the demo's reporters are never leaders, so the
        routing decided once per place without a reporter is theirs too); returns the
        report's row."""
        receipt_hash = None
        if reporter_id is None:
            receipt_hash = receipts.digest(self.keys.receipt, receipts.generate())
        route = place.routes[data.involves_leader]
        built = intake.submission_rows(
            report_id=new_id(), reference=reference, data=data, at=created,
            reporter_id=reporter_id, receipt_hash=receipt_hash, assignees=route.assignees,
            reason=route.reason, escalation_unit_id=route.unit_id, time=self.wire.time,
            json=self.wire.json,
        )
        rows.reports.append(built.report)
        rows.assignees += built.assignees
        rows.events += built.events
        return built.report

    def _reporter(self, place: Place) -> str:
        if place.reporters and self.rng.random() < LOCAL_REPORTER:
            return self.rng.choice(place.reporters)
        return self.rng.choice(self.world.reporters)

    def _handle(self, rows: Rows, report: dict[str, Any], place: Place, route: Route,
                life: tuple[datetime | None, datetime | None, datetime | None]) -> None:
        """Record the acknowledgement, staff update and closing that happened (``life``) on
        ``report``; one assignee does it all."""
        ack_at, update_at, closed_at = life
        if ack_at is None:
            return
        rng, time = self.rng, self.wire.time
        report_id = report["id"]
        actor = rng.choice(route.assignee_ids)
        ack = time(ack_at)
        report.update(status="acknowledged", acknowledged_at=ack)
        rows.events.append(history.entry(report_id=report_id, type="acknowledged", at=ack,
                                         actor_id=actor, json=self.wire.json))
        update = None
        if update_at is not None:
            update = time(update_at)
            report.update(status="in_progress", first_response_at=update)
            rows.messages.append(_message(report_id, rng.choice(place.updates), update, actor))
        if closed_at is not None:
            names, weights = OUTCOMES[report["kind"]]
            outcome = rng.choices(names, cum_weights=weights)[0]
            closed = time(closed_at)
            report.update(status="closed", closed_at=closed, outcome=outcome,
                          first_response_at=update or closed)
            rows.events.append(history.entry(report_id=report_id, type="closed", at=closed,
                                             actor_id=actor, details={"outcome": outcome},
                                             json=self.wire.json))
            body = rng.choice(place.responses[outcome])
            rows.messages.append(_message(report_id, body, closed, actor))

    def _lifecycle(self, created: datetime, ack_due: datetime, close_due: datetime
                   ) -> tuple[datetime | None, datetime | None, datetime | None]:
        """``(acknowledged_at, staff update at, closed_at)``, None for what has not happened
        by now; ``created <= acknowledged <= update <= closed <= now``.  Closing before the
        acknowledgement would have come acknowledges at the same moment."""
        rng = self.rng
        fate = rng.random()
        if fate < IGNORED:
            return None, None, None
        ack_at = created + (ack_due - created) * rng.lognormvariate(ACK_MU, ACK_SIGMA)
        closed_at = None
        if fate >= IGNORED + STALLED:
            closed_at = created + (close_due - created) * rng.lognormvariate(CLOSE_MU,
                                                                             CLOSE_SIGMA)
            ack_at = min(ack_at, closed_at)
        if ack_at > self.now:
            return None, None, None
        update_at = None
        if rng.random() < UPDATE_SHARE:
            end = closed_at or ack_at + (close_due - created)
            update_at = ack_at + (end - ack_at) * rng.uniform(0.1, 0.8)
            if update_at <= ack_at or update_at > self.now:
                update_at = None
        if closed_at is not None and closed_at > self.now:
            closed_at = None
        return ack_at, update_at, closed_at
