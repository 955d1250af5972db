"""The SLA policy through HTTP, and the due times it gives new reports (with the settable
clock: nothing sleeps)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from speakup.db import Database
from speakup.models import Report, SlaTarget
from speakup.services.core.clock import SettableClock
from speakup.services.core.errors import Invalid
from speakup.services.org import config as org_config
from speakup.services.reports.sla import Target
from tests.api.config.support import DEFAULT_POLICY, at, policy_body, version
from tests.support import Login, Org, report_body

POLICY = "/api/v1/sla-policy"
CUSTOM = policy_body(
    concern={"ack_hours": 24, "close_hours": 240},
    gap={"ack_hours": 36, "close_hours": 360},
    opportunity={"ack_hours": 72, "close_hours": 1000},
    immediate_risk={"ack_hours": 2, "close_hours": 48},
)


def submit(client: FlaskClient, unit_id: str, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/reports", json=report_body(unit_id, **overrides))
    assert response.status_code == 201, response.get_data(True)
    body: dict[str, Any] = response.json
    return body


def due(report: dict[str, Any]) -> tuple[timedelta, timedelta]:
    created = at(report["created_at"])
    return at(report["ack_due_at"]) - created, at(report["close_due_at"]) - created


def hours(ack: int, close: int) -> tuple[timedelta, timedelta]:
    return timedelta(hours=ack), timedelta(hours=close)


def test_the_contracts_defaults_are_in_force_at_first(client, hospital: Org, login: Login):
    response = client.get(POLICY, headers=login("admin"))
    assert response.status_code == 200
    assert response.json == DEFAULT_POLICY
    assert list(response.json) == ["concern", "gap", "opportunity", "immediate_risk"]


def test_put_replaces_the_policy(client, hospital: Org, login: Login, database: Database):
    admin = login("admin")
    response = client.put(POLICY, json=CUSTOM, headers=admin)
    assert response.status_code == 200, response.get_data(True)
    assert response.json == CUSTOM
    assert client.get(POLICY, headers=admin).json == CUSTOM
    assert version(database) == 1
    with database.session(write=False) as s:
        assert {row.kind: (row.ack_hours, row.close_hours)
                for row in s.scalars(select(SlaTarget))} == {
            kind: (v["ack_hours"], v["close_hours"]) for kind, v in CUSTOM.items()}
    client.put(POLICY, json=DEFAULT_POLICY, headers=admin)
    assert client.get(POLICY, headers=admin).json == DEFAULT_POLICY
    assert version(database) == 2


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"kind": "concern"}, hours(48, 720)),
    ({"kind": "gap"}, hours(48, 720)),
    ({"kind": "opportunity"}, hours(120, 1440)),
    ({"kind": "concern", "immediate_risk": True}, hours(1, 72)),
    ({"kind": "opportunity", "immediate_risk": True}, hours(1, 72)),
])
def test_default_due_times_per_kind_and_for_immediate_risk(
        client, hospital: Org, clock: SettableClock, overrides, expected):
    report = submit(client, hospital.ward, **overrides)
    assert at(report["created_at"]) == clock.now()
    assert due(report) == expected


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"kind": "concern"}, hours(24, 240)),
    ({"kind": "gap"}, hours(36, 360)),
    ({"kind": "opportunity"}, hours(72, 1000)),
    ({"kind": "concern", "immediate_risk": True}, hours(2, 48)),
    ({"kind": "gap", "immediate_risk": True}, hours(2, 48)),
    ({"kind": "opportunity", "immediate_risk": True}, hours(2, 48)),
])
def test_due_times_follow_the_policy_in_force(
        client, hospital: Org, login: Login, clock: SettableClock, database: Database,
        overrides, expected):
    client.put(POLICY, json=CUSTOM, headers=login("admin"))
    clock.advance(hours=5)

    report = submit(client, hospital.ward, **overrides)

    assert at(report["created_at"]) == clock.now()
    assert due(report) == expected
    with database.session(write=False) as s:
        stored = s.get(Report, report["id"])
        assert stored is not None
        assert (timedelta(hours=stored.sla_ack_hours),
                timedelta(hours=stored.sla_close_hours)) == expected


def test_a_policy_change_affects_new_reports_only(
        client, hospital: Org, login: Login, clock: SettableClock, database: Database):
    officer = login("officer")
    before = submit(client, hospital.ward, kind="gap")
    clock.advance(hours=1)
    client.put(POLICY, json=CUSTOM, headers=login("admin"))
    clock.advance(hours=1)
    after = submit(client, hospital.ward, kind="gap")

    old = client.get(f"/api/v1/reports/{before['id']}", headers=officer).json
    new = client.get(f"/api/v1/reports/{after['id']}", headers=officer).json
    assert due(old) == hours(48, 720)
    assert (old["ack_due_at"], old["close_due_at"]) == (before["ack_due_at"],
                                                        before["close_due_at"])
    assert due(new) == hours(36, 360)
    with database.session(write=False) as s:
        kept = s.get(Report, before["id"])
        assert kept is not None and (kept.sla_ack_hours, kept.sla_close_hours) == (48, 720)


def test_kinds_missing_from_the_table_take_the_defaults(
        client, hospital: Org, login: Login, database: Database):
    with database.write() as session:
        session.add(SlaTarget(kind="gap", ack_hours=12, close_hours=100))
    policy = client.get(POLICY, headers=login("admin")).json
    assert policy == {**DEFAULT_POLICY, "gap": {"ack_hours": 12, "close_hours": 100}}


def test_the_service_refuses_what_the_schema_would(database: Database, hospital: Org) -> None:
    """Callers without HTTP (the CLI, scripts) get the same checks."""
    bad = {kind: Target(v["ack_hours"], v["close_hours"]) for kind, v in DEFAULT_POLICY.items()}
    bad["concern"] = Target(169, 720)
    bad["gap"] = Target(100, 99)
    bad["opportunity"] = Target(True, 720)  # type: ignore[arg-type]
    del bad["immediate_risk"]
    with pytest.raises(Invalid) as refused:
        org_config.set_policy(database, bad)
    assert set(refused.value.errors) == {"concern.ack_hours", "gap", "opportunity.ack_hours",
                                         "immediate_risk"}
    assert version(database) is None
