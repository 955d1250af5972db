"""Organisation administration: who may call what."""

from __future__ import annotations

import pytest

from speakup.db import Database
from tests.api.org.support import (
    ADMIN_ENDPOINTS,
    ENDPOINT_IDS,
    call,
    count_units,
    count_users,
    new_user,
)
from tests.support import Login, Org, assert_problem


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS, ids=ENDPOINT_IDS)
def test_admin_endpoint_without_token_is_401(client, hospital: Org, method, path, body):
    response = call(client, hospital, method, path, body)

    assert "msg" not in assert_problem(response, 401)


@pytest.mark.parametrize("role", ["nurse", "ward_leader", "site_leader", "officer"])
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS, ids=ENDPOINT_IDS)
def test_admin_endpoint_is_403_for_other_roles(
    client, hospital: Org, login: Login, role, method, path, body
):
    response = call(client, hospital, method, path, body, headers=login(role))

    assert_problem(response, 403)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS, ids=ENDPOINT_IDS)
def test_admin_endpoint_succeeds_for_admin(
    client, hospital: Org, login: Login, method, path, body
):
    response = call(client, hospital, method, path, body, headers=login("admin"))

    assert response.status_code in {200, 201, 204}, response.get_data(True)


def test_refused_create_changes_nothing(
    client, hospital: Org, login: Login, database: Database
):
    units, users = count_units(database), count_users(database)

    client.post("/api/v1/units", json={"name": "X", "code": "X"}, headers=login("officer"))
    client.post("/api/v1/users", json=new_user(roles=["admin"]), headers=login("nurse"))
    client.patch(f"/api/v1/users/{hospital.nurse}", json={"roles": ["admin"]},
                 headers=login("nurse"))

    assert (count_units(database), count_users(database)) == (units, users)
    assert client.get("/api/v1/me", headers=login("nurse")).json["roles"] == ["staff"]
