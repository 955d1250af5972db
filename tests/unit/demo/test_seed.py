"""The demo data: an organisation made once, report history that adds up and keeps the rules
the service keeps (routing, anonymity, the lifecycle's order), and logins that work."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter, defaultdict
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from speakup import demo
from speakup.db import Base, Database
from speakup.demo import ahead
from speakup.demo import history as demo_history
from speakup.demo.bulk import Wire
from speakup.demo.organisation import RIVERSIDE
from speakup.demo.world import load_world
from speakup.models import (
    ActionReport,
    ActionUpdate,
    AuditEntry,
    Feedback,
    ImprovementAction,
    Message,
    Report,
    ReportAssignee,
    ReportEvent,
    Unit,
    User,
)
from speakup.models.reports import assignee_ids
from speakup.services import auth
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.services.org import DEFAULT_CATEGORIES
from speakup.services.reports import delays
from speakup.services.reports.access import REOPEN_WINDOW
from speakup.settings import Settings

REFERENCE = re.compile(r"^SU-(\d{4})-(\d{6})$")
OUTCOMES = {"actioned", "planned", "not_actioned", "referred", "duplicate"}
OFFICERS = ("safety@demo.speakup.test", "guardian@demo.speakup.test")


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


def by_report(session: Session, model: Any, *order: Any) -> dict[str, list[Any]]:
    """Each report's rows of ``model``, in ``order``."""
    result: dict[str, list[Any]] = defaultdict(list)
    for row in session.scalars(select(model).order_by(*order)):
        result[row.report_id].append(row)
    return result


def timelines(session: Session) -> dict[str, list[ReportEvent]]:
    return by_report(session, ReportEvent, ReportEvent.at, ReportEvent.id)


def user_ids(session: Session, *emails: str) -> set[str]:
    return set(session.scalars(select(User.id).where(User.email.in_(emails))))


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
    assert {"admin@demo.speakup.test", "safety@demo.speakup.test",
            "ward7.manager@demo.speakup.test", "nurse@demo.speakup.test"} <= emails
    for login in first.logins:
        user = auth.authenticate(session, email=login.email, password=demo.DEMO_PASSWORD,
                                 passwords=passwords)
        assert user.roles == login.roles
    # A hospital group: many units over several levels.
    units = {u.code: u for u in session.scalars(select(Unit))}
    by_id = {u.id: u for u in units.values()}

    def depth(unit: Unit) -> int:
        return 1 if unit.parent_id is None else 1 + depth(by_id[unit.parent_id])

    assert len(units) >= 100
    assert max(map(depth, units.values())) >= 5
    assert sum(u.parent_id is None for u in units.values()) >= 3  # sites
    # Riverside as it was: the walkthrough's ward under Medicine under the site.
    for spec in RIVERSIDE:
        unit = units[spec.code]
        assert unit.name == spec.name
        assert (by_id[unit.parent_id].code if unit.parent_id else None) == spec.parent
    # Reports land all over the group, not only at Riverside.
    used = set(session.scalars(select(Report.unit_id).distinct()))
    assert len(used) > 60
    assert {by_id[u].code for u in used} - {spec.code for spec in RIVERSIDE}


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


def test_routing_climbs_the_tree_as_the_blueprint_says(twice, database: Database,
                                                      session: Session):
    """Every place's routes, worked out from the blueprint: the nearest unit up with leaders
    (passed over when the report is about a leader), else the safety officers."""
    specs = {u.code: u for u in demo.UNITS}
    leaders: dict[str, set[str]] = defaultdict(set)
    for person in demo.PEOPLE:
        for code in person.leads:
            leaders[code].add(person.email)
    ids = {u.email: u.id for u in session.scalars(select(User))}
    officers = user_ids(session, *OFFICERS)
    code_of = {u.id: u.code for u in session.scalars(select(Unit))}
    with database.session() as reading:
        world = load_world(reading, Wire(reading.get_bind().dialect), random.Random(1))
    assert len(world.places) == len(demo.UNITS)
    for place in world.places:
        chain, code = [], code_of[place.id]
        while code is not None:
            if leaders[code]:
                chain.append({ids[email] for email in leaders[code]})
            code = specs[code].parent
        for involves_leader in (False, True):
            expected = chain[int(involves_leader)] if len(chain) > involves_leader \
                else officers
            assert set(place.routes[involves_leader].assignee_ids) == expected, (
                code_of[place.id], involves_leader)


def test_every_report_is_numbered_and_routed(twice, session: Session):
    reports = session.scalars(select(Report)).all()
    refs = [r.reference for r in reports]
    assert len(set(refs)) == len(refs) and all(REFERENCE.match(ref) for ref in refs)
    numbers: dict[str, list[int]] = defaultdict(list)
    for ref in refs:
        year, number = REFERENCE.match(ref).groups()  # type: ignore[union-attr]
        numbers[year].append(int(number))
    for taken in numbers.values():  # one counter per year, no gaps
        assert sorted(taken) == list(range(1, len(taken) + 1))
    assigned = assignees(session)
    timeline = timelines(session)
    for report in reports:
        assert assigned[report.id], report.reference
        submitted, routed = timeline[report.id][:2]
        assert (submitted.type, routed.type) == ("submitted", "routed")
        assert routed.actor_id is None and routed.details["reason"] == report.routing_reason
        assert {p["id"] for p in routed.details["assignees"]} == assigned[report.id]
        assert report.reporter_id not in assigned[report.id]
    director = session.scalar(select(User.id).where(User.email.startswith("director@")))
    officers = user_ids(session, *OFFICERS)
    unit_of = {u.code: u.id for u in session.scalars(select(Unit))}
    # ED Minors and Emergency have no leaders: the site's director gets those reports, unless
    # they concern a leader -- the director is the first one up, so the safety officers.
    minors = [r for r in reports if r.unit_id == unit_of["DEMO-ED-MIN"]]
    assert minors and all(
        assigned[r.id] == (officers if r.involves_leader else {director}) for r in minors)
    # About the site's own leader: nobody above, so the safety officers.
    around = [r for r in reports if r.unit_id == unit_of["DEMO-SITE"] and r.involves_leader]
    assert all(assigned[r.id] == officers for r in around)


def test_anonymous_reports_point_at_nobody(twice, session: Session):
    reports = session.scalars(select(Report)).all()
    anonymous = [r for r in reports if r.anonymous]
    assert 0.32 < len(anonymous) / len(reports) < 0.48
    hashes = [r.receipt_hash for r in anonymous]
    assert len(set(hashes)) == len(hashes)
    reporters = user_ids(session, *(p.email for p in demo.PEOPLE if p.roles == ("staff",)))
    assert len(reporters) > 50
    timeline, messages = timelines(session), by_report(session, Message, Message.created_at)
    audits = by_report(session, AuditEntry, AuditEntry.at)
    replied = Counter()
    for report in reports:
        submitted = timeline[report.id][0]
        if not report.anonymous:
            assert report.reporter_id is not None and report.receipt_hash is None
            assert submitted.actor_id == report.reporter_id
            continue
        assert report.reporter_id is None and submitted.actor_id is None
        assert report.receipt_hash is not None and len(report.receipt_hash) == 64
        # Its reporter's replies, reopenings and feedback carry no one's id, and no one who
        # reports appears anywhere in its rows.
        assert not {e.actor_id for e in timeline[report.id]} & reporters
        assert not {a.actor_id for a in audits[report.id]} & reporters
        for message in messages[report.id]:
            assert message.author_id not in reporters
            if message.sender == "reporter":
                assert message.author_id is None
                replied[report.id] += 1
    assert replied, "some anonymous reporters answered"


def test_the_lifecycle_keeps_its_order(twice, session: Session, clock: SettableClock):
    now = clock.now()
    reports = session.scalars(select(Report)).all()
    assigned = assignees(session)
    officers = user_ids(session, *OFFICERS)
    timelines_ = timelines(session)
    messages = {m.id: m for m in session.scalars(select(Message))}
    on_report = by_report(session, Message, Message.created_at, Message.id)
    audits = by_report(session, AuditEntry, AuditEntry.at, AuditEntry.id)
    feedback = {f.report_id: f for f in session.scalars(select(Feedback))}
    for r in reports:
        events = timelines_[r.id]
        assert now - timedelta(days=366) <= r.created_at <= now
        assert r.created_at < r.ack_due_at < r.close_due_at
        assert all(r.created_at <= e.at <= now for e in events)
        # An audit row for every step after the submission, saying the same.
        assert [(a.at, a.actor_id, a.action) for a in audits[r.id]] == [
            (e.at, e.actor_id, e.type) for e in events[2:]]
        # Every message a step refers to is the report's, and every message is referred to.
        referred = [e.details["message_id"] for e in events if "message_id" in e.details]
        assert sorted(referred) == sorted(m.id for m in on_report[r.id])
        for e in events:
            if "message_id" in e.details:
                assert messages[e.details["message_id"]].created_at == e.at
        staff_visible = [m.created_at for m in on_report[r.id]
                         if m.sender == "staff" and not m.internal]
        assert r.first_response_at == (min(staff_visible) if staff_visible else None)
        types = [e.type for e in events]
        acks = [e for e in events if e.type == "acknowledged"]
        closings = [e for e in events if e.type == "closed"]
        assert len(acks) <= 1
        assert r.acknowledged_at == (acks[0].at if acks else None)
        assert r.closed_at == (closings[0].at if closings else None)
        assert r.last_closed_at == (closings[-1].at if closings else None)
        assert r.reopen_count == types.count("reopened")
        for moment, delay in delays.DELAYS.items():
            value = getattr(r, moment)
            assert getattr(r, delay) == (None if value is None else
                                         delays.micros(r.created_at, value))
        for e in acks + closings + [e for e in events if e.type == "message"
                                    and messages[e.details["message_id"]].sender == "staff"]:
            assert e.actor_id in assigned[r.id]
        # The status is what the last step left.
        # (An action's news moves an open report to in progress; the demo links only reports
        # in progress or closed.)
        last = next((t for t in reversed(types) if t in ("acknowledged", "message", "closed",
                                                         "reopened")), None)
        if last is None:
            assert r.status == "new" and r.first_response_at is None
        elif last == "closed":
            assert r.status == "closed" and r.outcome == closings[-1].details["outcome"]
            assert r.outcome in OUTCOMES
        elif last == "acknowledged" and "message" not in types:
            assert r.status == "acknowledged"
        else:
            assert r.status == "in_progress" and r.outcome is None
        if r.status != "closed":
            assert r.outcome is None
        # Reopened once closed: by its reporter within the window, or by a safety officer.
        for before, e in itertools.pairwise(events):
            if e.type == "reopened":
                assert before.type == "closed"
                assert e.actor_id in officers or (
                    e.actor_id == r.reporter_id and e.at - before.at <= REOPEN_WINDOW)
        # Feedback once, from the reporter, on a closed report.
        given = [e for e in events if e.type == "feedback"]
        assert len(given) == (1 if r.id in feedback else 0)
        if given:
            assert r.status == "closed" and given[0].actor_id == r.reporter_id
            assert given[0].at > r.last_closed_at
            assert feedback[r.id].created_at == given[0].at
        # The reporter's messages are the reporter's: no author, by the reporter's account.
        for e in events:
            if e.type == "message" and messages[e.details["message_id"]].sender == "reporter":
                assert e.actor_id == r.reporter_id
                assert messages[e.details["message_id"]].author_id is None


def test_a_realistic_mix(twice, session: Session, clock: SettableClock):
    now = clock.now()
    reports = session.scalars(select(Report)).all()
    assert {r.kind for r in reports} == {"concern", "gap", "opportunity"}
    assert {r.category for r in reports} == {key for key, _label in DEFAULT_CATEGORIES}
    assert {r.status for r in reports} == {"new", "acknowledged", "in_progress", "closed"}
    closed = [r for r in reports if r.status == "closed"]
    still_open = [r for r in reports if r.status != "closed"]
    overdue = [r for r in still_open
               if r.close_due_at < now or (r.acknowledged_at is None and r.ack_due_at < now)]
    never = [r for r in still_open if r.acknowledged_at is None and r.ack_due_at < now]
    assert len(closed) > len(reports) / 2 and overdue and never
    assert len(overdue) < len(still_open)
    late = [r for r in closed if r.closed_at > r.close_due_at]
    assert 0 < len(late) < len(closed) / 3
    # Acknowledgements and closings spread out: log-normal delays, not a fixed time.
    hours = sorted((r.acknowledged_at - r.created_at) / timedelta(hours=1) for r in reports
                   if r.acknowledged_at)
    assert hours[len(hours) // 10] * 5 < hours[len(hours) * 9 // 10]
    types = Counter(session.scalars(select(ReportEvent.type)))
    assert types["reopened"] and types["feedback"] and types["action_update"]
    notes = session.scalar(select(func.count()).select_from(Message).where(Message.internal))
    replies = session.scalar(select(func.count()).select_from(Message).where(
        Message.sender == "reporter"))
    assert notes and replies
    assert 0 < session.scalar(select(func.count()).select_from(Feedback)) < len(closed)
    answers = set(session.execute(select(Feedback.loop_closed, Feedback.would_speak_up_again)))
    assert len(answers) > 3


def test_improvement_actions_answer_reports_of_their_unit(twice, session: Session):
    actions = {a.id: a for a in session.scalars(select(ImprovementAction))}
    assert actions
    links = session.scalars(select(ActionReport)).all()
    updates = session.scalars(select(ActionUpdate).order_by(ActionUpdate.at)).all()
    assert updates
    reports = {r.id: r for r in session.scalars(select(Report))}
    assigned = assignees(session)
    timeline = timelines(session)
    linked: dict[str, list[str]] = defaultdict(list)
    for link in links:
        action = actions[link.action_id]
        report = reports[link.report_id]
        linked[action.id].append(report.id)
        assert link.linked_at == action.created_at > report.created_at
        assert report.unit_id == action.unit_id
        assert action.created_by in assigned[report.id]
        # Nothing but the action's news happened to the report after it was linked.
        after = [e for e in timeline[report.id] if e.at >= action.created_at]
        assert after and all(e.type == "action_update" for e in after)
        assert [e.details["action_id"] for e in after] == [action.id] * len(after)
    assert all(len(ids) >= 2 for ids in linked.values())
    last_status = {u.action_id: u.status for u in updates}
    for action in actions.values():
        assert action.status == last_status.get(action.id, "planned")
        steps = [e for rid in linked[action.id] for e in timeline[rid]
                 if e.type == "action_update"]
        news = 1 + sum(u.action_id == action.id for u in updates)
        assert len(steps) == news * len(linked[action.id])


def test_the_history_is_the_same_built_in_a_child_process(
        database: Database, settings: Settings, clock: SettableClock, session: Session,
        monkeypatch: pytest.MonkeyPatch):
    """The same random seed gives the same history, whether the batches are built in the
    process that inserts them or in a child process while the last one is inserted."""
    if not ahead.available():
        pytest.skip("this platform does not fork")
    monkeypatch.setattr(demo_history, "BATCH", 70)

    def story() -> list[tuple[Any, ...]]:
        rows = session.execute(select(
            Report.created_at, Report.kind, Report.category, Report.unit_id, Report.status,
            Report.anonymous, Report.acknowledged_at, Report.closed_at, Report.outcome,
            Report.reopen_count).order_by(Report.created_at)).all()
        session.rollback()
        counts = [session.scalar(select(func.count()).select_from(model)) for model in (
            ReportEvent, Message, AuditEntry, Feedback, ImprovementAction, ActionUpdate)]
        session.rollback()
        return [tuple(row) for row in rows] + [tuple(counts)]

    monkeypatch.setattr(ahead, "available", lambda: False)
    seed(database, settings, clock, 200, 5)
    in_place = story()
    for model in (ActionUpdate, ActionReport, ImprovementAction, AuditEntry, Feedback, Message,
                  ReportEvent, ReportAssignee, Report):
        with database.engine.begin() as connection:
            if not database.is_sqlite:
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(Base.metadata.tables[model.__tablename__].delete())
    monkeypatch.setattr(ahead, "available", lambda: True)
    seed(database, settings, clock, 200, 5)
    assert story() == in_place


def test_every_reference_holds(twice, database: Database, session: Session):
    """The bulk rows keep every foreign key (on PostgreSQL the demo may insert them without
    the per-row checks)."""
    demo_tables = {"reports", "report_assignees", "report_events", "messages",
                   "report_feedback", "improvement_actions", "action_reports",
                   "action_updates"}
    for name in demo_tables:
        for key in Base.metadata.tables[name].foreign_keys:
            child, parent = key.parent, key.column
            dangling = session.scalar(
                select(func.count()).select_from(child.table)
                .outerjoin(parent.table, parent == child)
                .where(child.is_not(None), parent.is_(None)))
            assert dangling == 0, f"{child} -> {parent}"
    assert session.scalar(select(func.count()).select_from(ReportEvent)) > 800
    # Each report names its active assignees as the services keep them (metrics by leader).
    active: dict[str, set[str]] = {}
    for report_id, user_id in session.execute(select(
            ReportAssignee.report_id, ReportAssignee.user_id).where(ReportAssignee.active)):
        active.setdefault(report_id, set()).add(user_id)
    kept = dict(session.execute(select(Report.id, Report.assignee_ids)).all())
    assert kept == {report_id: assignee_ids(active.get(report_id, ())) for report_id in kept}


def test_only_foreign_key_triggers_fire_on_the_demo_tables(database: Database,
                                                           session: Session):
    """What the demo's bulk insert may switch off on PostgreSQL (session_replication_role)
    is foreign-key checks: its tables have no other triggers on INSERT."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL's triggers")
    found = session.execute(text(
        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND (t.tgtype & 4) <> 0 AND c.relname = ANY(:tables)"),
        {"tables": [name for name, _rows, _by in demo_history.Rows().tables()]}).all()
    assert found == []


LOAD_PRAGMAS = ("cache_size", "synchronous", "foreign_keys", "wal_autocheckpoint")


def test_the_load_settings_are_undone_on_the_connection(database: Database):
    """On SQLite the load runs with a big page cache, no waits for the disk and no
    foreign-key checks, all on its own connection, which gets its settings back afterwards
    (after an error too), with the journal still in WAL mode."""
    if not database.is_sqlite:
        pytest.skip("SQLite's settings")
    with database.engine.connect() as connection, Session(connection) as session:
        driver: Any = connection.connection.driver_connection

        def pragmas() -> dict[str, Any]:
            return {name: driver.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in LOAD_PRAGMAS}

        before = pragmas()
        wire = Wire(connection.dialect)
        with wire.loading(session) as last:
            during = pragmas()
            last()
            assert pragmas()["wal_autocheckpoint"] == 0
        assert pragmas() == before
        with pytest.raises(RuntimeError), wire.loading(session):
            session.execute(text("SELECT 1"))
            raise RuntimeError("the load failed")
        assert pragmas() == before
        assert driver.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (during["synchronous"], during["foreign_keys"]) == (0, 0)
    assert during["cache_size"] < before["cache_size"]  # negative: KiB
    assert before["foreign_keys"] == 1
