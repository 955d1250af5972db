"""Users through HTTP: admins create and change them; e-mail is unique."""

from __future__ import annotations

from typing import Any

import pytest

from speakup.db import Database
from tests.api.org.support import USER_KEYS, count_users, new_user, walk
from tests.support import PASSWORD, Login, Org, assert_problem


def test_admin_creates_user_and_response_has_no_password(client, hospital: Org, login: Login):
    response = client.post("/api/v1/users", headers=login("admin"),
                           json=new_user(roles=["staff", "leader"], unit_id=hospital.ward))

    assert response.status_code == 201
    body = response.json
    assert set(body) == USER_KEYS
    assert body["email"] == "new.starter@example.org"
    assert body["name"] == "New Starter"
    assert body["roles"] == ["leader", "staff"]
    assert body["unit_id"] == hospital.ward
    assert body["active"] is True
    assert "a long enough password" not in response.get_data(as_text=True)
    fetched = client.get(f"/api/v1/users/{body['id']}", headers=login("admin"))
    assert fetched.json == body


def test_created_user_can_sign_in_with_their_password(client, hospital: Org, login: Login):
    client.post("/api/v1/users", json=new_user(), headers=login("admin"))

    response = client.post("/api/v1/auth/login", json={"email": "new.starter@example.org",
                                                       "password": "a long enough password"})

    assert response.status_code == 200


def test_user_email_is_stored_in_lower_case(client, hospital: Org, login: Login):
    response = client.post("/api/v1/users", json=new_user(email="New.Starter@Example.ORG"),
                           headers=login("admin"))

    assert response.status_code == 201
    assert response.json["email"] == "new.starter@example.org"
    assert response.json["unit_id"] is None


@pytest.mark.parametrize("email", ["nurse@example.org", "NURSE@EXAMPLE.ORG", "Nurse@Example.org"])
def test_user_with_existing_email_in_any_case_is_409(
    client, hospital: Org, login: Login, database: Database, email: str
):
    before = count_users(database)

    response = client.post("/api/v1/users", json=new_user(email=email), headers=login("admin"))

    assert_problem(response, 409)
    assert count_users(database) == before


@pytest.mark.parametrize("roles", [["superuser"], ["staff", "root"], [], "admin", [None]])
def test_user_with_unknown_or_no_roles_is_422(
    client, hospital: Org, login: Login, database: Database, roles: Any
):
    before = count_users(database)

    response = client.post("/api/v1/users", json=new_user(roles=roles), headers=login("admin"))

    problem = assert_problem(response, 422)
    assert "roles" in problem["errors"]
    assert count_users(database) == before


def test_user_with_unknown_unit_is_422(client, hospital: Org, login: Login, database: Database):
    before = count_users(database)

    response = client.post("/api/v1/users", json=new_user(unit_id="no-such-unit"),
                           headers=login("admin"))

    problem = assert_problem(response, 422)
    assert "unit_id" in problem["errors"]
    assert count_users(database) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"password": "short"}, "password"),
        ({"name": ""}, "name"),
        ({"roles": None}, "roles"),
    ],
)
def test_user_with_invalid_field_is_422_naming_it(
    client, hospital: Org, login: Login, overrides: dict[str, Any], field: str
):
    response = client.post("/api/v1/users", json=new_user(**overrides), headers=login("admin"))

    problem = assert_problem(response, 422)
    assert field in problem["errors"]


@pytest.mark.parametrize("missing", ["email", "name", "password", "roles"])
def test_user_without_required_field_is_422(client, hospital: Org, login: Login, missing: str):
    body = new_user()
    del body[missing]

    response = client.post("/api/v1/users", json=body, headers=login("admin"))

    problem = assert_problem(response, 422)
    assert missing in problem["errors"]


def test_admin_lists_every_user_page_by_page_without_passwords(
    client, hospital: Org, login: Login
):
    admin = login("admin")
    client.patch(f"/api/v1/users/{hospital.nurse}", json={"active": False}, headers=admin)

    pages = walk(client, "/api/v1/users", limit=2, headers=admin)

    seen = [user_id for page in pages for user_id in page]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == {hospital.admin, hospital.officer, hospital.site_leader,
                         hospital.ward_leader, hospital.nurse}
    items = client.get("/api/v1/users", headers=admin).json["items"]
    assert all(set(item) == USER_KEYS for item in items)
    assert {u["id"]: u["active"] for u in items}[hospital.nurse] is False


def test_patch_changes_name_and_roles(client, hospital: Org, login: Login):
    admin = login("admin")

    response = client.patch(f"/api/v1/users/{hospital.nurse}", headers=admin,
                            json={"name": "Nora N. Nurse", "roles": ["staff", "leader"]})

    assert response.status_code == 200
    assert response.json["name"] == "Nora N. Nurse"
    assert sorted(response.json["roles"]) == ["leader", "staff"]
    assert client.get(f"/api/v1/users/{hospital.nurse}", headers=admin).json == response.json


def test_patch_roles_returns_them_in_the_same_order_as_a_read(
    client, hospital: Org, login: Login
):
    admin = login("admin")

    patched = client.patch(f"/api/v1/users/{hospital.nurse}", json={"roles": ["staff", "admin"]},
                           headers=admin).json

    assert patched["roles"] == ["admin", "staff"]
    assert client.get(f"/api/v1/users/{hospital.nurse}", headers=admin).json["roles"] == [
        "admin", "staff"]


def test_role_change_takes_effect_on_an_existing_token(client, hospital: Org, login: Login):
    admin = login("admin")
    nurse = login("nurse")
    assert_problem(client.get("/api/v1/users", headers=nurse), 403)

    client.patch(f"/api/v1/users/{hospital.nurse}", json={"roles": ["staff", "admin"]},
                 headers=admin)
    assert client.get("/api/v1/users", headers=nurse).status_code == 200

    client.patch(f"/api/v1/users/{hospital.nurse}", json={"roles": ["staff"]}, headers=admin)
    assert_problem(client.get("/api/v1/users", headers=nurse), 403)


def test_patch_with_unknown_role_is_422_and_keeps_roles(client, hospital: Org, login: Login):
    admin = login("admin")

    response = client.patch(f"/api/v1/users/{hospital.nurse}", json={"roles": ["wizard"]},
                            headers=admin)

    problem = assert_problem(response, 422)
    assert "roles" in problem["errors"]
    assert client.get(f"/api/v1/users/{hospital.nurse}", headers=admin).json["roles"] == [
        "staff"]


def test_patch_to_another_users_email_is_409(client, hospital: Org, login: Login):
    response = client.patch(f"/api/v1/users/{hospital.nurse}", json={"email": "Admin@Example.org"},
                            headers=login("admin"))

    assert_problem(response, 409)


def test_patch_to_unknown_unit_is_422(client, hospital: Org, login: Login):
    response = client.patch(f"/api/v1/users/{hospital.nurse}", json={"unit_id": "nope"},
                            headers=login("admin"))

    problem = assert_problem(response, 422)
    assert "unit_id" in problem["errors"]


def test_get_or_patch_unknown_user_is_404(client, hospital: Org, login: Login):
    admin = login("admin")

    assert_problem(client.get("/api/v1/users/no-such-user", headers=admin), 404)
    assert_problem(client.patch("/api/v1/users/no-such-user", json={"name": "X"},
                                headers=admin), 404)


def test_password_change_by_admin_ends_sessions_and_swaps_the_password(
    client, hospital: Org, login: Login
):
    nurse = login("nurse")

    response = client.patch(f"/api/v1/users/{hospital.nurse}",
                            json={"password": "a brand new passphrase"}, headers=login("admin"))

    assert response.status_code == 200
    assert_problem(client.get("/api/v1/me", headers=nurse), 401)
    old = client.post("/api/v1/auth/login",
                      json={"email": hospital.emails["nurse"], "password": PASSWORD})
    assert_problem(old, 401)
    new = client.post("/api/v1/auth/login", json={"email": hospital.emails["nurse"],
                                                  "password": "a brand new passphrase"})
    assert new.status_code == 200


def test_deactivating_a_user_ends_their_sessions_for_good(client, hospital: Org, login: Login):
    admin = login("admin")
    nurse_tokens = client.post("/api/v1/auth/login", json={
        "email": hospital.emails["nurse"], "password": PASSWORD}).json
    nurse = {"Authorization": f"Bearer {nurse_tokens['access_token']}"}
    assert client.get("/api/v1/me", headers=nurse).status_code == 200

    response = client.patch(f"/api/v1/users/{hospital.nurse}", json={"active": False},
                            headers=admin)
    assert response.status_code == 200 and response.json["active"] is False
    assert_problem(client.get("/api/v1/me", headers=nurse), 401)
    assert_problem(client.post("/api/v1/auth/login", json={
        "email": hospital.emails["nurse"], "password": PASSWORD}), 401)

    client.patch(f"/api/v1/users/{hospital.nurse}", json={"active": True}, headers=admin)
    # Reactivation does not bring the old session back...
    assert_problem(client.get("/api/v1/me", headers=nurse), 401)
    assert_problem(client.post("/api/v1/auth/refresh", headers={
        "Authorization": f"Bearer {nurse_tokens['refresh_token']}"}), 401)
    # ...but the user may sign in again.
    assert client.get("/api/v1/me", headers=login("nurse")).status_code == 200
