"""SLA due times: hours to acknowledge and to close the loop, per kind, with an override for
immediate risk.  Defaults from the contract; no value exceeds the EU Whistleblowing Directive
ceilings (7 days to acknowledge, 3 months to give feedback).

The policy in force is the admin's (``sla_policy``, read through
:mod:`speakup.services.routing.config`); a report stores the hours it was created under, so
changing the policy affects new reports only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from speakup.vocabulary import Kind

ACK_CEILING_HOURS = 7 * 24
CLOSE_CEILING_HOURS = 90 * 24
IMMEDIATE_RISK = "immediate_risk"
# The entries of a policy, in the order the API shows them.
POLICY_KEYS = (Kind.CONCERN.value, Kind.GAP.value, Kind.OPPORTUNITY.value, IMMEDIATE_RISK)


@dataclass(frozen=True)
class Target:
    ack_hours: int
    close_hours: int


DEFAULT_POLICY: dict[str, Target] = {
    IMMEDIATE_RISK: Target(1, 72),
    Kind.CONCERN: Target(48, 30 * 24),
    Kind.GAP: Target(48, 30 * 24),
    Kind.OPPORTUNITY: Target(120, 60 * 24),
}


def target(*, kind: str, immediate_risk: bool,
           policy: Mapping[str, Target] | None = None) -> Target:
    """The hours a report of ``kind`` gets under ``policy`` (default: the contract's)."""
    table = policy or DEFAULT_POLICY
    return table[IMMEDIATE_RISK] if immediate_risk else table[kind]


def due_times(
    created_at: datetime,
    *,
    kind: str,
    immediate_risk: bool,
    policy: Mapping[str, Target] | None = None,
) -> tuple[datetime, datetime]:
    """``(ack_due_at, close_due_at)`` for a report created at ``created_at``."""
    hours = target(kind=kind, immediate_risk=immediate_risk, policy=policy)
    return (
        created_at + timedelta(hours=hours.ack_hours),
        created_at + timedelta(hours=hours.close_hours),
    )


def problems(policy: Mapping[str, Target]) -> dict[str, list[str]]:
    """What is wrong with a whole policy, by field (``concern.ack_hours``...); empty if it
    is valid: every entry present, whole hours from 1, within the ceilings, and no more hours
    to acknowledge than to close the loop."""
    found: dict[str, list[str]] = {}
    for key in POLICY_KEYS:
        entry = policy.get(key)
        if entry is None:
            found[key] = ["Missing."]
            continue
        for name, value, ceiling in (("ack_hours", entry.ack_hours, ACK_CEILING_HOURS),
                                     ("close_hours", entry.close_hours, CLOSE_CEILING_HOURS)):
            if type(value) is not int or not 1 <= value <= ceiling:
                found[f"{key}.{name}"] = [f"Must be a whole number of hours from 1 to {ceiling}."]
        if f"{key}.ack_hours" not in found and f"{key}.close_hours" not in found \
                and entry.ack_hours > entry.close_hours:
            found[key] = ["ack_hours must not be more than close_hours."]
    for key in policy:
        if key not in POLICY_KEYS:
            found[key] = ["Unknown kind."]
    return found
