"""What the organisation API tests share: expected shapes and small helpers."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from speakup.db import Database
from speakup.models import Unit, User
from tests.support import Org

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
