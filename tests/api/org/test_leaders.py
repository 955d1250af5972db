"""Unit leaders through HTTP: who leads which unit."""

from __future__ import annotations

from tests.api.org.support import USER_KEYS
from tests.support import Login, Org, assert_problem


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
