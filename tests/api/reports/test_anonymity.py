"""Anonymous means anonymous: nothing that identifies the person or their request is stored
or logged, even when the reporter sent a valid token."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from flask_jwt_extended import decode_token
from sqlalchemy import select

from speakup.db import Base, Database
from speakup.models import RevokedToken
from tests.support import PASSWORD, Login, Org, report_body

ADDRESS = "203.0.113.77"
USER_AGENT = "NightShiftPhone/9.9 (ward-7-tablet; Lumen-X)"


def dump(database: Database) -> dict[str, set[str]]:
    """Every row of every table, as text, per table."""
    rows: dict[str, set[str]] = {}
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            result = connection.execute(select(table))
            rows[table.name] = {
                json.dumps([str(v) for v in row], sort_keys=True) for row in result
            }
    return rows


@pytest.fixture()
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, SQL statements included
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    yield caplog
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def test_anonymous_report_leaves_no_trace_of_its_reporter(
    app, client, hospital: Org, login: Login, database: Database, everything_logged
):
    headers = login("nurse")
    token = headers["Authorization"].removeprefix("Bearer ")
    with app.app_context():
        jti = decode_token(token)["jti"]
    before = dump(database)
    everything_logged.clear()

    response = client.post(
        "/api/v1/reports",
        json=report_body(hospital.ward, anonymous=True),
        headers={**headers, "X-Forwarded-For": ADDRESS, "X-Real-IP": ADDRESS,
                 "User-Agent": USER_AGENT},
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    assert response.status_code == 201
    report_id = response.json["id"]

    after = dump(database)
    added = {table: after[table] - before[table] for table in after}
    assert any(report_id in row for row in added["reports"])
    secrets = [hospital.nurse, hospital.emails["nurse"], jti, ADDRESS, USER_AGENT]
    for table, rows in added.items():
        for row in rows:
            for secret in secrets:
                assert secret not in row, f"{secret!r} stored in {table}: {row}"
    # Address, user agent and token id are nowhere at all, not only in new rows.
    whole = "\n".join(row for rows in after.values() for row in rows)
    for secret in (jti, ADDRESS, USER_AGENT):
        assert secret not in whole

    log_text = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r}" for r in everything_logged.records
    )
    assert everything_logged.records, "the log capture saw nothing; the check would be void"
    for secret in secrets:
        assert secret not in log_text, f"{secret!r} logged"

    listed = client.get("/api/v1/reports", headers=headers).json["items"]
    assert report_id not in [item["id"] for item in listed]
    assert client.get(f"/api/v1/reports/{report_id}", headers=headers).status_code == 404

    view = client.get(f"/api/v1/reports/{report_id}", headers=login("ward_leader")).json
    assert "reporter" not in view and "reporter_id" not in view
    assert view["timeline"][0]["type"] == "submitted" and view["timeline"][0]["actor"] is None
    assert hospital.nurse not in json.dumps(view)
    assert "Nora" not in json.dumps(view)


def test_anonymous_report_with_a_token_is_invisible_in_the_reporters_session_data(
    client, hospital: Org, login: Login, database: Database
):
    headers = login("nurse")
    before = dump(database)
    client.post("/api/v1/reports", json=report_body(hospital.ward, anonymous=True),
                headers=headers)
    after = dump(database)
    # Not even a "last used" time moves on the reporter's account or session.
    for table in ("users", "revoked_tokens"):
        assert after[table] == before[table]


def test_signing_in_stores_nothing_at_all(client, hospital: Org, database: Database):
    """A sign-in time beside an anonymous report's time would point at its reporter (the
    porter who signed in three seconds before the report): no table keeps one."""
    before = dump(database)

    response = client.post("/api/v1/auth/login",
                           json={"email": hospital.emails["nurse"], "password": PASSWORD})
    assert response.status_code == 200
    bearer = {"Authorization": f"Bearer {response.json['access_token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200

    assert dump(database) == before


def test_ending_a_session_stores_only_a_token_id_and_a_whole_hour(
    app, client, hospital: Org, database: Database, clock
):
    clock.advance(minutes=17, seconds=23, microseconds=456789)
    tokens = client.post("/api/v1/auth/login", json={"email": hospital.emails["nurse"],
                                                     "password": PASSWORD}).json
    refreshed = client.post("/api/v1/auth/refresh",
                            headers={"Authorization": f"Bearer {tokens['refresh_token']}"}).json
    logout = client.post("/api/v1/auth/logout",
                         headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert logout.status_code == 204

    with app.app_context():
        first = decode_token(tokens["refresh_token"])
    with database.session(write=False) as s:
        rows = s.scalars(select(RevokedToken)).all()
    assert {row.id for row in rows} == {first["sid"], first["jti"]}
    for row in rows:
        assert row.expires_at.minute == row.expires_at.second == 0
        assert row.expires_at.microsecond == 0
        assert row.expires_at >= clock.now() + timedelta(days=14)
    denied = "\n".join(dump(database)["revoked_tokens"])
    assert hospital.nurse not in denied and hospital.emails["nurse"] not in denied
    # The moment of sign-in, refresh and sign-out (all the same here) is in no table.
    everything = "\n".join(r for rows in dump(database).values() for r in rows)
    assert clock.now().strftime("%H:%M:%S") not in everything


def test_an_anonymous_reporter_following_up_leaves_no_trace_either(
    app, client, hospital: Org, login: Login, database: Database, everything_logged
):
    """Replying, reading the answer, giving feedback and reopening through the follow-up
    token store and log nothing of the person or their request: no user id in the audit log
    or the timeline, no address, no user agent, no token id."""
    nurse = login("nurse")  # the reporter has an account, and sends its token along
    created = client.post("/api/v1/reports", json=report_body(hospital.ward, anonymous=True),
                          headers=nurse).json
    leader = login("ward_leader")
    client.post(f"/api/v1/reports/{created['id']}/acknowledge", json={"message": "Seen."},
                headers=leader)
    request = {"headers": {"X-Forwarded-For": ADDRESS, "User-Agent": USER_AGENT},
               "environ_base": {"REMOTE_ADDR": ADDRESS}}
    followup = client.post("/api/v1/followup", json={"receipt_key": created["receipt_key"]},
                           **request).json
    token = followup["access_token"]
    with app.app_context():
        ids = [decode_token(token)["jti"], decode_token(token)["sid"]]
    as_reporter = {"Authorization": f"Bearer {token}", **request["headers"]}
    before = dump(database)
    everything_logged.clear()

    on = f"/api/v1/reports/{created['id']}"
    steps = [
        client.post(f"{on}/messages", json={"body": "Nights, mostly."}, headers=as_reporter,
                    environ_base=request["environ_base"]),
        client.get(on, headers=as_reporter, environ_base=request["environ_base"]),
    ]
    client.post(f"{on}/close", json={"outcome": "actioned", "response": "Fixed."},
                headers=leader)
    steps += [
        client.post(f"{on}/feedback", json={"loop_closed": "yes",
                                            "would_speak_up_again": "yes"},
                    headers=as_reporter, environ_base=request["environ_base"]),
        client.post(f"{on}/reopen", json={"reason": "It came back."}, headers=as_reporter,
                    environ_base=request["environ_base"]),
    ]
    assert [s.status_code for s in steps] == [201, 200, 201, 200]

    after = dump(database)
    added = {table: after[table] - before[table] for table in after}
    assert added["audit_log"] and added["messages"] and added["report_feedback"]
    secrets = [hospital.nurse, hospital.emails["nurse"], *ids, ADDRESS, USER_AGENT]
    for table, rows in added.items():
        for row in rows:
            for secret in secrets:
                assert secret not in row, f"{secret!r} stored in {table}: {row}"
    log_text = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r}" for r in everything_logged.records)
    assert everything_logged.records
    for secret in secrets:
        assert secret not in log_text, f"{secret!r} logged"
    audit = client.get(f"/api/v1/audit?report_id={created['id']}&limit=200",
                       headers=login("officer")).json["items"]
    mine = [e for e in audit if e["action"] in ("feedback", "reopened")
            or (e["action"] == "message" and e["actor"] is None)]
    assert len(mine) == 3 and all(e["actor"] is None for e in mine)
