"""Routes never choose lock modes: on SQLite the write lock (BEGIN IMMEDIATE) is taken only
inside a service's ``with database.write()``, never by a route before the service asks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from speakup.db import Database, in_write_block
from tests.support import PASSWORD, Login, Org, report_body


@pytest.fixture()
def write_begins(database: Database) -> Iterator[list[bool]]:
    """For each BEGIN IMMEDIATE: whether it came from inside a write block."""
    if not database.is_sqlite:
        pytest.skip("SQLite's write lock")
    seen: list[bool] = []

    def on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            seen.append(in_write_block())

    event.listen(database.engine, "begin", on_begin)
    yield seen
    event.remove(database.engine, "begin", on_begin)


def test_every_route_takes_the_write_lock_only_inside_a_write_block(
        client: FlaskClient, hospital: Org, login: Login, write_begins: list[bool]):
    admin, nurse = login("admin"), login("nurse")
    tokens = client.post("/api/v1/auth/login", json={"email": hospital.emails["ward_leader"],
                                                     "password": PASSWORD}).json
    calls: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
        ("POST", "/api/v1/units", {"name": "Ward 9", "code": "W9"}, admin),
        ("PATCH", f"/api/v1/units/{hospital.ward}", {"name": "Ward Seven"}, admin),
        ("POST", "/api/v1/users", {"email": "new@example.org", "name": "New",
                                   "password": "a long enough password",
                                   "roles": ["staff", "leader"]}, admin),
        ("POST", "/api/v1/categories", {"id": "staffing", "label": "Staffing"}, admin),
        ("PATCH", "/api/v1/categories/staffing", {"label": "Staffing levels"}, admin),
        ("POST", "/api/v1/reports", report_body(hospital.ward), nurse),
        ("POST", "/api/v1/reports", report_body(hospital.ward, anonymous=True), {}),
        ("POST", "/api/v1/reports", report_body("no-such-unit"), nurse),
        ("GET", "/api/v1/reports", None, admin),
        ("GET", "/api/v1/units", None, {}),
        ("GET", "/api/v1/me", None, nurse),
        ("POST", "/api/v1/auth/refresh", None,
         {"Authorization": f"Bearer {tokens['refresh_token']}"}),
        ("POST", "/api/v1/auth/logout", None,
         {"Authorization": f"Bearer {tokens['access_token']}"}),
    ]
    answers = [client.open(path, method=method, json=body, headers=headers).status_code
               for method, path, body, headers in calls]
    assert answers == [201, 200, 201, 201, 200, 201, 201, 422, 200, 200, 200, 200, 204]
    new_user = client.get("/api/v1/users", headers=admin).json["items"]
    leader_id = next(u["id"] for u in new_user if u["email"] == "new@example.org")
    assert client.post(f"/api/v1/units/{hospital.ward}/leaders", json={"user_id": leader_id},
                       headers=admin).status_code == 201
    assert client.delete(f"/api/v1/units/{hospital.ward}/leaders/{leader_id}",
                         headers=admin).status_code == 204
    assert client.patch(f"/api/v1/users/{leader_id}", json={"active": False},
                        headers=admin).status_code == 200

    assert len(write_begins) >= 11  # every change above took the lock, so this means something
    assert all(write_begins), "a route took SQLite's write lock outside a write block"
