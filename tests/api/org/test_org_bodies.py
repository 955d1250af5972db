"""Organisation administration: hostile and careless bodies."""

from __future__ import annotations

from typing import Any

import pytest

from speakup.db import Database
from speakup.models import User
from tests.api.org.support import ADMIN_ENDPOINTS, call, count_units, fill
from tests.support import Login, Org, assert_problem

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
