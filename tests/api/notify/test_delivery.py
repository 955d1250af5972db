"""The outbox and its delivery: events written with their change, delivered to real receivers
on loopback (an HTTP server, an SMTP server), retried, dead-lettered, and all visible."""

from __future__ import annotations

import hmac
import json
from datetime import timedelta
from email.message import EmailMessage
from hashlib import sha256
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import Delivery, OutboxEvent, Report
from speakup.runtime import Runtime
from speakup.services.core.clock import SettableClock
from speakup.services.notify.delivery import MAX_ATTEMPTS, Options
from speakup.services.notify.mail import Smtp
from speakup.services.reports import history, intake
from speakup.worker import Worker
from tests.api.notify.receivers import Receiver, serving, smtp_server
from tests.support import Login, Org, assert_problem, report_body

SECRET = "a-shared-secret-of-some-length"
DESCRIPTION = "On night shifts the infusion-pump alarms get silenced without a check."


def worker(runtime: Runtime, **options: Any) -> Worker:
    settings = {"timeout": 2.0, "backoff": 1.0, "concurrency": 1, **options}
    return Worker(runtime, Options(**settings), escalate_every=10**9)


def add_webhook(client: FlaskClient, login: Login, url: str, **extra: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/webhooks", headers=login("admin"),
                         json={"url": url, "secret": SECRET, **extra})
    assert answer.status_code == 201, answer.json
    return answer.json  # type: ignore[no-any-return]


def events(session: Session) -> list[tuple[str, str, list[str], bool]]:
    rows = session.execute(select(OutboxEvent).order_by(OutboxEvent.occurred_at,
                                                        OutboxEvent.type)).scalars()
    return [(e.type, e.status, e.notify_user_ids, e.notify_assignees) for e in rows]


def test_every_change_writes_its_event_in_its_transaction(
        client: FlaskClient, hospital: Org, login: Login, clock: SettableClock,
        session: Session):
    nurse, leader = login("nurse"), login("ward_leader")
    report = client.post("/api/v1/reports", json=report_body(hospital.ward), headers=nurse).json
    on = f"/api/v1/reports/{report['id']}"
    clock.advance(minutes=1)
    assert client.post(f"{on}/acknowledge", json={}, headers=leader).status_code == 200
    clock.advance(minutes=1)
    assert client.post(f"{on}/messages", json={"body": "n", "internal": True},
                       headers=leader).status_code == 201
    clock.advance(minutes=1)
    assert client.post(f"{on}/messages", json={"body": "Bay 2."},
                       headers=nurse).status_code == 201
    clock.advance(minutes=1)
    assert client.post(f"{on}/close", json={"outcome": "actioned", "response": "Fixed."},
                       headers=leader).status_code == 200
    assert events(session) == [
        ("report.routed", "new", [hospital.ward_leader], False),
        ("report.acknowledged", "acknowledged", [], False),
        ("report.message", "in_progress", [], False),
        # The reporter's answer is e-mailed to whoever works on the report.
        ("report.message", "in_progress", [], True),
        ("report.closed", "closed", [], False),
    ]


def test_an_immediate_risk_tells_every_safety_officer_at_once(
        client: FlaskClient, hospital: Org, login: Login, session: Session):
    client.post("/api/v1/reports", headers=login("nurse"),
                json=report_body(hospital.ward, immediate_risk=True))
    [(kind, _status, told, _)] = events(session)
    assert kind == "report.routed" and set(told) == {hospital.ward_leader, hospital.officer}


def test_a_submission_that_fails_leaves_no_event(
        hospital: Org, database: Database, runtime: Runtime, session: Session,
        monkeypatch: pytest.MonkeyPatch):
    real = history.append

    def append_then_fail(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)  # the event is written ...
        raise RuntimeError("the disk is full")  # ... and the change fails after it

    monkeypatch.setattr(intake.history, "append", append_then_fail)
    data = intake.NewReport(kind="concern", category="patient_safety", unit_id=hospital.ward,
                            description=DESCRIPTION)
    with pytest.raises(RuntimeError):
        intake.submit(database, clock=runtime.clock, keys=runtime.keys, data=data,
                      reporter=None)
    assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_a_flaky_receiver_gets_the_event_once_it_accepts_signed_and_recorded(
        client: FlaskClient, hospital: Org, login: Login, runtime: Runtime,
        clock: SettableClock, session: Session):
    with serving(Receiver(answer=lambda n: 500 if n <= 3 else 204)) as receiver:
        hook = add_webhook(client, login, receiver.url, events=["report.routed"])
        report = client.post("/api/v1/reports", json=report_body(hospital.ward, anonymous=True)
                             ).json
        work = worker(runtime)
        for _ in range(8):
            work.round()
            clock.advance(hours=1)  # past any backoff
        assert len(receiver.received) == 4
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1, "every attempt carries the same event, byte for byte"
    body = bodies.pop()
    for request in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, sha256).hexdigest()
        assert hmac.compare_digest(request.headers["X-Speakup-Signature"], expected)
    event = json.loads(body)
    assert event["type"] == "report.routed"
    assert event["report"] == {"id": report["id"], "reference": report["reference"],
                               "unit_id": hospital.ward, "kind": "concern", "status": "new"}
    assert set(event) == {"id", "type", "occurred_at", "report"}
    assert DESCRIPTION.encode() not in body
    attempts = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries",
                          headers=login("admin")).json["items"]
    assert [(a["attempt"], a["state"], a["status_code"]) for a in attempts] == [
        (4, "delivered", 204), (3, "pending", 500), (2, "pending", 500), (1, "pending", 500)]
    assert {a["event_id"] for a in attempts} == {event["id"]}
    assert session.scalars(select(Delivery.state)).all() == ["delivered"]


def test_a_receiver_that_never_answers_ends_in_the_dead_letter(
        client: FlaskClient, hospital: Org, login: Login, runtime: Runtime,
        clock: SettableClock, session: Session):
    with serving(Receiver(answer=lambda _n: None)) as receiver:
        hook = add_webhook(client, login, receiver.url)
        client.post("/api/v1/reports", json=report_body(hospital.ward), headers=login("nurse"))
        work = worker(runtime, timeout=0.2)
        for _ in range(MAX_ATTEMPTS + 3):
            work.round()
            clock.advance(hours=7)  # past the longest backoff
        assert len(receiver.received) == MAX_ATTEMPTS
    attempts = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries?limit=200",
                          headers=login("admin")).json["items"]
    assert [a["attempt"] for a in attempts] == list(range(MAX_ATTEMPTS, 0, -1))
    assert attempts[0]["state"] == "dead"
    assert {a["state"] for a in attempts[1:]} == {"pending"}
    assert all(a["status_code"] is None and a["error"] for a in attempts)
    assert session.scalars(select(Delivery.state)).all() == ["dead"]


def test_backoff_doubles_with_jitter_and_is_capped():
    from speakup.services.notify.delivery import backoff

    options = Options(backoff=10, backoff_cap=60)
    for attempt, full in ((1, 10), (2, 20), (3, 40), (4, 60), (9, 60)):
        for _ in range(20):
            wait = backoff(attempt, options)
            assert timedelta(seconds=full / 2) <= wait <= timedelta(seconds=full)


def test_an_escalation_is_e_mailed_to_the_new_assignee_with_no_report_text(
        client: FlaskClient, hospital: Org, login: Login, runtime: Runtime,
        clock: SettableClock):
    report = client.post("/api/v1/reports", json=report_body(hospital.ward),
                         headers=login("nurse")).json
    clock.advance(hours=49)  # past the 48 h to acknowledge a concern
    with smtp_server() as (url, mailbox):
        work = worker(runtime, smtp=Smtp.from_url(url), public_url="https://speakup.example")
        work.round()
        work.round()
    by_recipient = {m["To"]: m for m in mailbox.messages}
    assert set(by_recipient) == {hospital.emails["ward_leader"], hospital.emails["site_leader"]}
    mail = by_recipient[hospital.emails["site_leader"]]
    assert report["reference"] in mail["Subject"] and "escalated" in mail["Subject"]
    assert isinstance(mail, EmailMessage)
    text = mail.get_content()
    assert f"https://speakup.example/api/v1/reports/{report['id']}" in text
    assert DESCRIPTION not in text and "Infusion" not in text


def test_a_deactivated_webhook_gets_nothing_more(
        client: FlaskClient, hospital: Org, login: Login, runtime: Runtime):
    with serving(Receiver()) as receiver:
        hook = add_webhook(client, login, receiver.url)
        client.post("/api/v1/reports", json=report_body(hospital.ward), headers=login("nurse"))
        work = worker(runtime)
        work.round()
        assert len(receiver.received) == 1
        assert client.patch(f"/api/v1/webhooks/{hook['id']}", json={"active": False},
                            headers=login("admin")).json["active"] is False
        client.post("/api/v1/reports", json=report_body(hospital.ward), headers=login("nurse"))
        work.round()
        assert len(receiver.received) == 1


# --- the webhooks API ----------------------------------------------------------------------


def test_webhooks_are_for_admins_and_never_show_their_secret(
        client: FlaskClient, hospital: Org, login: Login):
    admin = login("admin")
    hook = add_webhook(client, login, "https://hooks.example/speakup")
    assert "secret" not in hook and hook["active"] is True
    assert hook["events"] == list(history.EVENT_NAMES)
    listed = client.get("/api/v1/webhooks", headers=admin).json
    assert [h["id"] for h in listed["items"]] == [hook["id"]]
    assert SECRET not in json.dumps(listed)
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).json == hook
    for who in ("officer", "ward_leader", "nurse"):
        assert_problem(client.get("/api/v1/webhooks", headers=login(who)), 403)
        assert_problem(client.post("/api/v1/webhooks", headers=login(who),
                                   json={"url": "https://x.example", "secret": SECRET}), 403)
    assert_problem(client.get("/api/v1/webhooks"), 401)
    assert_problem(client.get("/api/v1/webhooks/nope/deliveries", headers=admin), 404)
    assert_problem(client.patch("/api/v1/webhooks/nope", json={"active": False},
                                headers=admin), 404)


@pytest.mark.parametrize("body", [
    {"url": "ftp://hooks.example/x", "secret": SECRET},
    {"url": "https://", "secret": SECRET},
    {"url": "https://hooks.example/" + "x" * 2000, "secret": SECRET},
    {"url": "https://hooks.example/x", "secret": "short"},
    {"url": "https://hooks.example/x", "secret": SECRET, "events": ["report.deleted"]},
    {"url": "https://hooks.example/x", "secret": SECRET, "events": []},
    {"url": "https://hooks.example/x", "secret": SECRET, "events": "report.closed"},
    {"url": 12, "secret": SECRET},
    {"url": "https://hooks.example/x", "secret": SECRET, "active": "yes please"},
    {"url": "https://hooks.example/x", "secret": SECRET, "owner": "me"},
    {"secret": SECRET},
])
def test_a_bad_webhook_is_a_422(client: FlaskClient, hospital: Org, login: Login,
                                body: dict[str, Any]):
    assert_problem(client.post("/api/v1/webhooks", json=body, headers=login("admin")), 422)


def test_duplicate_keys_in_a_webhook_body_are_refused(
        client: FlaskClient, hospital: Org, login: Login):
    raw = ('{"url": "https://a.example/x", "url": "https://b.example/x", '
           f'"secret": "{SECRET}"}}')
    answer = client.post("/api/v1/webhooks", data=raw, content_type="application/json",
                         headers=login("admin"))
    assert answer.status_code in (400, 422)


def test_a_forged_cursor_or_a_giant_limit_on_deliveries_is_a_422(
        client: FlaskClient, hospital: Org, login: Login):
    admin = login("admin")
    hook = add_webhook(client, login, "https://hooks.example/speakup")
    on = f"/api/v1/webhooks/{hook['id']}/deliveries"
    assert client.get(on, headers=admin).json == {"items": [], "next_cursor": None}
    for query in ("?cursor=bm90LW91cnM", "?cursor=" + "A" * 5000, "?limit=201",
                  "?limit=99999999999999999999", "?limit=-1"):
        assert_problem(client.get(on + query, headers=admin), 422)
