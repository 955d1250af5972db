"""Units through HTTP: a tree that admins shape and everyone may list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from speakup.db import Database
from speakup.services.core.clock import SettableClock
from tests.api.org.support import UNIT_KEYS, count_units, cursor_of, walk
from tests.support import Login, Org, assert_problem, report_body


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
