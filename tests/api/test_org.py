"""Organisation administration through HTTP: units (a tree), users, unit leaders, categories,
who may call what, and what a body may carry."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from speakup.db import Database
from speakup.models import Unit, User
from speakup.services.clock import SettableClock
from tests.support import PASSWORD, Login, Org, assert_problem, report_body

UNIT_KEYS = {"id", "name", "code", "parent_id", "active"}
USER_KEYS = {"id", "email", "name", "roles", "unit_id", "active"}
CATEGORY_KEYS = {"id", "label", "active", "position"}
DEFAULT_CATEGORY_IDS = [
    "patient_safety",
    "staff_safety_wellbeing",
    "bullying_harassment",
    "behaviour_attitudes",
    "staffing_workload",
    "equipment_environment",
    "process_systems",
    "quality_improvement",
    "other",
]


def new_user(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "new.starter@example.org",
        "name": "New Starter",
        "password": "a long enough password",
        "roles": ["staff"],
    }
    body.update(overrides)
    return body


def walk(client: FlaskClient, path: str, limit: int, headers: dict[str, str] | None = None,
         **params: str) -> list[list[str]]:
    """Follow ``next_cursor`` to the end; the ids on each page."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"limit": limit, **params}
        if cursor is not None:
            query["cursor"] = cursor
        response = client.get(path, query_string=query, headers=headers or {})
        assert response.status_code == 200, response.get_data(True)
        assert set(response.json) == {"items", "next_cursor"}
        pages.append([item["id"] for item in response.json["items"]])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "pagination does not end"


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def count_users(database: Database) -> int:
    with database.session(write=False) as s:
        return s.scalar(select(func.count()).select_from(User)) or 0


def count_units(database: Database) -> int:
    with database.session(write=False) as s:
        return s.scalar(select(func.count()).select_from(Unit)) or 0


# --- units -----------------------------------------------------------------------------


def test_admin_creates_top_level_unit_with_exact_shape(client, hospital: Org, login: Login):
    response = client.post("/api/v1/units", json={"name": "St Nowhere", "code": "SITE2"},
                           headers=login("admin"))

    assert response.status_code == 201
    body = response.json
    assert set(body) == UNIT_KEYS
    assert body["name"] == "St Nowhere" and body["code"] == "SITE2"
    assert body["parent_id"] is None and body["active"] is True
    assert body["id"]
    assert client.get(f"/api/v1/units/{body['id']}").json == body


def test_admin_creates_child_unit_under_a_parent(client, hospital: Org, login: Login):
    response = client.post("/api/v1/units", headers=login("admin"),
                           json={"name": "Ward 8", "code": "W8", "parent_id": hospital.medicine})

    assert response.status_code == 201
    assert set(response.json) == UNIT_KEYS
    assert response.json["parent_id"] == hospital.medicine
    assert client.get(f"/api/v1/units/{response.json['id']}").json["parent_id"] == (
        hospital.medicine)


def test_unit_ids_are_opaque_and_distinct(client, hospital: Org, login: Login):
    admin = login("admin")
    first = client.post("/api/v1/units", json={"name": "A", "code": "A"}, headers=admin).json
    second = client.post("/api/v1/units", json={"name": "B", "code": "B"}, headers=admin).json

    assert first["id"] != second["id"]
    assert not first["id"].isdigit() and not second["id"].isdigit()


def test_unit_with_unknown_parent_is_422_naming_parent_id(
    client, hospital: Org, login: Login, database: Database
):
    before = count_units(database)

    response = client.post("/api/v1/units", headers=login("admin"),
                           json={"name": "Orphan", "code": "ORPH", "parent_id": "no-such-unit"})

    problem = assert_problem(response, 422)
    assert "parent_id" in problem["errors"]
    assert count_units(database) == before


def test_unit_with_duplicate_code_is_409(client, hospital: Org, login: Login, database: Database):
    before = count_units(database)

    response = client.post("/api/v1/units", json={"name": "Another ward 7", "code": "W7"},
                           headers=login("admin"))

    assert_problem(response, 409)
    assert count_units(database) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "X"}, "name"),
        ({"name": "X"}, "code"),
        ({"name": "", "code": "X"}, "name"),
        ({"name": "X" * 201, "code": "X"}, "name"),
        ({"name": "X", "code": "has space"}, "code"),
        ({"name": "X", "code": "-leading"}, "code"),
        ({"name": "X", "code": "C" * 51}, "code"),
        ({"name": 7, "code": "X"}, "name"),
        ({"name": "X", "code": "X", "parent_id": 5}, "parent_id"),
    ],
)
def test_unit_with_invalid_field_is_422_naming_it(
    client, hospital: Org, login: Login, body: dict[str, Any], field: str
):
    response = client.post("/api/v1/units", json=body, headers=login("admin"))

    problem = assert_problem(response, 422)
    assert field in problem["errors"]


def test_get_unknown_unit_is_404(client, hospital: Org, login: Login):
    assert_problem(client.get("/api/v1/units/no-such-unit"), 404)
    assert_problem(client.get("/api/v1/units/no-such-unit", headers=login("admin")), 404)


def test_patch_renames_and_recodes_a_unit(client, hospital: Org, login: Login):
    response = client.patch(f"/api/v1/units/{hospital.ward}", headers=login("admin"),
                            json={"name": "Ward Seven", "code": "W07"})

    assert response.status_code == 200
    assert response.json == {"id": hospital.ward, "name": "Ward Seven", "code": "W07",
                             "parent_id": hospital.medicine, "active": True}
    assert client.get(f"/api/v1/units/{hospital.ward}").json == response.json


def test_patch_keeping_the_units_own_code_is_not_a_conflict(client, hospital: Org, login: Login):
    response = client.patch(f"/api/v1/units/{hospital.ward}", json={"code": "W7"},
                            headers=login("admin"))

    assert response.status_code == 200


def test_patch_to_another_units_code_is_409(client, hospital: Org, login: Login):
    response = client.patch(f"/api/v1/units/{hospital.ward}", json={"code": "MED"},
                            headers=login("admin"))

    assert_problem(response, 409)
    assert client.get(f"/api/v1/units/{hospital.ward}").json["code"] == "W7"


def test_patch_unknown_unit_is_404(client, hospital: Org, login: Login):
    response = client.patch("/api/v1/units/no-such-unit", json={"name": "X"},
                            headers=login("admin"))

    assert_problem(response, 404)


@pytest.mark.parametrize(
    ("moved", "new_parent"),
    [("site", "site"), ("site", "ward"), ("site", "medicine"), ("medicine", "ward"),
     ("ward", "ward")],
)
def test_patch_that_would_make_a_cycle_is_422_and_changes_nothing(
    client, hospital: Org, login: Login, moved: str, new_parent: str
):
    unit_id = getattr(hospital, moved)
    before = client.get(f"/api/v1/units/{unit_id}").json

    response = client.patch(f"/api/v1/units/{unit_id}", headers=login("admin"),
                            json={"parent_id": getattr(hospital, new_parent)})

    problem = assert_problem(response, 422)
    assert "parent_id" in problem["errors"]
    assert client.get(f"/api/v1/units/{unit_id}").json == before


def test_patch_moves_a_unit_to_another_parent_and_to_the_top(client, hospital: Org, login: Login):
    admin = login("admin")

    moved = client.patch(f"/api/v1/units/{hospital.ward}", json={"parent_id": hospital.site},
                         headers=admin)
    assert moved.status_code == 200 and moved.json["parent_id"] == hospital.site

    top = client.patch(f"/api/v1/units/{hospital.ward}", json={"parent_id": None}, headers=admin)
    assert top.status_code == 200 and top.json["parent_id"] is None


def test_patch_to_unknown_parent_is_422(client, hospital: Org, login: Login):
    response = client.patch(f"/api/v1/units/{hospital.ward}", json={"parent_id": "nope"},
                            headers=login("admin"))

    problem = assert_problem(response, 422)
    assert "parent_id" in problem["errors"]


def test_deactivated_unit_leaves_the_public_list_and_is_404_for_non_admins(
    client, hospital: Org, login: Login
):
    admin = login("admin")
    response = client.patch(f"/api/v1/units/{hospital.ward}", json={"active": False},
                            headers=admin)
    assert response.status_code == 200 and response.json["active"] is False

    public = [u["id"] for u in client.get("/api/v1/units").json["items"]]
    assert hospital.ward not in public
    assert sorted(public) == sorted([hospital.site, hospital.medicine])
    assert_problem(client.get(f"/api/v1/units/{hospital.ward}"), 404)
    for role in ("nurse", "ward_leader", "officer"):
        assert_problem(client.get(f"/api/v1/units/{hospital.ward}", headers=login(role)), 404)
        listed = client.get("/api/v1/units", query_string={"include_inactive": "true"},
                            headers=login(role)).json["items"]
        assert hospital.ward not in [u["id"] for u in listed]
    assert hospital.ward not in [
        u["id"] for u in client.get("/api/v1/units?include_inactive=true").json["items"]]


def test_admin_still_sees_a_deactivated_unit_and_lists_it_with_include_inactive(
    client, hospital: Org, login: Login
):
    admin = login("admin")
    client.patch(f"/api/v1/units/{hospital.ward}", json={"active": False}, headers=admin)

    one = client.get(f"/api/v1/units/{hospital.ward}", headers=admin)
    assert one.status_code == 200 and one.json["active"] is False
    default = client.get("/api/v1/units", headers=admin).json["items"]
    assert hospital.ward not in [u["id"] for u in default]
    everything = client.get("/api/v1/units", query_string={"include_inactive": "true"},
                            headers=admin).json["items"]
    assert {u["id"]: u["active"] for u in everything} == {
        hospital.site: True, hospital.medicine: True, hospital.ward: False}


def test_reactivated_unit_is_public_again(client, hospital: Org, login: Login):
    admin = login("admin")
    client.patch(f"/api/v1/units/{hospital.ward}", json={"active": False}, headers=admin)

    client.patch(f"/api/v1/units/{hospital.ward}", json={"active": True}, headers=admin)

    assert client.get(f"/api/v1/units/{hospital.ward}").status_code == 200


def test_reports_cannot_be_filed_against_a_deactivated_unit(client, hospital: Org, login: Login):
    client.patch(f"/api/v1/units/{hospital.ward}", json={"active": False},
                 headers=login("admin"))

    response = client.post("/api/v1/reports", json=report_body(hospital.ward),
                           headers=login("nurse"))

    problem = assert_problem(response, 422)
    assert "unit_id" in problem["errors"]


def test_public_unit_list_needs_no_token(client, hospital: Org):
    response = client.get("/api/v1/units")

    assert response.status_code == 200
    assert response.json["next_cursor"] is None
    items = response.json["items"]
    assert all(set(item) == UNIT_KEYS for item in items)
    assert sorted(u["id"] for u in items) == sorted(
        [hospital.site, hospital.medicine, hospital.ward])


def test_public_list_refuses_a_bad_token_rather_than_ignoring_it(client, hospital: Org):
    response = client.get("/api/v1/units", headers={"Authorization": "Bearer garbage"})

    assert_problem(response, 401)
    assert_problem(client.get("/api/v1/categories",
                              headers={"Authorization": "Bearer garbage"}), 401)


def test_unit_pagination_visits_every_unit_exactly_once_oldest_first(
    client, hospital: Org, login: Login, clock: SettableClock
):
    admin = login("admin")
    created: list[tuple[datetime, str]] = []
    for i in range(8):
        if i % 3 == 0:  # some units share a timestamp, so the id must break ties
            clock.advance(minutes=1)
        unit = client.post("/api/v1/units", json={"name": f"Unit {i}", "code": f"U{i}"},
                           headers=admin).json
        created.append((clock.now(), unit["id"]))
    # The hospital's units share the oldest timestamp; then the new ones by (time, id).
    expected = sorted([hospital.site, hospital.medicine, hospital.ward]) + [
        unit_id for _, unit_id in sorted(created)]

    pages = walk(client, "/api/v1/units", limit=3)

    assert [len(p) for p in pages] == [3, 3, 3, 2]
    seen = [unit_id for page in pages for unit_id in page]
    assert seen == expected
    assert len(set(seen)) == len(seen) == 11


def test_unit_pagination_with_exact_multiple_of_limit_ends_without_an_empty_page(
    client, hospital: Org
):
    pages = walk(client, "/api/v1/units", limit=3)

    assert [len(p) for p in pages] == [3]


def test_unit_pagination_is_stable_when_units_are_added_between_pages(
    client, hospital: Org, login: Login, clock: SettableClock
):
    admin = login("admin")
    first = client.get("/api/v1/units", query_string={"limit": 2}).json
    clock.advance(minutes=5)
    late = client.post("/api/v1/units", json={"name": "Late", "code": "LATE"},
                       headers=admin).json["id"]

    rest = client.get("/api/v1/units",
                      query_string={"limit": 2, "cursor": first["next_cursor"]}).json

    seen = [u["id"] for u in first["items"] + rest["items"]]
    assert seen[-1] == late
    assert sorted(seen) == sorted([hospital.site, hospital.medicine, hospital.ward, late])
    assert rest["next_cursor"] is None


def test_admin_pagination_with_include_inactive_visits_inactive_units_too(
    client, hospital: Org, login: Login
):
    admin = login("admin")
    response = client.patch(f"/api/v1/units/{hospital.ward}", json={"active": False},
                            headers=admin)
    assert response.status_code == 200

    public = [i for p in walk(client, "/api/v1/units", limit=1) for i in p]
    everything = [i for p in walk(client, "/api/v1/units", limit=1, headers=admin,
                                  include_inactive="true") for i in p]

    assert sorted(public) == sorted([hospital.site, hospital.medicine])
    assert sorted(everything) == sorted([hospital.site, hospital.medicine, hospital.ward])


@pytest.mark.parametrize("limit", ["201", "0", "-1", "1000", "ten"])
def test_unit_list_with_limit_out_of_range_is_422(client, hospital: Org, limit: str):
    response = client.get("/api/v1/units", query_string={"limit": limit})

    problem = assert_problem(response, 422)
    assert "limit" in problem["errors"]


def test_unit_list_accepts_limit_200(client, hospital: Org):
    assert client.get("/api/v1/units", query_string={"limit": 200}).status_code == 200


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        "eyJhIjogMX0",  # {"a": 1}
        cursor_of([1]),  # wrong number of keys
        cursor_of([1, 2, 3]),
        cursor_of({"t": "2026-03-02T09:00:00+00:00"}),
        cursor_of([{"x": 1}, "abc"]),
        cursor_of([{"t": "not a time"}, "abc"]),
        "x" * 501,
    ],
)
def test_unit_list_with_bad_cursor_is_422(client, hospital: Org, cursor: str):
    response = client.get("/api/v1/units", query_string={"cursor": cursor})

    problem = assert_problem(response, 422)
    assert "cursor" in problem["errors"]


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of([1, 2]),
        cursor_of([None, None]),
        cursor_of([{"t": "2026-03-02T09:00:00"}, "abc"]),  # no offset: a naive datetime
    ],
)
def test_unit_list_with_well_formed_cursor_of_wrong_types_is_422(
    client, hospital: Org, cursor: str
):
    response = client.get("/api/v1/units", query_string={"cursor": cursor})

    problem = assert_problem(response, 422)
    assert "cursor" in problem["errors"]


# --- users -----------------------------------------------------------------------------


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


# --- leaders ---------------------------------------------------------------------------


def test_admin_adds_a_leader_to_a_unit(client, hospital: Org, login: Login):
    admin = login("admin")

    response = client.post(f"/api/v1/units/{hospital.medicine}/leaders",
                           json={"user_id": hospital.site_leader}, headers=admin)

    assert response.status_code == 201
    assert set(response.json) == USER_KEYS
    assert response.json["id"] == hospital.site_leader
    listed = client.get(f"/api/v1/units/{hospital.medicine}/leaders", headers=admin)
    assert listed.status_code == 200
    assert [u["id"] for u in listed.json] == [hospital.site_leader]


def test_leaders_list_shows_every_leader_of_that_unit_only(client, hospital: Org, login: Login):
    admin = login("admin")
    client.post(f"/api/v1/units/{hospital.ward}/leaders", json={"user_id": hospital.site_leader},
                headers=admin)

    ward = client.get(f"/api/v1/units/{hospital.ward}/leaders", headers=admin).json
    medicine = client.get(f"/api/v1/units/{hospital.medicine}/leaders", headers=admin).json

    assert sorted(u["id"] for u in ward) == sorted([hospital.ward_leader, hospital.site_leader])
    assert all(set(u) == USER_KEYS for u in ward)
    assert medicine == []


def test_user_without_leader_role_cannot_lead_a_unit(client, hospital: Org, login: Login):
    admin = login("admin")

    response = client.post(f"/api/v1/units/{hospital.ward}/leaders",
                           json={"user_id": hospital.nurse}, headers=admin)

    problem = assert_problem(response, 422)
    assert "user_id" in problem["errors"]
    ids = [u["id"] for u in client.get(f"/api/v1/units/{hospital.ward}/leaders",
                                       headers=admin).json]
    assert hospital.nurse not in ids


def test_unknown_or_inactive_user_cannot_lead_a_unit(client, hospital: Org, login: Login):
    admin = login("admin")
    unknown = client.post(f"/api/v1/units/{hospital.ward}/leaders",
                          json={"user_id": "no-such-user"}, headers=admin)
    client.patch(f"/api/v1/users/{hospital.site_leader}", json={"active": False}, headers=admin)
    inactive = client.post(f"/api/v1/units/{hospital.ward}/leaders",
                           json={"user_id": hospital.site_leader}, headers=admin)

    assert "user_id" in assert_problem(unknown, 422)["errors"]
    assert "user_id" in assert_problem(inactive, 422)["errors"]


def test_adding_the_same_leader_twice_is_409(client, hospital: Org, login: Login):
    response = client.post(f"/api/v1/units/{hospital.ward}/leaders",
                           json={"user_id": hospital.ward_leader}, headers=login("admin"))

    assert_problem(response, 409)


def test_removing_a_leader_is_204_and_a_second_time_404(client, hospital: Org, login: Login):
    admin = login("admin")
    path = f"/api/v1/units/{hospital.ward}/leaders/{hospital.ward_leader}"

    first = client.delete(path, headers=admin)
    assert first.status_code == 204
    assert first.get_data() == b""
    assert client.get(f"/api/v1/units/{hospital.ward}/leaders", headers=admin).json == []
    assert client.get("/api/v1/me", headers=login("ward_leader")).json["leads_unit_ids"] == []

    assert_problem(client.delete(path, headers=admin), 404)


def test_removed_leader_can_be_added_again(client, hospital: Org, login: Login):
    admin = login("admin")
    client.delete(f"/api/v1/units/{hospital.ward}/leaders/{hospital.ward_leader}", headers=admin)

    again = client.post(f"/api/v1/units/{hospital.ward}/leaders",
                        json={"user_id": hospital.ward_leader}, headers=admin)

    assert again.status_code == 201


def test_removing_someone_who_does_not_lead_that_unit_is_404(client, hospital: Org, login: Login):
    response = client.delete(f"/api/v1/units/{hospital.medicine}/leaders/{hospital.ward_leader}",
                             headers=login("admin"))

    assert_problem(response, 404)


def test_leaders_of_unknown_unit_are_404(client, hospital: Org, login: Login):
    admin = login("admin")

    assert_problem(client.get("/api/v1/units/no-such-unit/leaders", headers=admin), 404)
    assert_problem(client.post("/api/v1/units/no-such-unit/leaders",
                               json={"user_id": hospital.site_leader}, headers=admin), 404)
    assert_problem(client.delete(f"/api/v1/units/no-such-unit/leaders/{hospital.site_leader}",
                                 headers=admin), 404)


def test_leader_body_without_user_id_is_422(client, hospital: Org, login: Login):
    response = client.post(f"/api/v1/units/{hospital.ward}/leaders", json={},
                           headers=login("admin"))

    assert "user_id" in assert_problem(response, 422)["errors"]


# --- categories ------------------------------------------------------------------------


def test_the_nine_default_categories_are_listed_in_order(client, hospital: Org):
    response = client.get("/api/v1/categories")

    assert response.status_code == 200
    assert response.json["next_cursor"] is None
    items = response.json["items"]
    assert [c["id"] for c in items] == DEFAULT_CATEGORY_IDS
    assert all(set(c) == CATEGORY_KEYS and c["active"] is True and c["label"] for c in items)


def test_admin_creates_a_category_that_is_listed_last(client, hospital: Org, login: Login):
    response = client.post("/api/v1/categories", json={"id": "medication", "label": "Medication"},
                           headers=login("admin"))

    assert response.status_code == 201
    assert set(response.json) == CATEGORY_KEYS
    assert response.json["id"] == "medication" and response.json["label"] == "Medication"
    assert response.json["active"] is True
    listed = [c["id"] for c in client.get("/api/v1/categories").json["items"]]
    assert listed == [*DEFAULT_CATEGORY_IDS, "medication"]
    assert client.get("/api/v1/categories/medication").json == response.json


def test_category_created_with_a_position_is_listed_there(client, hospital: Org, login: Login):
    response = client.post("/api/v1/categories", headers=login("admin"),
                           json={"id": "medication", "label": "Medication", "position": 0})

    assert response.status_code == 201 and response.json["position"] == 0
    listed = [c["id"] for c in client.get("/api/v1/categories").json["items"]]
    assert listed[0] == "medication"


def test_reports_can_use_a_new_category(client, hospital: Org, login: Login):
    client.post("/api/v1/categories", json={"id": "medication", "label": "Medication"},
                headers=login("admin"))

    response = client.post("/api/v1/reports", json=report_body(hospital.ward,
                                                               category="medication"),
                           headers=login("nurse"))

    assert response.status_code == 201


def test_duplicate_category_is_409(client, hospital: Org, login: Login):
    response = client.post("/api/v1/categories", json={"id": "other", "label": "Other again"},
                           headers=login("admin"))

    assert_problem(response, 409)
    assert client.get("/api/v1/categories/other").json["label"] == "Other"


@pytest.mark.parametrize(
    "category_id", ["Medication", "1abc", "with-dash", "with space", "", "_lead", "a" * 65, "é"])
def test_category_id_outside_the_pattern_is_422(
    client, hospital: Org, login: Login, category_id: str
):
    response = client.post("/api/v1/categories", json={"id": category_id, "label": "X"},
                           headers=login("admin"))

    assert "id" in assert_problem(response, 422)["errors"]


def test_deactivated_category_is_hidden_from_the_public_list(client, hospital: Org, login: Login):
    admin = login("admin")

    response = client.patch("/api/v1/categories/other", json={"active": False}, headers=admin)

    assert response.status_code == 200 and response.json["active"] is False
    public = [c["id"] for c in client.get("/api/v1/categories").json["items"]]
    assert public == DEFAULT_CATEGORY_IDS[:-1]
    for headers in ({}, login("nurse")):
        assert_problem(client.get("/api/v1/categories/other", headers=headers), 404)
    everything = client.get("/api/v1/categories", query_string={"include_inactive": "true"},
                            headers=admin).json["items"]
    assert [c["id"] for c in everything] == DEFAULT_CATEGORY_IDS
    assert client.get("/api/v1/categories/other", headers=admin).json["active"] is False


def test_non_admin_cannot_list_inactive_categories(client, hospital: Org, login: Login):
    client.patch("/api/v1/categories/other", json={"active": False}, headers=login("admin"))

    listed = client.get("/api/v1/categories", query_string={"include_inactive": "true"},
                        headers=login("officer")).json["items"]

    assert "other" not in [c["id"] for c in listed]


def test_reports_cannot_use_a_deactivated_category(client, hospital: Org, login: Login):
    client.patch("/api/v1/categories/other", json={"active": False}, headers=login("admin"))

    response = client.post("/api/v1/reports", json=report_body(hospital.ward, category="other"),
                           headers=login("nurse"))

    assert "category" in assert_problem(response, 422)["errors"]


def test_patch_relabels_and_reorders_a_category(client, hospital: Org, login: Login):
    response = client.patch("/api/v1/categories/other", headers=login("admin"),
                            json={"label": "Something else", "position": 0})

    assert response.status_code == 200
    assert response.json == {"id": "other", "label": "Something else", "active": True,
                             "position": 0}
    assert client.get("/api/v1/categories").json["items"][0]["id"] == "other"


def test_unknown_category_is_404(client, hospital: Org, login: Login):
    assert_problem(client.get("/api/v1/categories/no_such"), 404)
    assert_problem(client.patch("/api/v1/categories/no_such", json={"label": "X"},
                                headers=login("admin")), 404)


# --- who may call what -----------------------------------------------------------------

ADMIN_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/v1/units", {"name": "New unit", "code": "NEW"}),
    ("PATCH", "/api/v1/units/{ward}", {"name": "Renamed"}),
    ("GET", "/api/v1/units/{ward}/leaders", None),
    ("POST", "/api/v1/units/{medicine}/leaders", {"user_id": "{site_leader}"}),
    ("DELETE", "/api/v1/units/{ward}/leaders/{ward_leader}", None),
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", new_user()),
    ("GET", "/api/v1/users/{nurse}", None),
    ("PATCH", "/api/v1/users/{nurse}", {"name": "Renamed"}),
    ("POST", "/api/v1/categories", {"id": "medication", "label": "Medication"}),
    ("PATCH", "/api/v1/categories/other", {"label": "Renamed"}),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in ADMIN_ENDPOINTS]


def fill(value: Any, hospital: Org) -> Any:
    """Put the hospital's ids into ``{ward}``-style placeholders."""
    if isinstance(value, str):
        return value.format(**{k: v for k, v in vars(hospital).items() if isinstance(v, str)})
    if isinstance(value, dict):
        return {k: fill(v, hospital) for k, v in value.items()}
    return value


def call(client: FlaskClient, hospital: Org, method: str, path: str, body: Any,
         headers: dict[str, str] | None = None) -> Any:
    return client.open(fill(path, hospital), method=method, json=fill(body, hospital),
                       headers=headers or {})


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


# --- bodies ----------------------------------------------------------------------------

WRITE_ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    (method, path, body) for method, path, body in ADMIN_ENDPOINTS if body is not None
]
WRITE_IDS = [f"{method} {path}" for method, path, _ in WRITE_ENDPOINTS]


@pytest.mark.parametrize(
    "extra",
    [{"id": "x"}, {"password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"},
     {"created_at": "2020-01-01T00:00:00Z"}, {"is_admin": True}],
    ids=["id", "password_hash", "created_at", "is_admin"],
)
@pytest.mark.parametrize(("method", "path", "body"), WRITE_ENDPOINTS, ids=WRITE_IDS)
def test_unknown_field_in_body_is_422(
    client, hospital: Org, login: Login, method, path, body, extra
):
    if "id" in body and "id" in extra:
        extra = {"uuid": "x"}

    response = call(client, hospital, method, path, {**body, **extra}, headers=login("admin"))

    problem = assert_problem(response, 422)
    assert set(extra) <= set(problem["errors"])


def test_password_hash_cannot_be_set_through_patch(
    client, hospital: Org, login: Login, database: Database
):
    with database.session(write=False) as s:
        before = s.get(User, hospital.nurse).password_hash  # type: ignore[union-attr]

    response = client.patch(f"/api/v1/users/{hospital.nurse}", headers=login("admin"),
                            json={"password_hash": "$argon2id$forged"})

    assert_problem(response, 422)
    with database.session(write=False) as s:
        assert s.get(User, hospital.nurse).password_hash == before  # type: ignore[union-attr]


def test_unit_id_cannot_be_chosen_by_the_client(client, hospital: Org, login: Login):
    response = client.post("/api/v1/units", json={"id": "mine", "name": "X", "code": "X"},
                           headers=login("admin"))

    assert "id" in assert_problem(response, 422)["errors"]
    assert_problem(client.get("/api/v1/units/mine"), 404)


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ENDPOINTS, ids=WRITE_IDS)
def test_body_over_64_kib_is_413(client, hospital: Org, login: Login, method, path, body):
    padded = {**body, "name": "x" * (64 * 1024 + 1)}

    response = call(client, hospital, method, path, padded, headers=login("admin"))

    assert_problem(response, 413)


def test_oversized_create_creates_nothing(
    client, hospital: Org, login: Login, database: Database
):
    before = count_units(database)

    response = client.post("/api/v1/units", json={"name": "x" * (70 * 1024), "code": "BIG"},
                           headers=login("admin"))

    assert_problem(response, 413)
    assert count_units(database) == before


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ENDPOINTS, ids=WRITE_IDS)
def test_non_json_body_is_415(client, hospital: Org, login: Login, method, path, body):
    response = client.open(fill(path, hospital), method=method, data="name=x",
                           content_type="application/x-www-form-urlencoded",
                           headers=login("admin"))

    assert_problem(response, 415)


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ENDPOINTS, ids=WRITE_IDS)
def test_malformed_json_body_is_400(client, hospital: Org, login: Login, method, path, body):
    response = client.open(fill(path, hospital), method=method, data='{"name": ',
                           content_type="application/json", headers=login("admin"))

    assert_problem(response, 400)
