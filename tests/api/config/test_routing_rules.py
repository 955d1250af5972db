"""Routing rules through HTTP: the admin's CRUD, and rules routing submitted reports."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import event, insert, select

from speakup.db import Database
from speakup.models import Report, RoutingRule
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.services.org.config import raise_version
from tests.api.config.support import RULE_KEYS, rule_body, version
from tests.support import Login, Org, assert_problem, report_body

RULES = "/api/v1/routing-rules"


def create(client: FlaskClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post(RULES, json=rule_body(**overrides), headers=headers)
    assert response.status_code == 201, response.get_data(True)
    body: dict[str, Any] = response.json
    return body


def submit(client: FlaskClient, unit_id: str, headers: dict[str, str] | None = None,
           **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/reports", json=report_body(unit_id, **overrides),
                           headers=headers or {})
    assert response.status_code == 201, response.get_data(True)
    body: dict[str, Any] = response.json
    return body


def routing_of(client: FlaskClient, report_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/api/v1/reports/{report_id}", headers=headers)
    assert response.status_code == 200, response.get_data(True)
    routing: dict[str, Any] = response.json["routing"]
    return routing


def ids(routing: dict[str, Any]) -> list[str]:
    return [a["id"] for a in routing["assignees"]]


def stored(database: Database, report_id: str) -> Report:
    with database.session(write=False) as s:
        report = s.get(Report, report_id)
        assert report is not None
        return report


# --- CRUD ----------------------------------------------------------------------------------


def test_admin_creates_a_rule_in_the_contract_shape(client, hospital: Org, login: Login,
                                                    clock: SettableClock):
    admin = login("admin")
    rule = create(client, admin, match={"kind": "concern", "category": "bullying_harassment",
                                        "unit_id": hospital.medicine, "immediate_risk": False})

    assert set(rule) == RULE_KEYS
    assert rule["name"] == "Bullying to the safety officers" and rule["priority"] == 10
    assert rule["active"] is True
    assert rule["match"] == {"kind": "concern", "category": "bullying_harassment",
                             "unit_id": hospital.medicine, "immediate_risk": False}
    assert rule["route_to"] == {"role": "safety_officer"}
    assert rule["created_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert client.get(f"{RULES}/{rule['id']}", headers=admin).json == rule


def test_a_rule_leaves_out_the_conditions_it_does_not_set(client, hospital: Org,
                                                          login: Login):
    rule = create(client, login("admin"), match={"kind": "gap", "category": None})
    assert rule["match"] == {"kind": "gap"}
    catch_all = create(client, login("admin"), match={})
    assert catch_all["match"] == {}
    without = client.post(RULES, json={"name": "All", "priority": 1,
                                       "route_to": {"role": "leader"}}, headers=login("admin"))
    assert without.status_code == 201 and without.json["match"] == {}


def test_named_users_are_kept_in_the_order_given_once_each(client, hospital: Org,
                                                           login: Login):
    rule = create(client, login("admin"), route_to={"user_ids": [
        hospital.site_leader, hospital.officer, hospital.site_leader]})
    assert rule["route_to"] == {"user_ids": [hospital.site_leader, hospital.officer]}


def test_rules_are_listed_in_the_order_they_are_tried(client, hospital: Org, login: Login,
                                                      clock: SettableClock):
    admin = login("admin")
    late = create(client, admin, name="late", priority=50)
    first = create(client, admin, name="first", priority=0)
    clock.advance(seconds=1)
    tie_newer = create(client, admin, name="tie, newer", priority=20)
    clock.advance(seconds=-2)
    tie_older = create(client, admin, name="tie, older", priority=20)
    off = create(client, admin, name="off", priority=30, active=False)

    response = client.get(RULES, headers=admin)

    assert response.status_code == 200 and response.json["next_cursor"] is None
    assert [r["id"] for r in response.json["items"]] == [
        first["id"], tie_older["id"], tie_newer["id"], off["id"], late["id"]]
    assert all(set(r) == RULE_KEYS for r in response.json["items"])


def test_no_rules_is_an_empty_list(client, hospital: Org, login: Login):
    assert client.get(RULES, headers=login("admin")).json == {"items": [], "next_cursor": None}


def test_patch_changes_what_it_is_given(client, hospital: Org, login: Login):
    admin = login("admin")
    rule = create(client, admin, match={"kind": "gap", "unit_id": hospital.ward})

    response = client.patch(f"{RULES}/{rule['id']}", headers=admin, json={
        "name": "Renamed", "priority": 5, "match": {"category": "other"},
        "route_to": {"user_ids": [hospital.site_leader]}})

    assert response.status_code == 200, response.get_data(True)
    assert response.json == {**rule, "name": "Renamed", "priority": 5,
                             "match": {"category": "other"},
                             "route_to": {"user_ids": [hospital.site_leader]}}
    assert client.get(f"{RULES}/{rule['id']}", headers=admin).json == response.json
    assert client.patch(f"{RULES}/{rule['id']}", headers=admin,
                        json={"route_to": {"role": "leader"}}).json["route_to"] == {
        "role": "leader"}


def test_patch_deactivates_and_reactivates(client, hospital: Org, login: Login):
    admin = login("admin")
    rule = create(client, admin)
    off = client.patch(f"{RULES}/{rule['id']}", json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json["active"] is False
    assert client.get(RULES, headers=admin).json["items"] == [off.json]
    on = client.patch(f"{RULES}/{rule['id']}", json={"active": True}, headers=admin)
    assert on.json == {**off.json, "active": True}


def test_unknown_rules_are_404(client, hospital: Org, login: Login):
    admin = login("admin")
    assert_problem(client.get(f"{RULES}/nosuchrule", headers=admin), 404)
    assert_problem(client.patch(f"{RULES}/nosuchrule", json={"name": "x"}, headers=admin), 404)
    assert_problem(client.delete(f"{RULES}/nosuchrule", headers=admin), 405)


def test_every_change_raises_the_configuration_version_by_one(
        client, hospital: Org, login: Login, database: Database):
    admin = login("admin")
    start = version(database) or 0
    rule = create(client, admin)
    assert version(database) == start + 1
    client.patch(f"{RULES}/{rule['id']}", json={"priority": 3}, headers=admin)
    assert version(database) == start + 2
    assert_problem(client.patch(f"{RULES}/{rule['id']}", json={"priority": -1},
                                headers=admin), 422)
    assert_problem(client.post(RULES, json=rule_body(match={"unit_id": "nowhere"}),
                               headers=admin), 422)
    assert version(database) == start + 2
    client.get(RULES, headers=admin)
    assert version(database) == start + 2


# --- rules routing reports -----------------------------------------------------------------


def test_a_rule_routes_a_submitted_report_and_the_leader_sees_why(
        client, hospital: Org, login: Login, database: Database):
    create(client, login("admin"), name="Bullying to the director",
           match={"category": "bullying_harassment"},
           route_to={"user_ids": [hospital.site_leader]})

    report = submit(client, hospital.ward, login("nurse"), category="bullying_harassment")

    routing = routing_of(client, report["id"], login("site_leader"))
    assert routing == {
        "assignees": [{"id": hospital.site_leader, "name": "Dee Director"}],
        "reason": 'Routed by the routing rule "Bullying to the director" to the people it '
                  "names."}
    assert_problem(client.get(f"/api/v1/reports/{report['id']}",
                              headers=login("ward_leader")), 404)
    assert stored(database, report["id"]).escalation_unit_id == hospital.ward
    # A report the rule does not match takes the default chain.
    other = submit(client, hospital.ward, login("nurse"))
    assert ids(routing_of(client, other["id"], login("ward_leader"))) == [hospital.ward_leader]


def test_a_rule_routes_to_every_holder_of_a_role(client, hospital: Org, login: Login,
                                                 database: Database, clock: SettableClock,
                                                 passwords: Passwords):
    second = org.create_user(database, clock=clock, passwords=passwords, data=org.NewUser(
        email="s2@example.org", name="Al Assurance", password="a long password",
        roles=["safety_officer"]))
    create(client, login("admin"), match={"immediate_risk": True},
           route_to={"role": "safety_officer"})

    report = submit(client, hospital.ward, immediate_risk=True)

    routing = routing_of(client, report["id"], login("officer"))
    assert ids(routing) == [second.id, hospital.officer]
    assert routing["reason"].endswith("to every active safety officer.")


def test_a_unit_condition_matches_its_subtree_only(client, hospital: Org, login: Login,
                                                   database: Database, clock: SettableClock):
    annex = org.create_unit(database, clock=clock, name="Annex", code="ANX")
    create(client, login("admin"), match={"unit_id": hospital.medicine},
           route_to={"user_ids": [hospital.site_leader]})

    in_ward = submit(client, hospital.ward)
    in_annex = submit(client, annex.id)

    assert ids(routing_of(client, in_ward["id"], login("officer"))) == [hospital.site_leader]
    assert ids(routing_of(client, in_annex["id"], login("officer"))) == [hospital.officer]
    assert stored(database, in_annex["id"]).escalation_unit_id is None


def test_the_lower_priority_number_wins(client, hospital: Org, login: Login):
    admin = login("admin")
    create(client, admin, name="officers", priority=20, match={}, route_to={
        "role": "safety_officer"})
    create(client, admin, name="director", priority=10, match={}, route_to={
        "user_ids": [hospital.site_leader]})

    report = submit(client, hospital.ward)

    assert ids(routing_of(client, report["id"], login("officer"))) == [hospital.site_leader]


def test_a_deactivated_rule_stops_routing_new_reports_only(client, hospital: Org,
                                                           login: Login):
    admin = login("admin")
    rule = create(client, admin, match={}, route_to={"user_ids": [hospital.site_leader]})
    before = submit(client, hospital.ward)
    client.patch(f"{RULES}/{rule['id']}", json={"active": False}, headers=admin)

    after = submit(client, hospital.ward)

    assert ids(routing_of(client, before["id"], login("officer"))) == [hospital.site_leader]
    assert ids(routing_of(client, after["id"], login("officer"))) == [hospital.ward_leader]


def test_a_rule_never_routes_to_the_reporter_nor_to_leaders_passed_over(
        client, hospital: Org, login: Login):
    create(client, login("admin"), match={},
           route_to={"user_ids": [hospital.ward_leader, hospital.site_leader]})

    own = submit(client, hospital.ward, login("ward_leader"))
    about_leader = submit(client, hospital.ward, involves_leader=True)

    assert ids(routing_of(client, own["id"], login("officer"))) == [hospital.site_leader]
    routing = routing_of(client, about_leader["id"], login("officer"))
    assert ids(routing) == [hospital.site_leader]
    assert routing["reason"].startswith(
        "The report concerns a leader, so the leaders of Ward 7 were passed over.")


def test_a_rule_whose_people_are_gone_falls_through_and_says_so(
        client, hospital: Org, login: Login, database: Database, clock: SettableClock,
        passwords: Passwords):
    create(client, login("admin"), name="Director", match={},
           route_to={"user_ids": [hospital.site_leader]})
    org.update_user(database, hospital.site_leader, clock=clock, passwords=passwords,
                    active=False)

    report = submit(client, hospital.ward)

    routing = routing_of(client, report["id"], login("ward_leader"))
    assert ids(routing) == [hospital.ward_leader]
    assert routing["reason"] == (
        'The routing rule "Director" matched, but none of the people it routes to can take '
        "this report. Routed to the leaders of Ward 7, the unit of the report.")


def test_the_decision_is_in_the_timeline_too(client, hospital: Org, login: Login):
    create(client, login("admin"), match={}, route_to={"user_ids": [hospital.site_leader]})
    report = submit(client, hospital.ward)
    timeline = client.get(f"/api/v1/reports/{report['id']}",
                          headers=login("site_leader")).json["timeline"]
    routed = next(e for e in timeline if e["type"] == "routed")
    assert [a["id"] for a in routed["assignees"]] == [hospital.site_leader]
    assert routed["reason"].startswith('Routed by the routing rule "Bullying')


# --- the process copy ----------------------------------------------------------------------


def _rule_row(hospital: Org, clock: SettableClock) -> dict[str, Any]:
    return {"id": "directrule", "name": "Written elsewhere", "priority": 1, "active": True,
            "route_user_ids": [hospital.site_leader], "created_at": clock.now()}


def test_submissions_follow_the_version_not_the_rows(
        client, hospital: Org, login: Login, database: Database, clock: SettableClock):
    """The copy in process memory is used while the version stands, and read again as soon
    as any machine raises it."""
    first = submit(client, hospital.ward)
    with database.write() as session:  # a rule row without a new version: not seen
        session.connection().execute(insert(RoutingRule.__table__), [_rule_row(hospital,
                                                                               clock)])
    unseen = submit(client, hospital.ward)
    with database.write() as session:  # what another API machine's change does
        raise_version(session)
    seen = submit(client, hospital.ward)

    officer = login("officer")
    assert ids(routing_of(client, first["id"], officer)) == [hospital.ward_leader]
    assert ids(routing_of(client, unseen["id"], officer)) == [hospital.ward_leader]
    assert ids(routing_of(client, seen["id"], officer)) == [hospital.site_leader]


def test_the_configuration_is_read_once_per_change(
        client, hospital: Org, login: Login, database: Database):
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def reads_of_config() -> int:
        return sum("FROM routing_rules" in s or "FROM sla_policy" in s for s in statements)

    create(client, login("admin"))
    event.listen(database.engine, "before_cursor_execute", on_execute)
    try:
        submit(client, hospital.ward)
        after_change = reads_of_config()
        submit(client, hospital.ward)
        submit(client, hospital.ward, anonymous=True)
        unchanged = reads_of_config() - after_change
    finally:
        event.remove(database.engine, "before_cursor_execute", on_execute)
    assert after_change == 2 and unchanged == 0


def test_escalation_starts_from_the_unit_whose_leaders_got_the_report(
        client, hospital: Org, database: Database):
    in_ward = submit(client, hospital.ward)
    in_medicine = submit(client, hospital.medicine)
    assert stored(database, in_ward["id"]).escalation_unit_id == hospital.ward
    assert stored(database, in_medicine["id"]).escalation_unit_id == hospital.site
    with database.session(write=False) as s:
        levels = set(s.scalars(select(Report.escalation_level)))
    assert levels == {0}
