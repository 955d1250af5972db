"""Input no database can store, dates no calendar holds, odd transfer encodings: always a
clear 4xx, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from speakup.services import org
from tests.support import Login, Org, assert_problem, report_body

UNSTORABLE = ["nul \x00 inside", "lone surrogate \ud800"]


def raw_json(client, path: str, body: dict, headers: dict[str, str] | None = None):
    # json.dumps escapes a lone surrogate as \ud800, which is what a hostile client sends.
    return client.post(path, data=json.dumps(body), headers={
        "Content-Type": "application/json", **(headers or {})})


@pytest.mark.parametrize("text", UNSTORABLE)
def test_unstorable_text_in_a_report_is_422(client, hospital: Org, text):
    body = assert_problem(raw_json(client, "/api/v1/reports",
                                   report_body(hospital.ward, description=text)), 422)
    assert "description" in body["errors"]


@pytest.mark.parametrize("text", UNSTORABLE)
def test_unstorable_text_elsewhere_is_422(client, hospital: Org, login: Login, text):
    admin = login("admin")
    assert_problem(raw_json(client, "/api/v1/units", {"name": text, "code": "X1"}, admin), 422)
    assert_problem(raw_json(client, "/api/v1/auth/login", {"email": text, "password": "x"}), 422)
    assert_problem(raw_json(client, "/api/v1/followup", {"receipt_key": text}), 422)
    assert_problem(raw_json(client, "/api/v1/users", {
        "email": "a@example.org", "name": "A", "password": "long enough", "roles": [text]},
        admin), 422)


@pytest.mark.parametrize(("query", "field"), [
    ("created_from=0001-01-01T00:00:00%2B01:00", "created_from"),
    ("created_to=9999-12-31T23:59:59-05:00", "created_to"),
    ("unit_id=%00", "unit_id"),
])
def test_impossible_list_filters_are_422(client, hospital: Org, login: Login, query, field):
    body = assert_problem(client.get(f"/api/v1/reports?{query}", headers=login("officer")), 422)
    assert field in body["errors"]


def test_undecodable_query_bytes_match_nothing(client, hospital: Org, login: Login):
    client.post("/api/v1/reports", json=report_body(hospital.ward))
    response = client.get("/api/v1/reports?category=%ED%A0%80", headers=login("officer"))
    assert response.status_code == 200 and response.json["items"] == []


@pytest.mark.parametrize("values", [
    [{"t": "0001-01-01T00:00:00+01:00"}, "abc"],
    [{"t": "2026-01-01T00:00:00+00:00"}, "\ud800"],
    [{"t": "2026-01-01T00:00:00+00:00"}, "a\x00b"],
])
def test_cursors_with_impossible_values_are_422(client, hospital: Org, login: Login, values):
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    for path, headers in (("/api/v1/reports", login("officer")), ("/api/v1/units", {})):
        body = assert_problem(client.get(f"{path}?cursor={cursor}", headers=headers), 422)
        assert "cursor" in body["errors"]


@pytest.mark.parametrize("path", ["/api/v1/reports/%00", "/api/v1/reports/%ED%A0%80",
                                  "/api/v1/units/%00", "/api/v1/reports/" + "a" * 300])
def test_impossible_ids_in_the_path_are_404(client, hospital: Org, login: Login, path):
    assert_problem(client.get(path, headers=login("officer")), 404)


def test_chunked_bodies_are_asked_for_a_length(client, hospital: Org):
    response = client.post("/api/v1/reports", data=b"{}", headers={
        "Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    assert_problem(response, 411)


def test_a_lost_race_for_a_unique_value_is_409_not_500(
    client, hospital: Org, login: Login, monkeypatch
):
    # Two admins creating the same code at once both pass the check before either commits;
    # the database's constraint decides.  Simulate the loser by skipping the check.
    monkeypatch.setattr(org.units, "_check_code_free", lambda session, code: None)
    response = client.post("/api/v1/units", json={"name": "Twin", "code": "W7"},
                           headers=login("admin"))
    body = assert_problem(response, 409)
    assert "W7" not in body["detail"] and "UNIQUE" not in body["detail"].upper()


@pytest.mark.parametrize("path", ["/api/v1/reports", "/api/v1/followup", "/api/v1/auth/login"])
def test_deeply_nested_json_is_400(client, hospital: Org, path):
    body = "[" * 5000 + "]" * 5000
    response = client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_other_broken_constraints_are_not_passed_off_as_conflicts(
    client, hospital: Org, login: Login, monkeypatch
):
    # A bug that let a missing parent through would break a foreign key: that is ours to
    # fix, not the client's to retry.
    monkeypatch.setattr(org.units, "existing_unit", lambda session, unit_id, field: None)
    response = client.post("/api/v1/units", json={"name": "Orphan", "code": "ORPH",
                                                  "parent_id": "nosuchunit"},
                           headers=login("admin"))
    body = assert_problem(response, 500)
    assert "FOREIGN" not in body["detail"].upper()
