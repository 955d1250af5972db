"""Routing rules and the SLA policy: who may call them, and careless or hostile bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from speakup.db import Database
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from tests.api.config.support import DEFAULT_POLICY, policy_body, rule_body, version
from tests.api.org.support import call
from tests.support import Login, Org, assert_problem

ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/routing-rules", None),
    ("POST", "/api/v1/routing-rules", rule_body()),
    ("GET", "/api/v1/routing-rules/{rule}", None),
    ("PATCH", "/api/v1/routing-rules/{rule}", {"name": "Renamed"}),
    ("GET", "/api/v1/sla-policy", None),
    ("PUT", "/api/v1/sla-policy", policy_body()),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ENDPOINTS]


@pytest.fixture()
def rule_id(client: FlaskClient, hospital: Org, login: Login) -> str:
    response = client.post("/api/v1/routing-rules", json=rule_body(), headers=login("admin"))
    assert response.status_code == 201
    rule: str = response.json["id"]
    return rule


def at_rule(path: str, rule_id: str) -> str:
    return path.replace("{rule}", rule_id)


# --- who may call --------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_without_a_token_it_is_401(client, hospital: Org, rule_id: str, method, path, body):
    response = call(client, hospital, method, at_rule(path, rule_id), body)
    assert "msg" not in assert_problem(response, 401)


@pytest.mark.parametrize("role", ["nurse", "ward_leader", "site_leader", "officer"])
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_other_roles_get_403(client, hospital: Org, login: Login, rule_id: str, role, method,
                             path, body):
    response = call(client, hospital, method, at_rule(path, rule_id), body,
                    headers=login(role))
    assert_problem(response, 403)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_admins_may(client, hospital: Org, login: Login, rule_id: str, method, path, body):
    response = call(client, hospital, method, at_rule(path, rule_id), body,
                    headers=login("admin"))
    assert response.status_code in {200, 201}, response.get_data(True)


def test_refused_writes_change_nothing(client, hospital: Org, login: Login,
                                       database: Database):
    before = version(database)
    client.post("/api/v1/routing-rules", json=rule_body(), headers=login("officer"))
    client.put("/api/v1/sla-policy", json=policy_body(concern={"ack_hours": 1,
                                                               "close_hours": 2}))
    assert version(database) == before
    assert client.get("/api/v1/routing-rules", headers=login("admin")).json["items"] == []
    assert client.get("/api/v1/sla-policy", headers=login("admin")).json == DEFAULT_POLICY


# --- routing rule bodies -------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": None}, "name"),
    ({"name": 7}, "name"),
    ({"priority": -1}, "priority"),
    ({"priority": 1_000_001}, "priority"),
    ({"priority": 10**40}, "priority"),
    ({"priority": "10"}, "priority"),
    ({"priority": 10.5}, "priority"),
    ({"priority": 10.0}, "priority"),
    ({"priority": True}, "priority"),
    ({"active": "false"}, "active"),
    ({"match": "everything"}, "match"),
    ({"match": None}, "match"),
    ({"match": {"kind": "complaint"}}, "match.kind"),
    ({"match": {"immediate_risk": "yes"}}, "match.immediate_risk"),
    ({"match": {"immediate_risk": 1}}, "match.immediate_risk"),
    ({"match": {"category": 5}}, "match.category"),
    ({"match": {"unit_id": "x" * 65}}, "match.unit_id"),
    ({"match": {"colour": "red"}}, "match.colour"),
    ({"route_to": None}, "route_to"),
    ({"route_to": {}}, "route_to"),
    ({"route_to": {"role": "leader", "user_ids": ["x"]}}, "route_to"),
    ({"route_to": {"role": "wizard"}}, "route_to.role"),
    ({"route_to": {"role": "staff"}}, "route_to.role"),
    ({"route_to": {"role": "admin"}}, "route_to.role"),
    ({"route_to": {"user_ids": []}}, "route_to.user_ids"),
    ({"route_to": {"user_ids": "someone"}}, "route_to.user_ids"),
    ({"route_to": {"user_ids": [7]}}, "route_to.user_ids"),
    ({"route_to": {"user_ids": [f"u{i}" for i in range(51)]}}, "route_to.user_ids"),
    ({"route_to": {"user_ids": ["nosuchuser"]}}, "route_to.user_ids"),
    ({"route_to": {"role": "leader", "team": "x"}}, "route_to.team"),
    ({"id": "mine"}, "id"),
    ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
])
def test_invalid_rule_fields_are_422_under_their_path(client, hospital: Org, login: Login,
                                                      database: Database, overrides, field):
    body = rule_body(**overrides)
    response = client.post("/api/v1/routing-rules", json=body, headers=login("admin"))
    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem
    assert version(database) is None


@pytest.mark.parametrize("missing", ["name", "priority", "route_to"])
def test_a_rule_needs_a_name_a_priority_and_a_target(client, hospital: Org, login: Login,
                                                     missing):
    body = {k: v for k, v in rule_body().items() if k != missing}
    problem = assert_problem(client.post("/api/v1/routing-rules", json=body,
                                         headers=login("admin")), 422)
    assert missing in problem["errors"]


@pytest.mark.parametrize(("match", "field"), [
    ({"category": "no_such_category"}, "match.category"),
    ({"unit_id": "nosuchunit"}, "match.unit_id"),
])
def test_conditions_must_name_what_exists(client, hospital: Org, login: Login, match, field):
    problem = assert_problem(client.post("/api/v1/routing-rules", json=rule_body(match=match),
                                         headers=login("admin")), 422)
    assert list(problem["errors"]) == [field]


def test_deactivated_categories_and_units_cannot_be_matched(
        client, hospital: Org, login: Login, database: Database, clock: SettableClock):
    admin = login("admin")
    annex = org.create_unit(database, clock=clock, name="Annex", code="ANX")
    org.update_unit(database, annex.id, active=False)
    org.update_category(database, "other", active=False)
    problem = assert_problem(client.post("/api/v1/routing-rules", headers=admin, json=rule_body(
        match={"unit_id": annex.id, "category": "other"})), 422)
    assert set(problem["errors"]) == {"match.unit_id", "match.category"}


def test_named_users_must_be_active_and_able_to_act(
        client, hospital: Org, login: Login, database: Database, clock: SettableClock,
        passwords: Passwords):
    admin = login("admin")
    org.update_user(database, hospital.site_leader, clock=clock, passwords=passwords,
                    active=False)
    for who in (hospital.site_leader, hospital.nurse, hospital.admin, "nosuchuser"):
        problem = assert_problem(client.post("/api/v1/routing-rules", headers=admin,
                                             json=rule_body(route_to={"user_ids": [
                                                 hospital.ward_leader, who]})), 422)
        assert problem["errors"] == {"route_to.user_ids": [
            "Not active users who can act on reports (leaders or safety officers): "
            f"{who}."]}


def test_a_patch_is_checked_like_a_create(client, hospital: Org, login: Login, rule_id: str):
    admin = login("admin")
    path = f"/api/v1/routing-rules/{rule_id}"
    for body, field in (({"route_to": {"user_ids": ["nosuchuser"]}}, "route_to.user_ids"),
                        ({"match": {"unit_id": "nosuchunit"}}, "match.unit_id"),
                        ({"priority": 2_000_000}, "priority"), ({"name": ""}, "name"),
                        ({"active": None}, "active"), ({"id": "other"}, "id")):
        assert field in assert_problem(client.patch(path, json=body, headers=admin),
                                       422)["errors"]
    assert client.get(path, headers=admin).json["route_to"] == {"role": "safety_officer"}


def test_the_edges_of_priority_are_allowed(client, hospital: Org, login: Login):
    for priority in (0, 1_000_000):
        response = client.post("/api/v1/routing-rules", json=rule_body(priority=priority),
                               headers=login("admin"))
        assert response.status_code == 201 and response.json["priority"] == priority


@pytest.mark.parametrize("text", ["nul \x00 inside", "lone surrogate \ud800"])
def test_unstorable_text_is_422(client, hospital: Org, login: Login, text):
    for body, field in ((rule_body(name=text), "name"),
                        (rule_body(match={"category": text}), "match.category"),
                        (rule_body(route_to={"user_ids": [text]}), "route_to.user_ids")):
        response = client.post("/api/v1/routing-rules", data=json.dumps(body),
                               headers={"Content-Type": "application/json", **login("admin")})
        assert field in assert_problem(response, 422)["errors"]


@pytest.mark.parametrize("raw", [
    '{"name": "a", "name": "b", "priority": 1, "route_to": {"role": "leader"}}',
    '{"name": "a", "priority": 1, "route_to": {"role": "leader", "role": "safety_officer"}}',
    '{"name": "a", "priority": 1e999, "route_to": {"role": "leader"}}',
    '{"name": "a", "priority": NaN, "route_to": {"role": "leader"}}',
    '{"name": "a", "priority": ' + "9" * 200 + ', "route_to": {"role": "leader"}}',
    '{"name": "a", "priority": 1, "route_to": {"role": "leader"}',
])
def test_malformed_json_is_400(client, hospital: Org, login: Login, raw):
    response = client.post("/api/v1/routing-rules", data=raw,
                           headers={"Content-Type": "application/json", **login("admin")})
    assert_problem(response, 400)


def test_a_body_that_is_not_an_object_is_422(client, hospital: Org, login: Login):
    for body in ([rule_body()], "rule", 7):
        assert_problem(client.post("/api/v1/routing-rules", json=body,
                                   headers=login("admin")), 422)


def test_not_json_is_415(client, hospital: Org, login: Login):
    response = client.post("/api/v1/routing-rules", data="name=a",
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    **login("admin")})
    assert response.status_code in (415, 422)
    assert response.mimetype == "application/problem+json"


# --- SLA policy bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    (policy_body(concern={"ack_hours": 169, "close_hours": 720}), "concern.ack_hours"),
    (policy_body(gap={"ack_hours": 48, "close_hours": 2161}), "gap.close_hours"),
    (policy_body(opportunity={"ack_hours": 0, "close_hours": 720}), "opportunity.ack_hours"),
    (policy_body(immediate_risk={"ack_hours": 1, "close_hours": -72}),
     "immediate_risk.close_hours"),
    (policy_body(concern={"ack_hours": 100, "close_hours": 99}), "concern"),
    (policy_body(concern={"ack_hours": "48", "close_hours": 720}), "concern.ack_hours"),
    (policy_body(concern={"ack_hours": 48.0, "close_hours": 720}), "concern.ack_hours"),
    (policy_body(concern={"ack_hours": 47.5, "close_hours": 720}), "concern.ack_hours"),
    (policy_body(concern={"ack_hours": True, "close_hours": 720}), "concern.ack_hours"),
    (policy_body(concern={"ack_hours": None, "close_hours": 720}), "concern.ack_hours"),
    (policy_body(concern={"ack_hours": 10**40, "close_hours": 720}), "concern.ack_hours"),
    (policy_body(concern={"ack_hours": 48}), "concern.close_hours"),
    (policy_body(concern={"ack_hours": 48, "close_hours": 720, "minutes": 5}),
     "concern.minutes"),
    (policy_body(concern=[48, 720]), "concern"),  # type: ignore[arg-type]
    (policy_body(concern=None), "concern"),  # type: ignore[arg-type]
    ({k: v for k, v in policy_body().items() if k != "immediate_risk"}, "immediate_risk"),
    ({**policy_body(), "urgent": {"ack_hours": 1, "close_hours": 2}}, "urgent"),
])
def test_invalid_policies_are_422_under_their_path(client, hospital: Org, login: Login,
                                                   database: Database, body, field):
    response = client.put("/api/v1/sla-policy", json=body, headers=login("admin"))
    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem
    assert version(database) is None
    assert client.get("/api/v1/sla-policy", headers=login("admin")).json == DEFAULT_POLICY


def test_the_ceilings_themselves_are_allowed(client, hospital: Org, login: Login):
    body = policy_body(concern={"ack_hours": 168, "close_hours": 2160},
                       gap={"ack_hours": 1, "close_hours": 1})
    response = client.put("/api/v1/sla-policy", json=body, headers=login("admin"))
    assert response.status_code == 200 and response.json == body


def test_a_policy_body_with_a_repeated_key_is_400(client, hospital: Org, login: Login):
    raw = json.dumps(policy_body())[:-1] + ', "gap": {"ack_hours": 1, "close_hours": 1}}'
    response = client.put("/api/v1/sla-policy", data=raw,
                          headers={"Content-Type": "application/json", **login("admin")})
    assert_problem(response, 400)
