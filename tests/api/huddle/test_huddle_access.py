"""Who sees a unit's huddle: the leaders of the unit and of the units above it, and safety
officers.  Units are not secret, so an unknown unit is 404 for everyone and a known one is
403 for everyone else; hostile ids are a clean 404."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from speakup.db import Database
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from tests.api.huddle.conftest import Huddle, Ward
from tests.support import Login, Org, assert_problem


def _unit(name: str, hospital: Org, ward8: Ward) -> str:
    return {"site": hospital.site, "medicine": hospital.medicine, "ward": hospital.ward,
            "ward8": ward8.id}[name]


@pytest.mark.parametrize(("who", "unit", "status"), [
    ("ward_leader", "ward", 200),  # the unit's own leader
    ("dept_leader", "ward", 200),  # the leader of the department above it
    ("site_leader", "ward", 200),  # the leader of the site at the top
    ("dept_leader", "medicine", 200),
    ("site_leader", "medicine", 200),
    ("officer", "ward", 200),
    ("officer", "site", 200),
    ("w8_leader", "ward", 403),  # a sibling ward's leader
    ("ward_leader", "ward8", 403),
    ("ward_leader", "medicine", 403),  # nobody sees the huddle of a unit above their own
    ("dept_leader", "site", 403),
    ("nurse", "ward", 403),  # staff of the ward
    ("admin", "ward", 403),  # administration is not oversight
])
def test_who_sees_the_huddle(huddle: Huddle, hospital: Org, ward8: Ward, who: str, unit: str,
                             status: int):
    response = huddle(_unit(unit, hospital, ward8), as_=who)
    if status == 200:
        assert response.status_code == 200, response.json
        assert response.json["unit_id"] == _unit(unit, hospital, ward8)
    else:
        assert_problem(response, status)


def test_a_leader_who_lost_the_leader_role_sees_it_no_more(
        database: Database, clock: SettableClock, passwords: Passwords, huddle: Huddle,
        hospital: Org):
    assert huddle(hospital.ward, as_="ward_leader").status_code == 200
    org.update_user(database, hospital.ward_leader, clock=clock, passwords=passwords,
                    roles=["staff"])
    assert_problem(huddle(hospital.ward, as_="ward_leader"), 403)


def test_a_leader_taken_off_the_unit_sees_it_no_more(database: Database, huddle: Huddle,
                                                      hospital: Org, ward8: Ward):
    assert huddle(hospital.ward, as_="dept_leader").status_code == 200
    org.remove_leader(database, unit_id=hospital.medicine, user_id=ward8.dept_leader)
    assert_problem(huddle(hospital.ward, as_="dept_leader"), 403)


def test_without_a_token_401_and_with_a_follow_up_token_403(
        client: FlaskClient, hospital: Org):
    path = f"/api/v1/units/{hospital.ward}/huddle"
    assert_problem(client.get(path), 401)
    assert_problem(client.get(path, headers={"Authorization": "Bearer not-a-token"}), 401)
    created = client.post("/api/v1/reports", json={
        "kind": "concern", "category": "patient_safety", "unit_id": hospital.ward,
        "description": "Alarms."})
    token = client.post("/api/v1/followup",
                        json={"receipt_key": created.json["receipt_key"]}).json
    assert_problem(client.get(path, headers={
        "Authorization": f"Bearer {token['access_token']}"}), 403)


def test_unknown_and_inactive_units_are_404(database: Database, huddle: Huddle, ward8: Ward,
                                            hospital: Org):
    assert_problem(huddle("no-such-unit"), 404)
    assert_problem(huddle("no-such-unit", as_="ward_leader"), 404)
    org.update_unit(database, ward8.id, active=False)
    assert_problem(huddle(ward8.id), 404)
    assert_problem(huddle(ward8.id, as_="w8_leader"), 404)


@pytest.mark.parametrize("unit_id", [
    "x" * 65, "x" * 5000, "%00", "a%00b", "%ff%fe", "%E2%80%8B", "%20", "%0A", "..",
    "' OR '1'='1", "%27%3B%20DROP%20TABLE%20units%3B--", "%F0%9F%98%80", "ü" * 40,
    "%C0%AF", "%5C", "*", "%25",
])
def test_hostile_unit_ids_are_a_clean_404(client: FlaskClient, login: Login, unit_id: str):
    response = client.get(f"/api/v1/units/{unit_id}/huddle", headers=login("officer"))
    assert_problem(response, 404)
