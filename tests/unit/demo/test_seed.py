"""The demo data: an organisation made once, report history that adds up and keeps the rules
the service keeps (routing, anonymity, lifecycle order), and logins that work."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from speakup import demo
from speakup.db import Database
from speakup.models import Message, Report, ReportAssignee, ReportEvent, Unit, User
from speakup.services import auth
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.settings import Settings

REFERENCE = re.compile(r"^SU-(\d{4})-(\d{6})$")
OUTCOMES = {"actioned", "planned", "not_actioned", "referred", "duplicate"}


class _Bar:
    def __init__(self) -> None:
        self.done = 0

    def update(self, n_steps: int, /) -> None:
        self.done += n_steps


def silent(total: int, label: str) -> AbstractContextManager[_Bar]:
    return nullcontext(_Bar())


def seed(database: Database, settings: Settings, clock: SettableClock, reports: int | None,
         rng_seed: int = 1) -> demo.SeedResult:
    return demo.seed(database, settings=settings, reports=reports, progress=silent,
                     clock=clock, rng=random.Random(rng_seed))


@pytest.fixture()
def twice(database: Database, settings: Settings, clock: SettableClock
          ) -> tuple[demo.SeedResult, demo.SeedResult]:
    """The demo seeded twice with 200 reports each time."""
    return seed(database, settings, clock, 200, 1), seed(database, settings, clock, 200, 2)


def assignees(session: Session) -> dict[str, set[str]]:
    result: dict[str, set[str]] = defaultdict(set)
    for report_id, user_id in session.execute(
        select(ReportAssignee.report_id, ReportAssignee.user_id).where(ReportAssignee.active)
    ):
        result[report_id].add(user_id)
    return result


def timelines(session: Session) -> dict[str, dict[str, ReportEvent]]:
    """Each report's events by type (each type occurs at most once in demo data)."""
    result: dict[str, dict[str, ReportEvent]] = defaultdict(dict)
    for event in session.scalars(select(ReportEvent)):
        assert event.type not in result[event.report_id]
        result[event.report_id][event.type] = event
    return result


def test_the_organisation_is_made_once_and_its_logins_work(
    twice, session: Session, passwords: Passwords
):
    first, second = twice
    assert (first.created_organisation, second.created_organisation) == (True, False)
    assert first.reports_added == second.reports_added == 200
    assert session.scalar(select(func.count()).select_from(Report)) == 400
    assert session.scalar(select(func.count()).select_from(User)) == len(demo.PEOPLE)
    codes = list(session.scalars(select(Unit.code)))
    assert demo.SITE_CODE in codes and sorted(codes) == sorted(u.code for u in demo.UNITS)
    assert first.logins == second.logins
    assert len(demo.DEMO_PASSWORD) >= 8
    emails = {login.email for login in first.logins}
    assert {"admin@demo.speakup.test", "safety@demo.speakup.test"} <= emails
    for login in first.logins:
        user = auth.authenticate(session, email=login.email, password=demo.DEMO_PASSWORD,
                                 passwords=passwords)
        assert user.roles == login.roles


def test_default_is_300_reports_on_creation_none_after_numbered_in_time_order(
    database, settings, clock, session
):
    bars: list[_Bar] = []

    def tracked(total: int, label: str) -> AbstractContextManager[_Bar]:
        bars.append(_Bar())
        return nullcontext(bars[-1])

    result = demo.seed(database, settings=settings, progress=tracked, clock=clock)
    assert result.reports_added == 300
    assert [bar.done for bar in bars] == [len(demo.PEOPLE), 300]
    assert seed(database, settings, clock, None).reports_added == 0
    reports = session.scalars(select(Report).order_by(Report.created_at, Report.id)).all()
    assert len(reports) == 300
    assert [r.reference for r in reports] == sorted(r.reference for r in reports)
    assert {r.created_at.year for r in reports} == {2025, 2026}  # one allocation per year


def test_every_report_is_numbered_and_routed_up_the_tree(twice, session: Session):
    reports = session.scalars(select(Report)).all()
    refs = [r.reference for r in reports]
    assert len(set(refs)) == len(refs) and all(REFERENCE.match(ref) for ref in refs)
    numbers: dict[str, list[int]] = defaultdict(list)
    for ref in refs:
        year, number = REFERENCE.match(ref).groups()  # type: ignore[union-attr]
        numbers[year].append(int(number))
    for taken in numbers.values():  # one counter per year, no gaps
        assert sorted(taken) == list(range(1, len(taken) + 1))
    by_report = assignees(session)
    timeline = timelines(session)
    for report in reports:
        assert by_report[report.id], report.reference
        routed = timeline[report.id]["routed"]
        assert routed.actor_id is None and routed.details["reason"] == report.routing_reason
        assert {p["id"] for p in routed.details["assignees"]} == by_report[report.id]
        assert report.reporter_id not in by_report[report.id]
    director = session.scalar(select(User.id).where(User.email.startswith("director@")))
    officers = set(session.scalars(select(User.id).where(User.email.in_(
        ["safety@demo.speakup.test", "guardian@demo.speakup.test"]))))
    unit_of = {u.code: u.id for u in session.scalars(select(Unit))}
    # ED Minors and Emergency have no leaders: the site's director gets those reports, unless
    # they concern a leader -- the director is the first one up, so the safety officers.
    minors = [r for r in reports if r.unit_id == unit_of["DEMO-ED-MIN"]]
    assert minors and all(
        by_report[r.id] == (officers if r.involves_leader else {director}) for r in minors)
    # About the site's own leader: nobody above, so the safety officers.
    around = [r for r in reports if r.unit_id == unit_of["DEMO-SITE"] and r.involves_leader]
    assert all(by_report[r.id] == officers for r in around)


def test_anonymous_reports_point_at_nobody(twice, session: Session):
    reports = session.scalars(select(Report)).all()
    anonymous = [r for r in reports if r.anonymous]
    assert 0.18 < len(anonymous) / len(reports) < 0.42
    hashes = [r.receipt_hash for r in anonymous]
    assert len(set(hashes)) == len(hashes)
    timeline = timelines(session)
    for report in reports:
        submitted = timeline[report.id]["submitted"]
        if report.anonymous:
            assert report.reporter_id is None and submitted.actor_id is None
            assert report.receipt_hash is not None and len(report.receipt_hash) == 64
        else:
            assert report.reporter_id is not None and report.receipt_hash is None
            assert submitted.actor_id == report.reporter_id


def test_the_lifecycle_keeps_its_order(twice, session: Session, clock: SettableClock):
    now = clock.now()
    reports = session.scalars(select(Report)).all()
    assert {r.status for r in reports} == {"new", "acknowledged", "in_progress", "closed"}
    by_report = assignees(session)
    timelines_ = timelines(session)
    messages: dict[str, list[Message]] = defaultdict(list)
    for message in session.scalars(select(Message)):
        messages[message.report_id].append(message)
    for r in reports:
        assert now - timedelta(days=365) <= r.created_at <= now
        assert r.created_at < r.ack_due_at < r.close_due_at
        timeline = timelines_[r.id]
        if r.status == "new":
            assert r.acknowledged_at is None and "acknowledged" not in timeline
            continue
        assert r.acknowledged_at is not None and r.created_at <= r.acknowledged_at <= now
        assert timeline["acknowledged"].actor_id in by_report[r.id]
        assert all(m.sender == "staff" and not m.internal for m in messages[r.id])
        if r.status == "acknowledged":
            assert r.first_response_at is None and not messages[r.id]
        else:  # a reporter-visible staff message is the first response
            assert r.first_response_at == min(m.created_at for m in messages[r.id])
            assert r.acknowledged_at <= r.first_response_at
        if r.status == "closed":
            assert r.closed_at is not None and r.acknowledged_at <= r.closed_at <= now
            assert r.outcome in OUTCOMES and r.first_response_at <= r.closed_at
            closed = timeline["closed"]
            assert closed.details == {"outcome": r.outcome} and closed.at == r.closed_at
            assert closed.actor_id in by_report[r.id]
            assert [m.created_at for m in messages[r.id]].count(r.closed_at) == 1
        else:
            assert r.closed_at is None and r.outcome is None and "closed" not in timeline
    # A realistic mix: mostly closed, a few closed late, some open ones overdue.
    closed = [r for r in reports if r.status == "closed"]
    still_open = [r for r in reports if r.status != "closed"]
    overdue = [r for r in still_open
               if r.close_due_at < now or (r.acknowledged_at is None and r.ack_due_at < now)]
    assert len(closed) > len(reports) / 2 and overdue and len(overdue) < len(still_open)
    late = [r for r in closed if r.closed_at > r.close_due_at]
    assert 0 < len(late) < len(closed) / 3
