"""The demo shares the service's rules: the same submission through intake (with a settable
clock) and through the demo's bulk writer gives equal rows, ids aside; and so does each
workflow step the demo writes (acknowledging, messages, notes, the reporter's replies,
closing, feedback, reopening, improvement actions and their updates), in every table the
step writes to, compared column by column."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup import demo
from speakup.db import Database, table
from speakup.demo.bulk import Wire
from speakup.demo.history import Case, History, Rows
from speakup.demo.world import Place, World, load_world
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
    User,
)
from speakup.services.core.actors import Actor
from speakup.services.core.clock import SettableClock
from speakup.services.core.keys import Keys
from speakup.services.reports import improvements, intake, workflow
from speakup.settings import Settings

MOMENT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
IDS = {"id", "reference", "report_id", "receipt_hash"}
DEMO_NUMBERS = itertools.count(900_000)  # the demo's references here, clear of the service's


def rows_of(session: Session, report_id: str) -> dict[str, Any]:
    """Every row the report's story wrote, ids aside: the ids of its messages and actions
    are named by their order (``message 0``, ``action 0``) wherever they appear."""
    def plain(model: Any, where: Any, *order: Any) -> list[dict[str, Any]]:
        stmt = select(table(model)).where(where).order_by(*order)
        return [dict(row._mapping) for row in session.execute(stmt)]

    messages = plain(Message, Message.report_id == report_id, Message.created_at)
    action_ids = [link["action_id"] for link in plain(
        ActionReport, ActionReport.report_id == report_id, ActionReport.linked_at)]
    names = {m["id"]: f"message {i}" for i, m in enumerate(messages)}
    names.update({aid: f"action {i}" for i, aid in enumerate(action_ids)})

    def name(value: Any) -> Any:
        return names.get(value, value) if isinstance(value, str) else value

    def named(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for row in rows:
            row = {k: name(v) for k, v in row.items() if k not in IDS}
            if isinstance(row.get("details"), dict):
                row["details"] = {k: name(v) for k, v in row["details"].items()}
            result.append(row)
        return result

    report = plain(Report, Report.id == report_id)
    assert len(report) == 1
    return {
        "report": named(report)[0],
        "assignees": sorted(named(plain(ReportAssignee, ReportAssignee.report_id == report_id)),
                            key=lambda r: r["user_id"]),
        "events": named(plain(ReportEvent, ReportEvent.report_id == report_id,
                              ReportEvent.at, ReportEvent.id)),
        "audit": named(plain(AuditEntry, AuditEntry.report_id == report_id, AuditEntry.at,
                             AuditEntry.id)),
        "messages": named(messages),
        "feedback": named(plain(Feedback, Feedback.report_id == report_id)),
        "actions": named(plain(ImprovementAction, ImprovementAction.id.in_(action_ids),
                               ImprovementAction.created_at)),
        "updates": named(plain(ActionUpdate, ActionUpdate.action_id.in_(action_ids),
                               ActionUpdate.at)),
    }


def assert_same(by_service: dict[str, Any], by_demo: dict[str, Any], case: str) -> None:
    """Equal, table by table and row by row (so that a failure names the columns)."""
    assert by_service.keys() == by_demo.keys()
    for name in by_service:
        service, demo_rows = by_service[name], by_demo[name]
        if isinstance(service, dict):
            service, demo_rows = [service], [demo_rows]
        assert len(service) == len(demo_rows), f"{case}: {name}"
        for ours, theirs in zip(service, demo_rows, strict=True):
            assert {k: v for k, v in ours.items() if theirs.get(k) != v} == {
                k: v for k, v in theirs.items() if ours.get(k) != v}, f"{case}: {name}"


def place_named(places: list[Place], name: str) -> Place:
    return next(p for p in places if p.name.startswith(name))


@dataclass
class Story:
    """One report, told by the service and by the demo: what each step needs on both sides."""

    database: Database
    clock: SettableClock
    history: History
    rows: Rows
    report: Case  # the demo's
    service_id: str  # the service's report
    place: Place
    leader: Actor  # an assignee
    reporter: Actor  # its named reporter, or the holder of its receipt key
    officer: Actor
    action: dict[str, Any] | None = None
    service_action: str | None = None

    def at(self, minutes: int) -> datetime:
        """``minutes`` after the submission: the clock set for the service, the time in the
        demo's form (naive UTC) returned."""
        self.clock.set(MOMENT + timedelta(minutes=minutes))
        return MOMENT.replace(tzinfo=None) + timedelta(minutes=minutes)

    @property
    def reporter_id(self) -> str | None:
        return self.reporter.user_id


Step = Callable[[Story, int], None]


def acknowledge(s: Story, minutes: int) -> None:
    s.history.acknowledge(s.rows, s.report, at=s.at(minutes), actor=s.leader.user_id or "")
    workflow.acknowledge(s.database, clock=s.clock, actor=s.leader, report_id=s.service_id)


def acknowledge_with_message(s: Story, minutes: int) -> None:
    s.history.acknowledge(s.rows, s.report, at=s.at(minutes), actor=s.leader.user_id or "",
                          message="Seen, thank you.")
    workflow.acknowledge(s.database, clock=s.clock, actor=s.leader, report_id=s.service_id,
                         message="Seen, thank you.")


def staff_update(s: Story, minutes: int) -> None:
    s.history.message(s.rows, s.report, at=s.at(minutes), actor=s.leader.user_id or "",
                      body="We are looking at the rota.")
    workflow.post_message(s.database, clock=s.clock, actor=s.leader, report_id=s.service_id,
                          body="We are looking at the rota.")


def internal_note(s: Story, minutes: int) -> None:
    s.history.message(s.rows, s.report, at=s.at(minutes), actor=s.leader.user_id or "",
                      body="Raised at the huddle.", internal=True)
    workflow.post_message(s.database, clock=s.clock, actor=s.leader, report_id=s.service_id,
                          body="Raised at the huddle.", internal=True)


def reporter_reply(s: Story, minutes: int) -> None:
    s.history.reply(s.rows, s.report, at=s.at(minutes), body="It happened again.")
    workflow.post_message(s.database, clock=s.clock, actor=s.reporter,
                          report_id=s.service_id, body="It happened again.")


def close(outcome: str) -> Step:
    def step(s: Story, minutes: int) -> None:
        s.history.close(s.rows, s.report, at=s.at(minutes), actor=s.leader.user_id or "",
                        outcome=outcome, response="Fixed: checked at every huddle.")
        workflow.close(s.database, clock=s.clock, actor=s.leader, report_id=s.service_id,
                       outcome=outcome, response="Fixed: checked at every huddle.")
    return step


def feedback(s: Story, minutes: int) -> None:
    s.history.feedback(s.rows, s.report, at=s.at(minutes), loop_closed="partly",
                       would_speak_up_again="yes", comment="Thank you for listening.")
    workflow.give_feedback(s.database, clock=s.clock, actor=s.reporter,
                           report_id=s.service_id, loop_closed="partly",
                           would_speak_up_again="yes", comment="Thank you for listening.")


def feedback_without_comment(s: Story, minutes: int) -> None:
    s.history.feedback(s.rows, s.report, at=s.at(minutes), loop_closed="no",
                       would_speak_up_again="unsure", comment=None)
    workflow.give_feedback(s.database, clock=s.clock, actor=s.reporter,
                           report_id=s.service_id, loop_closed="no",
                           would_speak_up_again="unsure")


def reporter_reopens(s: Story, minutes: int) -> None:
    s.history.reopen(s.rows, s.report, at=s.at(minutes), actor=s.reporter_id,
                     reason="It started again.")
    workflow.reopen(s.database, clock=s.clock, actor=s.reporter, report_id=s.service_id,
                    reason="It started again.")


def officer_reopens(s: Story, minutes: int) -> None:
    s.history.reopen(s.rows, s.report, at=s.at(minutes), actor=s.officer.user_id,
                     reason="Not resolved.")
    workflow.reopen(s.database, clock=s.clock, actor=s.officer, report_id=s.service_id,
                    reason="Not resolved.")


def action(s: Story, minutes: int) -> None:
    at = s.at(minutes)
    s.action = s.history.act(s.rows, [s.report], at=at, actor=s.leader.user_id or "",
                             unit_id=s.place.id, title="Safer handovers",
                             description="A checklist.")
    s.service_action = improvements.create(
        s.database, clock=s.clock, actor=s.leader, title="Safer handovers",
        description="A checklist.", unit_id=s.place.id, report_ids=[s.service_id]).id


def action_update(status: str) -> Step:
    def step(s: Story, minutes: int) -> None:
        assert s.action is not None and s.service_action is not None
        s.history.update_action(s.rows, s.action, [s.report], at=s.at(minutes),
                                actor=s.leader.user_id or "", body=f"Now {status}.",
                                status=status)
        improvements.post_update(s.database, clock=s.clock, actor=s.leader,
                                 action_id=s.service_action, body=f"Now {status}.",
                                 status=status)
    return step


STORIES: dict[str, list[Step]] = {
    "acknowledged": [acknowledge],
    "acknowledged with a message": [acknowledge_with_message],
    "updated, noted and answered": [acknowledge, internal_note, staff_update, reporter_reply],
    "a message acknowledges": [staff_update],
    "closed": [acknowledge, close("actioned")],
    "the closing acknowledges": [close("not_actioned")],
    "feedback": [acknowledge_with_message, close("planned"), feedback],
    "feedback without a comment": [acknowledge, close("duplicate"), feedback_without_comment],
    "reopened by the reporter, closed again": [
        acknowledge, close("actioned"), reporter_reopens, reporter_reply, close("referred")],
    "reopened by a safety officer": [acknowledge, close("planned"), officer_reopens],
    "an action on a closed report": [
        acknowledge, close("planned"), action, action_update("in_progress"),
        action_update("done")],
    "an action on an open report": [acknowledge, action, action_update("in_progress")],
    "an action on a new report": [action],
}


def actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, name=user.name, roles=frozenset(user.roles))


def told_both_ways(database: Database, clock: SettableClock, keys: Keys, session: Session,
                   place_name: str, anonymous: bool, involves_leader: bool,
                   steps: list[Step]) -> tuple[dict[str, Any], dict[str, Any], Story]:
    """The rows of one report submitted and taken through ``steps`` by the services and by
    the demo: ``(by the service, by the demo, the story)``."""
    clock.set(MOMENT)
    with database.session() as writing:
        wire = Wire(writing.get_bind().dialect)
        world: World = load_world(writing, wire, random.Random(7))
    place = place_named(world.places, place_name)
    reporter_id = None if anonymous else world.reporters[0]
    data = intake.NewReport(
        kind="concern", category="patient_safety", unit_id=place.id,
        title="Pump alarms", description="Alarms silenced at night.",
        immediate_risk=True, anonymous=anonymous, involves_leader=involves_leader,
        wants_involvement=True,
    )
    history = History(world, wire, keys, MOMENT.replace(tzinfo=None), random.Random(7))
    rows = Rows()
    # The demo computes in naive UTC, as its bulk path does.
    report = history.submit(rows, created=MOMENT.replace(tzinfo=None),
                            reference=f"SU-2026-{next(DEMO_NUMBERS)}", place=place, data=data,
                            reporter_id=reporter_id)
    reporter = None if anonymous else session.get(User, reporter_id)
    service_id = intake.submit(database, clock=clock, keys=keys, data=data,
                               reporter=reporter).report_id
    route = place.routes[involves_leader]
    leader = session.get(User, route.assignee_ids[0])
    officer = session.get(User, world.officers[0])
    assert leader is not None and officer is not None
    story = Story(database, clock, history, rows, report, service_id, place,
                  leader=actor_of(leader),
                  reporter=Actor(followup_report_id=service_id) if reporter is None
                  else actor_of(reporter),
                  officer=actor_of(officer))
    for minutes, step in enumerate(steps, start=1):
        step(story, 7 * minutes)
    with database.session() as writing:
        rows.insert(writing, wire)
        writing.commit()
    session.rollback()
    return rows_of(session, service_id), rows_of(session, report.row["id"]), story


@pytest.fixture()
def seeded(database: Database, settings: Settings, clock: SettableClock) -> Database:
    """The demo organisation, without history (made once per test: it takes a while)."""
    demo.seed(database, settings=settings, reports=0, clock=clock)
    return database


def test_service_and_demo_submit_equal_rows(
    seeded: Database, clock: SettableClock, keys: Keys, session: Session,
) -> None:
    for unit in ("Ward 7", "ED Minors"):  # own leaders; routed up the tree
        for anonymous in (False, True):
            for involves_leader in (False, True):
                case = f"{unit}, anonymous={anonymous}, involves_leader={involves_leader}"
                by_service, by_demo, _story = told_both_ways(
                    seeded, clock, keys, session, unit, anonymous, involves_leader, [])
                assert_same(by_service, by_demo, case)
                assert by_service["assignees"], "the report went to somebody"
                assert [e["type"] for e in by_service["events"]] == ["submitted", "routed"]


@pytest.mark.parametrize("anonymous", [False, True])
def test_each_workflow_step_writes_what_the_service_writes(
    seeded: Database, clock: SettableClock, keys: Keys, session: Session, anonymous: bool,
) -> None:
    """Every story of :data:`STORIES`, told once by the services and once by the demo."""
    for name, steps in STORIES.items():
        by_service, by_demo, told = told_both_ways(seeded, clock, keys, session, "Ward 7",
                                                   anonymous, False, steps)
        assert_same(by_service, by_demo, name)
        # Every step left its mark (a step the service refused would have raised), with an
        # audit row for each timeline row after the submission.
        assert len(by_service["events"]) == 2 + len(by_service["audit"]) > 2, name
        if anonymous:  # the reporter's own steps name nobody
            staff = {told.leader.user_id, told.officer.user_id, None}
            assert by_service["report"]["reporter_id"] is None
            assert {e["actor_id"] for e in by_service["events"]} <= staff, name
            assert {a["actor_id"] for a in by_service["audit"]} <= staff, name
            assert all(m["author_id"] is None for m in by_service["messages"]
                       if m["sender"] == "reporter"), name
