"""Closing the loop, end to end through the API: what the reporter and the assignee see at
each step, the status machine, and the timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.models import Report
from speakup.services.core.clock import SettableClock
from tests.support import Login, Org, assert_problem, report_body


class Reporter:
    """The reporter's side: a named reporter's own token, or an anonymous reporter's
    follow-up token traded for the receipt key."""

    def __init__(self, client: FlaskClient, headers: Callable[[], dict[str, str]]) -> None:
        self.client, self._headers = client, headers

    @property
    def headers(self) -> dict[str, str]:
        """A fresh token (the clock moves by days here; tokens live minutes)."""
        return self._headers()

    def get(self, report_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/reports/{report_id}", headers=self.headers)
        assert response.status_code == 200, response.json
        return response.json

    def post(self, report_id: str, step: str, body: dict[str, Any]) -> Any:
        return self.client.post(f"/api/v1/reports/{report_id}/{step}", json=body,
                                headers=self.headers)


def submit(client: FlaskClient, hospital: Org, login: Login, anonymous: bool
           ) -> tuple[str, Reporter]:
    if anonymous:
        created = client.post("/api/v1/reports", json=report_body(hospital.ward))
        assert created.status_code == 201
        key = created.json["receipt_key"]

        def headers() -> dict[str, str]:
            token = client.post("/api/v1/followup", json={"receipt_key": key}).json
            return {"Authorization": f"Bearer {token['access_token']}"}
    else:
        created = client.post("/api/v1/reports", json=report_body(hospital.ward),
                              headers=login("nurse"))
        assert created.status_code == 201

        def headers() -> dict[str, str]:
            return login("nurse")
    return created.json["id"], Reporter(client, headers)


def staff_view(client: FlaskClient, headers: dict[str, str], report_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/reports/{report_id}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def types(view: dict[str, Any]) -> list[str]:
    return [entry["type"] for entry in view["timeline"]]


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
def test_the_whole_loop(client: FlaskClient, hospital: Org, login: Login,
                        clock: SettableClock, anonymous: bool):
    report_id, reporter = submit(client, hospital, login, anonymous)
    leader = login("ward_leader")
    nurse_actor = None if anonymous else {"id": hospital.nurse, "name": "Nora Nurse"}
    wendy = {"id": hospital.ward_leader, "name": "Wendy Ward"}

    # Acknowledge, with a first answer.
    clock.advance(timedelta(hours=2))
    acked = client.post(f"/api/v1/reports/{report_id}/acknowledge",
                        json={"message": "Thank you, we are looking at the alarms."},
                        headers=leader)
    assert acked.status_code == 200, acked.json
    assert acked.json["status"] == "acknowledged"
    assert acked.json["acknowledged_at"] == acked.json["first_response_at"]
    seen = reporter.get(report_id)
    assert seen["status"] == "acknowledged"
    assert [m["body"] for m in seen["messages"]] == ["Thank you, we are looking at the alarms."]
    assert seen["messages"][0]["from"] == "staff"
    assert seen["messages"][0]["author"] == wendy

    # An internal note: the staff side sees it, the reporter never does.
    clock.advance(timedelta(minutes=5))
    note = client.post(f"/api/v1/reports/{report_id}/messages",
                       json={"body": "Check the alarm log of bay 2 first.", "internal": True},
                       headers=leader)
    assert note.status_code == 201 and note.json["internal"] is True
    assert staff_view(client, leader, report_id)["status"] == "in_progress"
    seen = reporter.get(report_id)
    assert "Check the alarm log" not in str(seen)
    assert "timeline" not in seen and "routing" not in seen and "reporter" not in seen

    # A visible message, and the reporter's reply.
    clock.advance(timedelta(minutes=5))
    visible = client.post(f"/api/v1/reports/{report_id}/messages",
                          json={"body": "Which nights did you notice it?"}, headers=leader)
    assert visible.status_code == 201 and visible.json["from"] == "staff"
    clock.advance(timedelta(minutes=1))
    reply = reporter.post(report_id, "messages", {"body": "Mostly weekends."})
    assert reply.status_code == 201, reply.json
    assert reply.json == {**reply.json, "from": "reporter", "internal": False, "author": None}
    assert reporter.post(report_id, "messages",
                         {"body": "psst", "internal": True}).status_code == 403

    view = staff_view(client, leader, report_id)
    assert [m["body"] for m in view["messages"]] == [
        "Thank you, we are looking at the alarms.", "Check the alarm log of bay 2 first.",
        "Which nights did you notice it?", "Mostly weekends."]
    assert view["messages"][-1]["author"] is None
    seen = reporter.get(report_id)
    assert [m["body"] for m in seen["messages"]] == [
        "Thank you, we are looking at the alarms.", "Which nights did you notice it?",
        "Mostly weekends."]

    # Close the loop.
    clock.advance(timedelta(days=1))
    closed = client.post(f"/api/v1/reports/{report_id}/close",
                         json={"outcome": "actioned",
                               "response": "Alarm volume is now checked at every hand-over."},
                         headers=leader)
    assert closed.status_code == 200, closed.json
    first_closed_at = closed.json["closed_at"]
    seen = reporter.get(report_id)
    assert seen["status"] == "closed" and seen["outcome"] == "actioned"
    assert seen["messages"][-1]["body"] == "Alarm volume is now checked at every hand-over."

    # Feedback, once.
    given = reporter.post(report_id, "feedback", {"loop_closed": "partly",
                                                  "would_speak_up_again": "yes",
                                                  "comment": "Weekends still unclear."})
    assert given.status_code == 201, given.json
    assert given.json["loop_closed"] == "partly"
    again = reporter.post(report_id, "feedback", {"loop_closed": "yes",
                                                  "would_speak_up_again": "yes"})
    assert assert_problem(again, 409)["type"] == "/problems/feedback-given"

    # Reopen, and close again: the first closing time stays, the reopen is counted.
    clock.advance(timedelta(days=3))
    reopened = reporter.post(report_id, "reopen", {"reason": "It happened again last night."})
    assert reopened.status_code == 200, reopened.json
    assert reopened.json["status"] == "in_progress" and reopened.json["reopen_count"] == 1
    assert reopened.json["outcome"] is None
    clock.advance(timedelta(days=1))
    closed_again = client.post(f"/api/v1/reports/{report_id}/close",
                               json={"outcome": "planned",
                                     "response": "New alarm panels are ordered."},
                               headers=leader)
    assert closed_again.status_code == 200
    assert closed_again.json["closed_at"] == first_closed_at
    assert closed_again.json["reopen_count"] == 1

    view = staff_view(client, leader, report_id)
    assert types(view) == ["submitted", "routed", "acknowledged", "message", "message",
                           "message", "closed", "feedback", "reopened", "closed"]
    actors = [entry["actor"] for entry in view["timeline"]]
    assert actors == [nurse_actor, None, wendy, wendy, wendy, nurse_actor, wendy, nurse_actor,
                      nurse_actor, wendy]
    feedback = view["timeline"][7]
    assert feedback["loop_closed"] == "partly" and feedback["comment"] == "Weekends still unclear."
    assert view["timeline"][8]["reason"] == "It happened again last night."
    assert view["timeline"][9]["outcome"] == "planned"
    seen = reporter.get(report_id)
    assert seen["outcome"] == "planned" and seen["status"] == "closed"


def test_double_acknowledge_returns_the_first(client: FlaskClient, hospital: Org,
                                              login: Login, clock: SettableClock):
    report_id, _ = submit(client, hospital, login, anonymous=True)
    leader = login("ward_leader")
    first = client.post(f"/api/v1/reports/{report_id}/acknowledge", json={}, headers=leader)
    clock.advance(timedelta(minutes=10))
    second = client.post(f"/api/v1/reports/{report_id}/acknowledge",
                         json={"message": "Hello again"}, headers=leader)
    assert first.status_code == second.status_code == 200
    assert second.json == first.json
    assert types(staff_view(client, leader, report_id)).count("acknowledged") == 1


def test_a_visible_message_acknowledges_a_new_report(client: FlaskClient, hospital: Org,
                                                    login: Login):
    report_id, _ = submit(client, hospital, login, anonymous=False)
    leader = login("ward_leader")
    note = client.post(f"/api/v1/reports/{report_id}/messages",
                       json={"body": "note", "internal": True}, headers=leader)
    assert note.status_code == 201
    view = staff_view(client, leader, report_id)
    assert view["status"] == "new" and view["first_response_at"] is None
    client.post(f"/api/v1/reports/{report_id}/messages", json={"body": "Seen, thank you."},
                headers=leader)
    view = staff_view(client, leader, report_id)
    assert view["status"] == "in_progress"
    assert view["acknowledged_at"] == view["first_response_at"] is not None


def test_closing_an_unacknowledged_report_acknowledges_it(client: FlaskClient, hospital: Org,
                                                          login: Login):
    report_id, _ = submit(client, hospital, login, anonymous=True)
    closed = client.post(f"/api/v1/reports/{report_id}/close",
                         json={"outcome": "duplicate", "response": "Same as SU-1."},
                         headers=login("officer"))
    assert closed.status_code == 200
    body = closed.json
    assert body["acknowledged_at"] == body["first_response_at"] == body["closed_at"]


@pytest.mark.parametrize(("step", "body", "status"), [
    ("reopen", {"reason": "why"}, "new"),
    ("feedback", {"loop_closed": "yes", "would_speak_up_again": "yes"}, "new"),
    ("reopen", {"reason": "why"}, "acknowledged"),
    ("feedback", {"loop_closed": "yes", "would_speak_up_again": "yes"}, "acknowledged"),
    ("reopen", {"reason": "why"}, "in_progress"),
    ("feedback", {"loop_closed": "yes", "would_speak_up_again": "yes"}, "in_progress"),
    ("close", {"outcome": "actioned", "response": "done"}, "closed"),
    ("messages", {"body": "hello"}, "closed"),
    ("assign", {"user_id": "<site_leader>", "reason": "why"}, "closed"),
])
def test_every_illegal_transition_is_409_and_names_it(
        client: FlaskClient, hospital: Org, login: Login, step: str, body: dict[str, Any],
        status: str):
    report_id, reporter = submit(client, hospital, login, anonymous=False)
    officer = login("officer")
    if status != "new":
        client.post(f"/api/v1/reports/{report_id}/acknowledge", json={}, headers=officer)
    if status == "in_progress":
        client.post(f"/api/v1/reports/{report_id}/messages", json={"body": "on it"},
                    headers=officer)
    if status == "closed":
        client.post(f"/api/v1/reports/{report_id}/close",
                    json={"outcome": "actioned", "response": "done"}, headers=officer)
    before = staff_view(client, officer, report_id)
    assert before["status"] == status
    body = {k: hospital.site_leader if v == "<site_leader>" else v for k, v in body.items()}
    # The reporter's steps are taken by the reporter, the staff side's by a safety officer.
    who = reporter.headers if step == "feedback" else officer
    answer = client.post(f"/api/v1/reports/{report_id}/{step}", json=body, headers=who)
    problem = assert_problem(answer, 409)
    name = {"messages": "message"}.get(step, step)
    assert problem["type"] == f"/problems/illegal-transition/{name}-from-{status}"
    after = staff_view(client, officer, report_id)
    assert after["timeline"] == before["timeline"] and after["messages"] == before["messages"]


def test_a_reporter_may_reopen_for_30_days_a_safety_officer_always(
        client: FlaskClient, hospital: Org, login: Login, clock: SettableClock):
    report_id, reporter = submit(client, hospital, login, anonymous=True)
    leader, officer = login("ward_leader"), login("officer")
    client.post(f"/api/v1/reports/{report_id}/close",
                json={"outcome": "not_actioned", "response": "Out of our hands."},
                headers=leader)
    clock.advance(timedelta(days=30, seconds=1))
    leader, officer = login("ward_leader"), login("officer")  # sessions end after 14 days
    late = reporter.post(report_id, "reopen", {"reason": "Still happening."})
    assert_problem(late, 403)
    # A leader never reopens (a safety officer does).
    assert_problem(client.post(f"/api/v1/reports/{report_id}/reopen",
                               json={"reason": "x"}, headers=leader), 403)
    assert client.post(f"/api/v1/reports/{report_id}/reopen", json={"reason": "Review."},
                       headers=officer).status_code == 200


def test_reassigning_hands_the_report_over(client: FlaskClient, hospital: Org, login: Login,
                                           session: Session):
    report_id, _ = submit(client, hospital, login, anonymous=True)
    ward, site = login("ward_leader"), login("site_leader")
    assert client.get(f"/api/v1/reports/{report_id}", headers=site).status_code == 404
    # Not someone who can act on it: a plain staff member, or nobody at all.
    for user_id in (hospital.nurse, "no-such-user"):
        refused = client.post(f"/api/v1/reports/{report_id}/assign",
                              json={"user_id": user_id, "reason": "x"}, headers=ward)
        assert "user_id" in assert_problem(refused, 422)["errors"]
    moved = client.post(f"/api/v1/reports/{report_id}/assign",
                        json={"user_id": hospital.site_leader, "reason": "Needs the director."},
                        headers=ward)
    assert moved.status_code == 200, moved.json
    assert [a["id"] for a in moved.json["routing"]["assignees"]] == [hospital.site_leader]
    assert session.scalar(select(Report.assignee_ids).where(
        Report.id == report_id)) == hospital.site_leader  # read by the metrics by leader
    assert client.get(f"/api/v1/reports/{report_id}", headers=ward).status_code == 404
    view = staff_view(client, site, report_id)
    assert view["timeline"][-1]["type"] == "assigned"
    assert view["timeline"][-1]["reason"] == "Needs the director."
    # Handed back: the earlier assignment becomes current again.
    back = client.post(f"/api/v1/reports/{report_id}/assign",
                       json={"user_id": hospital.ward_leader, "reason": "Ward's call."},
                       headers=site)
    assert [a["id"] for a in back.json["routing"]["assignees"]] == [hospital.ward_leader]
    session.rollback()  # a new snapshot
    assert session.scalar(select(Report.assignee_ids).where(
        Report.id == report_id)) == hospital.ward_leader


def test_a_named_report_is_never_assigned_to_its_reporter(client: FlaskClient, hospital: Org,
                                                         login: Login):
    wendy = login("ward_leader")
    created = client.post("/api/v1/reports", json=report_body(hospital.ward), headers=wendy)
    report_id = created.json["id"]
    refused = client.post(f"/api/v1/reports/{report_id}/assign",
                          json={"user_id": hospital.ward_leader, "reason": "mine"},
                          headers=login("officer"))
    assert "user_id" in assert_problem(refused, 422)["errors"]


@pytest.mark.parametrize(("step", "body"), [
    ("acknowledge", {"message": "   "}),
    ("acknowledge", {"message": 5}),
    ("messages", {"body": ""}),
    ("messages", {"body": "x" * 10_001}),
    ("messages", {"body": "hi", "internal": "yes"}),
    ("messages", {"body": "hi", "extra": 1}),
    ("close", {"outcome": "solved", "response": "done"}),
    ("close", {"outcome": "actioned"}),
    ("reopen", {}),
    ("assign", {"user_id": "x" * 65, "reason": "r"}),
    ("feedback", {"loop_closed": "maybe", "would_speak_up_again": "yes"}),
])
def test_bad_bodies_are_422(client: FlaskClient, hospital: Org, login: Login, step: str,
                            body: dict[str, Any]):
    report_id, _ = submit(client, hospital, login, anonymous=True)
    answer = client.post(f"/api/v1/reports/{report_id}/{step}", json=body,
                         headers=login("officer"))
    assert_problem(answer, 422)


def test_duplicate_keys_and_unknown_reports(client: FlaskClient, hospital: Org, login: Login):
    report_id, _ = submit(client, hospital, login, anonymous=True)
    officer = login("officer")
    duplicate = client.post(f"/api/v1/reports/{report_id}/messages",
                            data='{"body": "a", "body": "b"}', content_type="application/json",
                            headers=officer)
    assert_problem(duplicate, 400)
    for forged in ("nope", "x" * 64, report_id.upper(), "%00"):
        assert_problem(client.post(f"/api/v1/reports/{forged}/acknowledge", json={},
                                   headers=officer), 404)
