"""Report categories through HTTP."""

from __future__ import annotations

import pytest

from tests.api.org.support import CATEGORY_KEYS, DEFAULT_CATEGORY_IDS
from tests.support import Login, Org, assert_problem, report_body


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
