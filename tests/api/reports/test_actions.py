"""Improvement actions: linked reports hear every update, anonymous reporters included."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from speakup.services.core.clock import SettableClock
from tests.support import Login, Org, assert_problem, report_body


def anonymous_report(client: FlaskClient, hospital: Org) -> tuple[str, str]:
    created = client.post("/api/v1/reports", json=report_body(hospital.ward))
    assert created.status_code == 201
    return created.json["id"], created.json["receipt_key"]


def as_reporter(client: FlaskClient, receipt_key: str) -> dict[str, str]:
    token = client.post("/api/v1/followup", json={"receipt_key": receipt_key}).json
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_every_update_reaches_every_linked_reporter(client: FlaskClient, hospital: Org,
                                                    login: Login, clock: SettableClock):
    nurse, leader = login("nurse"), login("ward_leader")
    named = client.post("/api/v1/reports", json=report_body(hospital.ward),
                        headers=nurse).json["id"]
    anonymous = [anonymous_report(client, hospital) for _ in range(2)]
    created = client.post("/api/v1/actions", headers=leader, json={
        "title": "Alarm volume checked at hand-over",
        "description": "Every hand-over checks the infusion-pump alarm volume.",
        "unit_id": hospital.ward, "report_ids": [named, anonymous[0][0]]})
    assert created.status_code == 201, created.json
    action = created.json
    assert action["status"] == "planned" and action["updates"] == []
    assert set(action["report_ids"]) == {named, anonymous[0][0]}

    # Linked later.
    clock.advance(timedelta(minutes=1))
    linked = client.post(f"/api/v1/actions/{action['id']}/reports", headers=leader,
                         json={"report_ids": [anonymous[1][0], named]})
    assert linked.status_code == 200, linked.json
    assert len(linked.json["report_ids"]) == 3

    clock.advance(timedelta(days=2))
    updated = client.patch(f"/api/v1/actions/{action['id']}", headers=leader,
                           json={"status": "done", "update": "Checked at every hand-over now."})
    assert updated.status_code == 200, updated.json
    assert updated.json["status"] == "done"
    assert [(u["body"], u["status"]) for u in updated.json["updates"]] == [
        ("Checked at every hand-over now.", "done")]

    for report_id, headers in [(named, login("nurse"))] + [
            (rid, as_reporter(client, key)) for rid, key in anonymous]:
        seen = client.get(f"/api/v1/reports/{report_id}", headers=headers).json
        bodies = [m["body"] for m in seen["messages"]]
        assert bodies[-1] == "Checked at every hand-over now.", bodies
        assert any("Alarm volume checked at hand-over" in b for b in bodies)
        assert seen["status"] == "in_progress"
    view = client.get(f"/api/v1/reports/{named}", headers=leader).json
    updates = [e for e in view["timeline"] if e["type"] == "action_update"]
    assert [e["status"] for e in updates] == ["planned", "done"]
    assert {e["action_id"] for e in updates} == {action["id"]}


def test_actions_list_filters_and_who_may_change_them(client: FlaskClient, hospital: Org,
                                                      login: Login, clock: SettableClock):
    leader, site, officer = login("ward_leader"), login("site_leader"), login("officer")
    report_id, _ = anonymous_report(client, hospital)
    first = client.post("/api/v1/actions", headers=leader, json={
        "title": "One", "description": "d", "unit_id": hospital.ward,
        "report_ids": [report_id]}).json
    clock.advance(timedelta(seconds=1))
    second = client.post("/api/v1/actions", headers=officer, json={
        "title": "Two", "description": "d", "unit_id": hospital.site}).json

    listed = client.get("/api/v1/actions", headers=officer).json
    assert [a["id"] for a in listed["items"]] == [second["id"], first["id"]]
    by_report = client.get(f"/api/v1/actions?report_id={report_id}", headers=officer).json
    assert [a["id"] for a in by_report["items"]] == [first["id"]]
    by_unit = client.get(f"/api/v1/actions?unit_id={hospital.medicine}", headers=officer).json
    assert [a["id"] for a in by_unit["items"]] == [first["id"]]
    assert client.get("/api/v1/actions?status=done", headers=officer).json["items"] == []
    # A leader who cannot see the linked report does not learn that it exists.
    seen_by_site = client.get(f"/api/v1/actions/{first['id']}", headers=site).json
    assert seen_by_site["report_ids"] == []

    # Only the creator and safety officers change an action; admins and staff never.
    assert_problem(client.patch(f"/api/v1/actions/{first['id']}", headers=site,
                                json={"update": "mine now"}), 403)
    assert client.patch(f"/api/v1/actions/{first['id']}", headers=officer,
                        json={"update": "Reviewed."}).status_code == 200
    assert_problem(client.patch(f"/api/v1/actions/{first['id']}", headers=login("admin"),
                                json={"update": "x"}), 403)
    assert_problem(client.get("/api/v1/actions", headers=login("nurse")), 403)
    assert_problem(client.patch("/api/v1/actions/nope", headers=officer,
                                json={"update": "x"}), 404)
    assert_problem(client.get("/api/v1/actions/nope", headers=officer), 404)


def test_only_reports_you_work_on_can_be_linked(client: FlaskClient, hospital: Org,
                                                login: Login):
    site = login("site_leader")
    report_id, _ = anonymous_report(client, hospital)  # routed to the ward's leader
    for ids in ([report_id], ["no-such-report"]):
        refused = client.post("/api/v1/actions", headers=site, json={
            "title": "t", "description": "d", "unit_id": hospital.site, "report_ids": ids})
        assert "report_ids" in assert_problem(refused, 422)["errors"]
    assert client.get("/api/v1/actions", headers=site).json["items"] == []  # nothing made
    for body in ({"title": " ", "description": "d", "unit_id": hospital.site},
                 {"title": "t", "description": "d", "unit_id": "nope"},
                 {"title": "t", "description": "d", "unit_id": hospital.site,
                  "report_ids": "abc"},
                 {"title": "t", "description": "d", "unit_id": hospital.site,
                  "report_ids": ["x"] * 501}):
        assert_problem(client.post("/api/v1/actions", headers=site, json=body), 422)


def test_hostile_list_parameters_are_clean_422s(client: FlaskClient, hospital: Org,
                                                login: Login):
    officer = login("officer")
    for query in ("cursor=forged", "cursor=" + "A" * 501, "cursor=", "limit=201",
                  "limit=99999999999999999999", "limit=-1", "status=closed", "unit_id=" + "x" * 65,
                  "report_id=" + "x" * 65):
        assert_problem(client.get(f"/api/v1/actions?{query}", headers=officer), 422)
    # A cursor of another list (the reports list) is not one of this list's.
    for i in range(3):
        client.post("/api/v1/reports", json=report_body(hospital.ward, description=f"r{i}"))
    cursor = client.get("/api/v1/reports?limit=1", headers=officer).json["next_cursor"]
    assert cursor
    assert_problem(client.get(f"/api/v1/actions?cursor={cursor}", headers=officer), 422)
    assert_problem(client.get(f"/api/v1/audit?cursor={cursor}", headers=officer), 422)
    for query in ("from=yesterday", "to=2026-13-01T00:00:00Z", "action=shredded",
                  "limit=0"):
        assert_problem(client.get(f"/api/v1/audit?{query}", headers=officer), 422)
