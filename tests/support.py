"""Helpers shared by the tests: the test organisation's shape, request bodies, assertions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PASSWORD = "correct horse battery"

Login = Callable[[str], dict[str, str]]


@dataclass
class Org:
    """A small hospital: site > department > ward, and one user per role."""

    site: str
    medicine: str
    ward: str
    admin: str
    officer: str
    site_leader: str
    ward_leader: str
    nurse: str
    emails: dict[str, str]



def report_body(unit_id: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "concern",
        "category": "patient_safety",
        "unit_id": unit_id,
        "title": "Infusion pump alarms silenced",
        "description": "On night shifts the infusion-pump alarms get silenced without a check.",
    }
    body.update(overrides)
    return body


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status``; returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(True))
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    assert body["status"] == status and body["title"] and body["type"]
    return body



def fresh_window(length: int = 60, needed: float = 10) -> None:
    """Rate-limit windows are aligned to the clock: wait for a new one when fewer than
    ``needed`` seconds are left of the current ``length``-second window, so that a test's
    requests all fall into one window."""
    import time

    left = length - time.time() % length
    if left < needed:
        time.sleep(left + 0.05)
