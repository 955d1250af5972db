"""What the routing-rule and SLA-policy tests share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from speakup.db import Database
from speakup.models import ConfigVersion

RULE_KEYS = {"id", "name", "priority", "active", "match", "route_to", "created_at"}
DEFAULT_POLICY = {
    "concern": {"ack_hours": 48, "close_hours": 720},
    "gap": {"ack_hours": 48, "close_hours": 720},
    "opportunity": {"ack_hours": 120, "close_hours": 1440},
    "immediate_risk": {"ack_hours": 1, "close_hours": 72},
}


def rule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Bullying to the safety officers", "priority": 10,
                            "match": {"category": "bullying_harassment"},
                            "route_to": {"role": "safety_officer"}}
    body.update(overrides)
    return body


def policy_body(**changes: dict[str, int]) -> dict[str, Any]:
    return {**{kind: dict(hours) for kind, hours in DEFAULT_POLICY.items()}, **changes}


def version(database: Database) -> int | None:
    with database.session(write=False) as s:
        return s.scalar(select(ConfigVersion.version).where(ConfigVersion.id == 1))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
