"""Anonymous follow-up: a receipt key buys a short token for that one report, nothing more."""

from __future__ import annotations

from flask import Flask
from flask_jwt_extended import decode_token

from tests.support import Login, Org, assert_problem, report_body


def anonymous_report(client, hospital: Org) -> dict:
    response = client.post("/api/v1/reports", json=report_body(hospital.ward))
    assert response.status_code == 201
    return response.json


def followup_headers(client, receipt_key: str) -> dict[str, str]:
    response = client.post("/api/v1/followup", json={"receipt_key": receipt_key})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def test_receipt_key_buys_a_token_that_reads_the_report_as_its_reporter(
    app: Flask, client, hospital: Org
):
    report = anonymous_report(client, hospital)
    response = client.post("/api/v1/followup", json={"receipt_key": report["receipt_key"]})
    assert response.status_code == 200
    body = response.json
    assert body["report_id"] == report["id"] and body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 3600
    with app.app_context():
        claims = decode_token(body["access_token"])
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    view = client.get(f"/api/v1/reports/{report['id']}",
                      headers={"Authorization": f"Bearer {body['access_token']}"})
    assert view.status_code == 200
    assert view.json["reference"] == report["reference"]
    for hidden in ("routing", "timeline", "reporter", "receipt_key"):
        assert hidden not in view.json


def test_followup_token_opens_no_other_report(client, hospital: Org):
    mine = anonymous_report(client, hospital)
    other = anonymous_report(client, hospital)
    headers = followup_headers(client, mine["receipt_key"])
    assert_problem(client.get(f"/api/v1/reports/{other['id']}", headers=headers), 404)


def test_followup_token_is_no_user_token(client, hospital: Org):
    headers = followup_headers(client, anonymous_report(client, hospital)["receipt_key"])
    assert_problem(client.get("/api/v1/me", headers=headers), 403)
    assert_problem(client.get("/api/v1/reports", headers=headers), 403)
    assert_problem(client.get("/api/v1/users", headers=headers), 403)


def test_the_key_keeps_working(client, hospital: Org):
    report = anonymous_report(client, hospital)
    first = followup_headers(client, report["receipt_key"])
    second = followup_headers(client, report["receipt_key"])
    assert client.get(f"/api/v1/reports/{report['id']}", headers=first).status_code == 200
    assert client.get(f"/api/v1/reports/{report['id']}", headers=second).status_code == 200


def test_every_wrong_key_gets_the_same_401(client, hospital: Org):
    anonymous_report(client, hospital)
    bodies = []
    for bad in ("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789", "not a key at all", "1"):
        response = client.post("/api/v1/followup", json={"receipt_key": bad})
        bodies.append(assert_problem(response, 401))
    assert bodies[0] == bodies[1] == bodies[2]


def test_named_report_has_no_receipt_key_to_follow_up_with(client, hospital: Org, login: Login):
    report = client.post("/api/v1/reports", json=report_body(hospital.ward),
                         headers=login("nurse")).json
    assert "receipt_key" not in report


def test_followup_input_is_validated(client, hospital: Org):
    assert_problem(client.post("/api/v1/followup", json={}), 422)
    assert_problem(client.post("/api/v1/followup", json={"receipt_key": 5}), 422)
    assert_problem(client.post("/api/v1/followup", json={"receipt_key": "k", "x": 1}), 422)
    assert_problem(client.post("/api/v1/followup", data="k",
                               headers={"Content-Type": "text/plain"}), 415)


def test_logging_out_with_a_followup_token_ends_that_token(app: Flask, client, hospital: Org):
    report = anonymous_report(client, hospital)
    ended = followup_headers(client, report["receipt_key"])
    other = followup_headers(client, report["receipt_key"])
    path = f"/api/v1/reports/{report['id']}"
    assert client.get(path, headers=ended).status_code == 200

    logout = client.post("/api/v1/auth/logout", headers=ended)

    assert logout.status_code == 204
    body = assert_problem(client.get(path, headers=ended), 401)
    assert body["detail"] == "This session has ended; sign in again."
    assert_problem(client.post("/api/v1/auth/logout", headers=ended), 401)
    # Each follow-up token is a session of its own; the key still buys new ones.
    assert client.get(path, headers=other).status_code == 200
    assert client.get(path, headers=followup_headers(client, report["receipt_key"])
                      ).status_code == 200


def test_followup_tokens_carry_a_session_id_of_their_own_and_no_identity(
    app: Flask, client, hospital: Org
):
    report = anonymous_report(client, hospital)
    tokens = [client.post("/api/v1/followup", json={"receipt_key": report["receipt_key"]})
              .json["access_token"] for _ in range(2)]

    with app.app_context():
        first, second = (decode_token(t) for t in tokens)
    assert first["sid"] != second["sid"]
    assert first["scope"] == "followup" and first["rid"] == report["id"]
    assert first["sub"] == second["sub"] == "anonymous-reporter"
    assert "ep" not in first
