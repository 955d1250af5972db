"""Escalation with an injected clock: up every level of the tree to the safety officers, once
per level, idempotent passes, and (on PostgreSQL) two passes at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import OutboxEvent, Report, ReportEvent
from speakup.runtime import Runtime
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.services.reports import escalation, intake
from tests.support import PASSWORD, Login, Org, report_body


@pytest.fixture()
def department_leader(hospital: Org, database: Database, clock: SettableClock,
                      passwords: Passwords) -> str:
    """A leader for Medicine, so that the tree has leaders on all three levels."""
    user = org.create_user(database, clock=clock, passwords=passwords, data=org.NewUser(
        email="medicine@example.org", name="Mo Medicine", password=PASSWORD,
        roles=["leader"], unit_id=hospital.medicine))
    org.add_leader(database, clock=clock, unit_id=hospital.medicine, user_id=user.id)
    return user.id


def submit(client: FlaskClient, login: Login, unit_id: str, **extra: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/reports", json=report_body(unit_id, **extra),
                         headers=login("nurse"))
    assert answer.status_code == 201, answer.json
    return answer.json  # type: ignore[no-any-return]


def escalations(session: Session, report_id: str) -> list[dict[str, Any]]:
    session.rollback()
    return [e.details for e in session.scalars(
        select(ReportEvent).where(ReportEvent.report_id == report_id,
                                  ReportEvent.type == "escalated").order_by(ReportEvent.id))]


def test_an_ignored_report_climbs_every_level_to_the_safety_officers_once_each(
        client: FlaskClient, hospital: Org, login: Login, database: Database,
        clock: SettableClock, session: Session, department_leader: str):
    report = submit(client, login, hospital.ward)

    def run() -> list[escalation.Escalated]:
        return escalation.run_pass(database, clock=clock)

    assert run() == []  # nothing is due yet
    clock.advance(hours=47)
    assert run() == []
    expected = [(hospital.medicine, department_leader), (hospital.site, hospital.site_leader),
                (None, hospital.officer)]
    for level, (unit_id, who) in enumerate(expected, start=1):
        clock.advance(hours=2)  # past the current due time to acknowledge
        [done] = run()
        assert (done.report_id, done.level, done.unit_id, done.assignee_ids) == (
            report["id"], level, unit_id, (who,))
        assert run() == [], "a pass repeated at once does nothing"
        clock.advance(hours=46)  # the due time moved one period (48 h) on
    clock.advance(hours=200)
    assert run() == [], "nothing is above the safety officers"
    entries = escalations(session, report["id"])
    assert [e["assignees"][0]["id"] for e in entries] == [department_leader,
                                                        hospital.site_leader, hospital.officer]
    assert "Medicine" in entries[0]["reason"] and "safety officers" in entries[2]["reason"]
    told = session.scalars(select(OutboxEvent.notify_user_ids).where(
        OutboxEvent.type == "report.escalated").order_by(OutboxEvent.occurred_at)).all()
    assert told == [[department_leader], [hospital.site_leader], [hospital.officer]]
    # Everyone it reached works on it now, and sees it in their list and timeline.
    view = client.get(f"/api/v1/reports/{report['id']}", headers=login("ward_leader")).json
    assert {a["id"] for a in view["routing"]["assignees"]} == {
        hospital.ward_leader, department_leader, hospital.site_leader, hospital.officer}
    assert [e["type"] for e in view["timeline"]].count("escalated") == 3
    row = session.get(Report, report["id"])
    assert row is not None and row.escalation_level == 3 and row.escalation_unit_id is None
    # The report keeps its active assignees for the metrics by leader.
    assert row.assignee_ids == " ".join(sorted({
        hospital.ward_leader, department_leader, hospital.site_leader, hospital.officer}))


def test_an_acknowledged_report_left_open_escalates_when_its_loop_is_overdue(
        client: FlaskClient, hospital: Org, login: Login, database: Database,
        clock: SettableClock, session: Session):
    report = submit(client, login, hospital.ward, kind="opportunity")
    client.post(f"/api/v1/reports/{report['id']}/acknowledge", json={},
                headers=login("ward_leader"))
    clock.advance(days=59)
    assert escalation.run_pass(database, clock=clock) == []
    clock.advance(days=1, seconds=1)  # 60 days to close the loop on an opportunity
    [done] = escalation.run_pass(database, clock=clock)
    assert done.unit_id == hospital.site  # Medicine has no leaders: the nearest above
    assert "loop was not closed" in escalations(session, report["id"])[0]["reason"]
    row = session.get(Report, report["id"])
    assert row is not None
    assert row.close_due_at == clock.now() + timedelta(days=60)
    assert escalation.run_pass(database, clock=clock) == []


def test_closed_reports_and_reports_at_the_top_are_left_alone(
        client: FlaskClient, hospital: Org, login: Login, database: Database,
        clock: SettableClock):
    closed = submit(client, login, hospital.ward)
    client.post(f"/api/v1/reports/{closed['id']}/close", headers=login("ward_leader"),
                json={"outcome": "actioned", "response": "Done."})
    clock.advance(days=400)
    assert escalation.run_pass(database, clock=clock) == []


def test_escalation_never_reaches_the_reporter(
        client: FlaskClient, hospital: Org, login: Login, database: Database,
        clock: SettableClock, session: Session):
    """The site leader reports on the ward: escalating past the ward goes over their head
    to the safety officers, not back to them."""
    answer = client.post("/api/v1/reports", json=report_body(hospital.ward),
                         headers=login("site_leader"))
    clock.advance(hours=49)
    [done] = escalation.run_pass(database, clock=clock)
    assert done.unit_id is None and done.assignee_ids == (hospital.officer,)
    assert hospital.site_leader not in str(escalations(session, answer.json["id"]))


def test_two_passes_at_the_same_moment_escalate_each_report_exactly_once(
        client: FlaskClient, hospital: Org, login: Login, runtime: Runtime,
        clock: SettableClock, session: Session, database: Database):
    if database.is_sqlite:
        pytest.skip("PostgreSQL: SQLite's write lock makes passes take turns")
    data = intake.NewReport(kind="concern", category="patient_safety", unit_id=hospital.ward,
                            description="The night shift's alarms go unanswered.")
    ids = [intake.submit(database, clock=clock, keys=runtime.keys, data=data,
                         reporter=None).report_id for _ in range(40)]
    clock.advance(hours=49)
    runtimes = [Runtime.build(runtime.settings, clock=clock) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[list[escalation.Escalated]] = [[], []]

    def run(i: int) -> None:
        start.wait()
        results[i] = escalation.run_pass(runtimes[i].database, clock=clock)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for built in runtimes:
        built.close()
    done = [d.report_id for found in results for d in found]
    assert sorted(done) == sorted(ids)
    for report_id in ids:
        assert len(escalations(session, report_id)) == 1
