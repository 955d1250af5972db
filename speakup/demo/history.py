"""What happened to each demo report: submitted through intake's row builders, then handled
as the services handle reports, with realistic delays.

Every row comes from the services' own pure builders: :func:`intake.submission_rows` for the
submission, the step functions of :mod:`~speakup.services.reports.workflow` (acknowledging,
messages and notes, the reporter's replies, closing, reopening, feedback) and the row
builders of :mod:`~speakup.services.reports.improvements` for improvement actions, with
:func:`history.audit_rows` for the audit log.  This module decides only what happened when,
applies each step to the report's row as the service's UPDATE would (with the delays of
:mod:`~speakup.services.reports.delays`), and writes the report's row once, as the last step
left it.  It announces nothing: the past has no outbox.

A report's story (all delays log-normal, as multiples of its SLA periods, so some are late
and a few are still open past their due times): acknowledged, often with a message, or
never; while open, staff updates, internal notes and the reporter's answers; closed with an
outcome and a response, or not yet; sometimes reopened (by its reporter within the reopen
window, or by a safety officer) and closed again; feedback from some reporters; and for
some reports closed as actioned or planned, or in progress, an improvement action of their
unit, linked to several of them, with updates on its progress.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from speakup.demo import ahead
from speakup.demo.bulk import Packed, Wire
from speakup.demo.content import (
    AGAIN_WEIGHTS,
    FEEDBACK_COMMENTS,
    KIND_WEIGHTS,
    LOOP_CLOSED_WEIGHTS,
    OUTCOME_WEIGHTS,
)
from speakup.demo.progress import Progress
from speakup.demo.timing import day_plan, timestamps
from speakup.demo.world import Place, Route, World
from speakup.services.auth import receipts
from speakup.services.core.ids import new_ids
from speakup.services.core.keys import Keys
from speakup.services.reports import (
    delays,
    history,
    improvements,
    intake,
    references,
    sla,
    workflow,
)
from speakup.services.reports.access import REOPEN_WINDOW
from speakup.services.reports.intake import NewReport
from speakup.vocabulary import Status

BATCH = 20_000  # reports built and inserted at a time
COMMIT_EVERY = 500_000  # reports per transaction (at the end of a batch)

KINDS = tuple(KIND_WEIGHTS)
KIND_CUMULATIVE = list(itertools.accumulate(KIND_WEIGHTS.values()))


@dataclass(frozen=True)
class Weighted:
    """Names to draw by their weights (``random.choices`` for one, without its overhead)."""

    names: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, weights: dict[str, int]) -> Weighted:
        return cls(tuple(weights), tuple(itertools.accumulate(weights.values())))

    def draw(self, rng: random.Random) -> str:
        return self.names[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


OUTCOMES = {kind: Weighted.of(w) for kind, w in OUTCOME_WEIGHTS.items()}
LOOP_CLOSED = {outcome: Weighted.of(w) for outcome, w in LOOP_CLOSED_WEIGHTS.items()}
AGAIN = {answer: Weighted.of(w) for answer, w in AGAIN_WEIGHTS.items()}
LOCAL_REPORTER = 0.75  # chance that a named reporter works in the report's department
UNTITLED = 0.08
IGNORED = 0.01  # never acknowledged
STALLED = 0.025  # acknowledged but never closed
ACK_MESSAGE = 0.3  # an acknowledgement with a message to the reporter
UPDATE_SHARE = 0.5  # a reporter-visible staff update before the closing response
NOTE_SHARE = 0.35  # an internal note
REPLY_NAMED, REPLY_ANONYMOUS = 0.4, 0.2  # the reporter answers the staff update
REOPENED = 0.05  # of closed reports
BY_REPORTER = 0.7  # of reopenings; the others by a safety officer
RECLOSED = 0.85  # of reopened reports, closed again (when that time has come)
FEEDBACK_NAMED, FEEDBACK_ANONYMOUS = 0.35, 0.2  # of reports closed now
COMMENTED = 0.3  # of feedback
ACTION_SHARE = 0.3  # of the reports an improvement action could answer
ACTION_SIZES = (2, 3, 3, 4, 5)  # reports linked to one action (at least 2)
ACTION_PROGRESS = {"in_progress": 0.8, "done": 0.6}  # chance of each further update
# Delays as multiples of the SLA period, lognormal: about 9% of acknowledgements and 10% of
# closings are late.
ACK_MU, ACK_SIGMA = math.log(0.3), 0.9
CLOSE_MU, CLOSE_SIGMA = math.log(0.35), 0.8
RECLOSE_MU = math.log(0.2)
FEEDBACK_HOURS_MU, FEEDBACK_HOURS_SIGMA = math.log(30), 1.0
STAFF, REPORTER = workflow.STAFF, workflow.REPORTER
EPOCH = datetime(2000, 1, 1)
ID_BLOCK = 4096


def references_for(session: Session, years: list[tuple[int, int]]) -> list[str]:
    """References for a batch whose reports fall in these ``(year, count)`` runs, in order:
    one allocation per year, numbers rising with time."""
    result: list[str] = []
    for year, count in years:
        result += references.allocate(session, year=year, count=count)
    return result


def batch_years(plan: list[tuple[datetime, float, int]]) -> list[list[tuple[int, int]]]:
    """For each batch of :data:`BATCH` reports of ``plan`` (see :func:`day_plan`), its
    ``(year, count)`` runs: its reports' years without making their times."""
    batches: list[list[tuple[int, int]]] = []
    room = 0
    for start, _span, n in plan:
        while n:
            if not room:
                batches.append([])
                room = BATCH
            taken = min(n, room)
            runs = batches[-1]
            if runs and runs[-1][0] == start.year:
                runs[-1] = (start.year, runs[-1][1] + taken)
            else:
                runs.append((start.year, taken))
            n -= taken
            room -= taken
    return batches


@dataclass
class Rows:
    """One batch of rows by table, built by the services' row builders."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    assignees: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    action_updates: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def tables(self) -> list[tuple[str, list[dict[str, Any]], str | None]]:
        """The rows by table name, parents first, each with the column to insert them in
        the order of (the report's id for most: a batch's reports have random ids)."""
        return [("reports", self.reports, None),
                ("report_assignees", self.assignees, "report_id"),
                ("report_events", self.events, "report_id"),
                ("messages", self.messages, "report_id"),
                ("report_feedback", self.feedback, None),
                ("improvement_actions", self.actions, None),
                ("action_reports", self.links, None),
                ("action_updates", self.action_updates, None),
                ("audit_log", self.audits, "report_id")]

    def pack(self, wire: Wire) -> list[Packed]:
        return [packed for table, rows, by in self.tables()
                if (packed := wire.pack(table, rows, by=by)) is not None]

    def insert(self, session: Session, wire: Wire) -> None:
        """Insert everything, parents first (one executemany or COPY per table)."""
        for packed in self.pack(wire):
            wire.insert_packed(session, packed)


def _with_references(batch: list[Packed], refs: list[str]) -> None:
    """Put ``refs`` into the packed report rows, in order."""
    reports = batch[0]
    if reports.table != "reports":
        raise ValueError("a batch starts with its reports")
    at = reports.keys.index("reference")
    reports.values = [(*row[:at], ref, *row[at + 1:])
                      for row, ref in zip(reports.values, refs, strict=True)]


def _periods(kind: str, immediate_risk: bool) -> tuple[timedelta, timedelta]:
    """How long after its creation a report of ``kind`` is due to be acknowledged and
    closed, under the contract's policy (the due times intake gives it)."""
    ack_due, close_due = sla.due_times(EPOCH, kind=kind, immediate_risk=immediate_risk)
    return ack_due - EPOCH, close_due - EPOCH


@dataclass(slots=True)
class Case:
    """A report being written: its row, and when it was created (naive UTC)."""

    row: dict[str, Any]
    created: datetime

    def delays(self, values: dict[str, Any], at: datetime) -> None:
        """Add to a step's ``values`` the delays of the event times among them, as the
        service's UPDATE sets them, from the step's naive time."""
        delays.add(values, self.created, at)


@dataclass
class _Group:
    """Reports of one unit handled by one person, waiting for an improvement action: each
    with the time of the last thing that happened to it."""

    place: Place
    actor: str
    size: int
    members: list[tuple[Case, datetime]] = field(default_factory=list)


class History:
    """Writes made-up reports into a loaded world.  Times are naive UTC here (cheaper to
    compute with); ``wire.time`` turns them into what the database expects, and the steps
    (:meth:`acknowledge` and the others, the parity test's entry points) take them naive
    too."""

    def __init__(self, world: World, wire: Wire, keys: Keys, now: datetime,
                 rng: random.Random) -> None:
        self.world = world
        self.wire = wire
        self.time = wire.time
        self.keys = keys
        self.now = now
        self.rng = rng
        self._ids: list[str] = []
        self._routed: dict[Route, Any] = {}
        self._periods = {(kind, risk): _periods(kind, risk) for kind in KINDS
                         for risk in (False, True)}

    # --- the run ---------------------------------------------------------------------------

    def write(self, session: Session, count: int, progress: Progress,
              parallel: bool | None = None) -> None:
        """Add ``count`` reports created over the past HISTORY_DAYS, a commit after every
        batch that brings the transaction to COMMIT_EVERY reports, and after the last (the
        session keeps one connection throughout: its page cache stays warm).
        With ``parallel`` (by default when there is more than one batch and the platform
        forks) the batches are built in a child process while the last one is inserted."""
        plan = day_plan(count, self.now, self.rng)
        years = batch_years(plan)
        if parallel is None:
            parallel = len(years) > 1 and ahead.available()
        batches = ahead.in_child(lambda: self.batches(plan)) if parallel \
            else self.batches(plan)
        uncommitted = 0
        with progress(count, "Adding demo reports") as bar, \
                self.wire.loading(session) as last, ahead.without_cycle_collection():
            for index, (runs, batch) in enumerate(zip(years, batches, strict=True)):
                if not uncommitted:
                    self.wire.skip_reference_checks(session)
                refs = references_for(session, runs)
                _with_references(batch, refs)
                for packed in batch:
                    self.wire.insert_packed(session, packed)
                uncommitted += len(refs)
                if index == len(years) - 1:
                    last()
                    uncommitted = COMMIT_EVERY
                if uncommitted >= COMMIT_EVERY:
                    session.commit()
                    uncommitted = 0
                bar.update(len(refs))
            session.commit()

    def batches(self, plan: list[tuple[datetime, float, int]]) -> Iterator[list[Packed]]:
        """The packed rows of each batch of ``plan``'s reports, references left blank."""
        self._ids = []  # in a child process: none of the parent's
        times = timestamps(plan, self.rng)
        while chunk := list(itertools.islice(times, BATCH)):
            yield self.build(chunk).pack(self.wire)

    def build(self, times: list[datetime]) -> Rows:
        """The rows of reports created at ascending ``times`` (references blank), with what
        happened to them and the improvement actions that answer some of them."""
        rows = Rows()
        rng = self.rng
        n = len(times)
        places = rng.choices(self.world.places, cum_weights=self.world.place_weights, k=n)
        kinds = rng.choices(KINDS, cum_weights=KIND_CUMULATIVE, k=n)
        groups: dict[tuple[str, str], _Group] = {}
        for created, place, kind in zip(times, places, kinds, strict=True):
            handled = self._add(rows, created, place, kind)
            if handled is None or rng.random() >= ACTION_SHARE:
                continue
            case, actor, last = handled
            if not (case.row["status"] == Status.IN_PROGRESS or case.row["outcome"] in (
                    "actioned", "planned")):
                continue
            group = groups.get((place.id, actor))
            if group is None:
                group = groups[place.id, actor] = _Group(place, actor, rng.choice(ACTION_SIZES))
            group.members.append((case, last))
            if len(group.members) == group.size:
                del groups[place.id, actor]
                self._improve(rows, group)
        for group in groups.values():  # the batch's last few
            if len(group.members) > 1:
                self._improve(rows, group)
        return rows

    def _new_id(self) -> str:
        if not self._ids:
            self._ids = new_ids(ID_BLOCK)
        return self._ids.pop()

    # --- one report ------------------------------------------------------------------------

    def _add(self, rows: Rows, created: datetime, place: Place, kind: str
             ) -> tuple[Case, str, datetime] | None:
        """A report as submitted and routed at ``created``, then what its leaders and its
        reporter did; returns its row, who handled it and when they last did, if anyone
        did."""
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
        case = self.submit(rows, created=created, reference="", place=place, data=data,
                           reporter_id=reporter)
        route = place.routes[involves_leader]
        if not route.assignees:
            return None
        ack_period, close_period = self._periods[kind, risk]
        ack_due, close_due = created + ack_period, created + close_period
        return self._handle(rows, case, place, route, ack_due, close_due)

    def submit(self, rows: Rows, *, created: datetime, reference: str, place: Place,
               data: NewReport, reporter_id: str | None) -> Case:
        """Add the rows of ``data`` submitted at ``created``, exactly as intake builds them
        (routed as the service routes; the demo's reporters are never leaders, so the
        routing decided once per place without a reporter is theirs too); returns the
        report."""
        receipt_hash = None
        if reporter_id is None:
            receipt_hash = receipts.digest(self.keys.receipt, receipts.generate())
        route = place.routes[data.involves_leader]
        built = intake.submission_rows(
            report_id=self._new_id(), reference=reference, data=data, at=created,
            reporter_id=reporter_id, receipt_hash=receipt_hash, assignees=route.assignees,
            reason=route.reason, escalation_unit_id=route.unit_id, time=self.time,
        )
        # The column the first closing sets (the service's INSERT leaves it to its default):
        # every report's row has the same keys, in the same order.
        built.report.setdefault("last_closed_at", None)
        rows.reports.append(built.report)
        rows.assignees += built.assignees
        _submitted, routed = built.events
        # The routing's details are the same for every report of the route: serialised once.
        details = self._routed.get(route)
        if details is None:
            details = self._routed[route] = self.wire.json(routed["details"])
        routed["details"] = details
        rows.events += built.events
        return Case(built.report, created)

    def _reporter(self, place: Place) -> str:
        if place.reporters and self.rng.random() < LOCAL_REPORTER:
            return self.rng.choice(place.reporters)
        return self.rng.choice(self.world.reporters)

    def _handle(self, rows: Rows, case: Case, place: Place, route: Route, ack_due: datetime,
                close_due: datetime) -> tuple[Case, str, datetime] | None:
        """What one assignee, the reporter and maybe a safety officer did with the report, in
        time order, up to now; returns it, the assignee and the time of the last step, or
        None when nobody acknowledged it."""
        rng, now, created = self.rng, self.now, case.created
        fate = rng.random()
        if fate < IGNORED:
            return None
        ack_at = created + (ack_due - created) * rng.lognormvariate(ACK_MU, ACK_SIGMA)
        closed_at = None
        if fate >= IGNORED + STALLED:
            closed_at = created + (close_due - created) * rng.lognormvariate(CLOSE_MU,
                                                                             CLOSE_SIGMA)
            ack_at = min(ack_at, closed_at)  # equal: the closing acknowledges it
        if ack_at > now:
            return None
        actor = rng.choice(route.assignees)[0]
        if ack_at != closed_at:
            message = (rng.choice(place.acknowledgements) if rng.random() < ACK_MESSAGE
                       else None)
            self.acknowledge(rows, case, at=ack_at, actor=actor, message=message)
        last = ack_at
        for at, step in self._meanwhile(case, ack_at, closed_at or ack_at
                                        + (close_due - created)):
            if step == "update":
                self.message(rows, case, at=at, actor=actor, body=rng.choice(place.updates))
            elif step == "note":
                self.message(rows, case, at=at, actor=actor, body=rng.choice(place.notes),
                             internal=True)
            else:
                self.reply(rows, case, at=at, body=rng.choice(place.replies))
            last = at
        if closed_at is None or closed_at > now:
            return case, actor, last
        self._close(rows, case, place, actor, closed_at)
        last = closed_at
        if rng.random() < REOPENED:
            last = self._reopen(rows, case, place, actor, closed_at, close_due - created)
        if case.row["status"] == Status.CLOSED:
            last = self._feedback(rows, case, last)
        return case, actor, last

    def _meanwhile(self, case: Case, ack_at: datetime, end: datetime
                   ) -> list[tuple[datetime, str]]:
        """The staff update, internal note and reporter's reply between the acknowledgement
        and ``end`` (the closing, or when it would be due) that happened by now, in order."""
        rng, now = self.rng, self.now
        steps = []
        if rng.random() < UPDATE_SHARE:
            update_at = ack_at + (end - ack_at) * rng.uniform(0.1, 0.8)
            steps.append((update_at, "update"))
            if rng.random() < (REPLY_ANONYMOUS if case.row["anonymous"] else REPLY_NAMED):
                steps.append((update_at + (end - update_at) * rng.uniform(0.05, 0.6),
                              "reply"))
        if rng.random() < NOTE_SHARE:
            steps.append((ack_at + (end - ack_at) * rng.uniform(0.02, 0.9), "note"))
        return sorted(step for step in steps if ack_at < step[0] <= now)

    def _close(self, rows: Rows, case: Case, place: Place, actor: str, at: datetime) -> None:
        outcome = OUTCOMES[case.row["kind"]].draw(self.rng)
        self.close(rows, case, at=at, actor=actor, outcome=outcome,
                   response=self.rng.choice(place.responses[outcome]))

    def _reopen(self, rows: Rows, case: Case, place: Place, actor: str, closed_at: datetime,
                period: timedelta) -> datetime:
        """Reopened by its reporter within the reopen window or by a safety officer, and
        perhaps closed again; returns the time of the last step."""
        rng = self.rng
        by_reporter = rng.random() < BY_REPORTER or not self.world.officers
        if by_reporter:
            at = closed_at + REOPEN_WINDOW * rng.uniform(0.01, 0.95)
            who, reasons = case.row["reporter_id"], place.reopen_reasons[0]
        else:
            at = closed_at + timedelta(days=rng.uniform(1, 60))
            who, reasons = rng.choice(self.world.officers), place.reopen_reasons[1]
        if at > self.now:
            return closed_at
        self.reopen(rows, case, at=at, actor=who, reason=rng.choice(reasons))
        again = at + period * rng.lognormvariate(RECLOSE_MU, CLOSE_SIGMA)
        if rng.random() >= RECLOSED or again > self.now:
            return at
        self._close(rows, case, place, actor, again)
        return again

    def _feedback(self, rows: Rows, case: Case, closed_at: datetime) -> datetime:
        """Feedback from some reporters on their closed report; returns the last step's
        time."""
        rng = self.rng
        if rng.random() >= (FEEDBACK_ANONYMOUS if case.row["anonymous"] else FEEDBACK_NAMED):
            return closed_at
        at = closed_at + timedelta(hours=rng.lognormvariate(FEEDBACK_HOURS_MU,
                                                            FEEDBACK_HOURS_SIGMA))
        if at > self.now:
            return closed_at
        loop_closed = LOOP_CLOSED[case.row["outcome"]].draw(rng)
        self.feedback(rows, case, at=at, loop_closed=loop_closed,
                      would_speak_up_again=AGAIN[loop_closed].draw(rng),
                      comment=rng.choice(FEEDBACK_COMMENTS) if rng.random() < COMMENTED
                      else None)
        return at

    def _improve(self, rows: Rows, group: _Group) -> None:
        """An improvement action of the group's unit by the person who handled its reports,
        about the category most of them share, linking them after the last thing that
        happened to any of them (so nothing happens to them after but its updates), then
        brought forward by an update or two."""
        rng, place, actor = self.rng, group.place, group.actor
        at = max(last for _report, last in group.members) + timedelta(
            hours=rng.uniform(2, 240))
        if at > self.now:
            return
        cases = [case for case, _last in group.members]
        categories = [case.row["category"] for case in cases]
        category = max(categories, key=categories.count)
        title, description = place.actions.get(category) or place.actions["other"]
        action = self.act(rows, cases, at=at, actor=actor, unit_id=place.id, title=title,
                          description=description)
        for status, chance in ACTION_PROGRESS.items():
            at += timedelta(days=rng.uniform(7, 45))
            if rng.random() >= chance or at > self.now:
                break
            self.update_action(rows, action, cases, at=at, actor=actor,
                               body=rng.choice(place.action_updates[status]), status=status)

    # --- the steps, as the services take them ----------------------------------------------

    def _apply(self, rows: Rows, case: Case, change: workflow.Change, at: datetime) -> None:
        case.delays(change.values, at)
        case.row.update(change.values)
        rows.events += change.entries
        rows.audits += history.audit_rows(change.entries)

    def _message(self, rows: Rows, case: Case, *, at: Any, body: str, sender: str,
                 author: str | None, internal: bool = False) -> str:
        row = workflow.message_row(report_id=case.row["id"], body=body, sender=sender, at=at,
                                   author_id=author, internal=internal,
                                   message_id=self._new_id())
        rows.messages.append(row)
        return str(row["id"])

    def acknowledge(self, rows: Rows, case: Case, *, at: datetime, actor: str,
                    message: str | None = None) -> None:
        """:func:`workflow.acknowledge` of a new report."""
        when = self.time(at)
        message_id = None
        if message is not None:
            message_id = self._message(rows, case, at=when, body=message, sender=STAFF,
                                       author=actor)
        self._apply(rows, case, workflow.acknowledgement(
            report_id=case.row["id"], at=when, actor_id=actor, message_id=message_id), at)

    def message(self, rows: Rows, case: Case, *, at: datetime, actor: str, body: str,
                internal: bool = False) -> None:
        """:func:`workflow.post_message` by an assignee (or a safety officer)."""
        when, row = self.time(at), case.row
        message_id = self._message(rows, case, at=when, body=body, sender=STAFF,
                                   author=actor, internal=internal)
        self._apply(rows, case, workflow.messaging(
            report_id=row["id"], at=when, actor_id=actor, message_id=message_id, staff=True,
            internal=internal, acknowledged_at=row["acknowledged_at"],
            first_response_at=row["first_response_at"]), at)

    def reply(self, rows: Rows, case: Case, *, at: datetime, body: str) -> None:
        """:func:`workflow.post_message` by the reporter: a named one by their account, an
        anonymous one through their receipt key (no one's id)."""
        when, row = self.time(at), case.row
        reporter = row["reporter_id"]
        message_id = self._message(rows, case, at=when, body=body, sender=REPORTER,
                                   author=reporter)
        self._apply(rows, case, workflow.messaging(
            report_id=row["id"], at=when, actor_id=reporter, message_id=message_id,
            staff=False, internal=False, acknowledged_at=row["acknowledged_at"],
            first_response_at=row["first_response_at"]), at)

    def close(self, rows: Rows, case: Case, *, at: datetime, actor: str, outcome: str,
              response: str) -> None:
        """:func:`workflow.close`."""
        when, row = self.time(at), case.row
        message_id = self._message(rows, case, at=when, body=response, sender=STAFF,
                                   author=actor)
        self._apply(rows, case, workflow.closing(
            report_id=row["id"], at=when, actor_id=actor, outcome=outcome,
            message_id=message_id, acknowledged_at=row["acknowledged_at"],
            first_response_at=row["first_response_at"], closed_at=row["closed_at"]), at)

    def reopen(self, rows: Rows, case: Case, *, at: datetime, actor: str | None,
               reason: str) -> None:
        """:func:`workflow.reopen` by a safety officer or the reporter (``actor``: the
        reporter's id, None for an anonymous one)."""
        self._apply(rows, case, workflow.reopening(
            report_id=case.row["id"], at=self.time(at), actor_id=actor, reason=reason,
            reopen_count=case.row["reopen_count"]), at)

    def feedback(self, rows: Rows, case: Case, *, at: datetime, loop_closed: str,
                 would_speak_up_again: str, comment: str | None) -> None:
        """:func:`workflow.give_feedback` by the reporter."""
        row, change = workflow.feedback_rows(
            report_id=case.row["id"], at=self.time(at), actor_id=case.row["reporter_id"],
            loop_closed=loop_closed, would_speak_up_again=would_speak_up_again,
            comment=comment)
        rows.feedback.append(row)
        self._apply(rows, case, change, at)

    def act(self, rows: Rows, cases: list[Case], *, at: datetime, actor: str, unit_id: str,
            title: str, description: str) -> dict[str, Any]:
        """:func:`improvements.create` with these reports linked; returns the action's
        row."""
        when = self.time(at)
        action = improvements.action_row(action_id=self._new_id(), title=title,
                                         description=description, unit_id=unit_id, at=when,
                                         created_by=actor)
        rows.actions.append(action)
        rows.links += improvements.link_rows(
            action_id=action["id"], report_ids=[case.row["id"] for case in cases], at=when)
        self._tell(rows, action, cases, at=at, actor=actor,
                   body=improvements.linked_message(title))
        return action

    def update_action(self, rows: Rows, action: dict[str, Any], cases: list[Case], *,
                      at: datetime, actor: str, body: str, status: str) -> None:
        """:func:`improvements.post_update` of the action linked to ``cases``."""
        rows.action_updates.append(improvements.update_row(
            action_id=action["id"], body=body, status=status, at=self.time(at),
            author_id=actor))
        action["status"] = status
        self._tell(rows, action, cases, at=at, actor=actor, body=body)

    def _tell(self, rows: Rows, action: dict[str, Any], cases: list[Case], *, at: datetime,
              actor: str, body: str) -> None:
        when = self.time(at)
        messages, entries = improvements.told(
            action_id=action["id"], status=action["status"],
            report_ids=[case.row["id"] for case in cases], body=body, at=when,
            actor_id=actor, message_ids=[self._new_id() for _ in cases])
        rows.messages += messages
        rows.events += entries
        rows.audits += history.audit_rows(entries)
        for case in cases:
            # What the service's UPDATE does to each linked report that is open.
            row = case.row
            if row["status"] == Status.CLOSED:
                continue
            values: dict[str, Any] = {"status": Status.IN_PROGRESS.value}
            if row["acknowledged_at"] is None:
                values["acknowledged_at"] = when
            if row["first_response_at"] is None:
                values["first_response_at"] = when
            case.delays(values, at)
            row.update(values)
