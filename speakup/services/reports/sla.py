"""SLA due times: hours to acknowledge and to close the loop, per kind, with an override for
immediate risk.  Defaults from the contract; no value exceeds the EU Whistleblowing Directive
ceilings (7 days to acknowledge, 3 months to give feedback)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from speakup.vocabulary import Kind

ACK_CEILING_HOURS = 7 * 24
CLOSE_CEILING_HOURS = 90 * 24


@dataclass(frozen=True)
class Target:
    ack_hours: int
    close_hours: int


DEFAULT_POLICY: dict[str, Target] = {
    "immediate_risk": Target(1, 72),
    Kind.CONCERN: Target(48, 30 * 24),
    Kind.GAP: Target(48, 30 * 24),
    Kind.OPPORTUNITY: Target(120, 60 * 24),
}


def due_times(
    created_at: datetime,
    *,
    kind: str,
    immediate_risk: bool,
    policy: dict[str, Target] | None = None,
) -> tuple[datetime, datetime]:
    """``(ack_due_at, close_due_at)`` for a report created at ``created_at``."""
    table = policy or DEFAULT_POLICY
    target = table["immediate_risk"] if immediate_risk else table[kind]
    return (
        created_at + timedelta(hours=target.ack_hours),
        created_at + timedelta(hours=target.close_hours),
    )
