"""Statement budgets: how many SQL statements each hot request may cost, counted with
SQLAlchemy's events.  A budget that breaks says a change made the hot path chattier."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from speakup.db import Database
from tests.support import PASSWORD, Login, Org, report_body

Counter = Callable[[Callable[[], Any]], tuple[Any, list[str]]]


@pytest.fixture()
def count(database: Database) -> Iterator[Counter]:
    """``count(request)`` -> (its response, the statements it ran)."""
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split())[:150])

    event.listen(database.engine, "before_cursor_execute", on_execute)

    def measure(request: Callable[[], Any]) -> tuple[Any, list[str]]:
        seen.clear()
        response = request()
        return response, list(seen)

    yield measure
    event.remove(database.engine, "before_cursor_execute", on_execute)


# Statements per request, today (SQLite and PostgreSQL alike).  Lower them as the hot path
# gets leaner; never raise one without saying why in the commit.
BUDGETS = {
    "named submission": 16,
    "anonymous submission": 12,
    "inbox page": 9,
    "report detail": 13,
    "login": 5,
    "token check (/me)": 5,
}


def test_hot_requests_stay_within_their_statement_budgets(
        client: FlaskClient, hospital: Org, login: Login, count: Counter):
    nurse, leader = login("nurse"), login("ward_leader")
    for _ in range(3):  # a list with something in it
        client.post("/api/v1/reports", json=report_body(hospital.ward), headers=nurse)
    report_id = client.post("/api/v1/reports", json=report_body(hospital.ward),
                            headers=nurse).json["id"]
    credentials = {"email": hospital.emails["nurse"], "password": PASSWORD}
    requests: dict[str, Callable[[], Any]] = {
        "named submission": lambda: client.post(
            "/api/v1/reports", json=report_body(hospital.ward), headers=nurse),
        "anonymous submission": lambda: client.post(
            "/api/v1/reports", json=report_body(hospital.ward, anonymous=True)),
        "inbox page": lambda: client.get("/api/v1/reports?limit=50", headers=leader),
        "report detail": lambda: client.get(f"/api/v1/reports/{report_id}", headers=leader),
        "login": lambda: client.post("/api/v1/auth/login", json=credentials),
        "token check (/me)": lambda: client.get("/api/v1/me", headers=nurse),
    }
    over = {}
    for name, request in requests.items():
        response, statements = count(request)
        assert response.status_code in (200, 201), (name, response.json)
        if len(statements) > BUDGETS[name]:
            over[name] = statements
    assert not over, "\n".join(f"{name}: {len(found)} > {BUDGETS[name]}:\n  " +
                                "\n  ".join(found) for name, found in over.items())
