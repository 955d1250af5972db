"""Admin routing rules as routing evaluates them, and the facts of a report they match on.

A rule matches a report when every condition it sets matches: the kind, the category, the
immediate-risk flag, and the unit (the report's unit is the rule's unit or lies below it).
Rules are tried in :attr:`Rule.order`: lowest priority number first, then the oldest, then by
id, so that two rules of equal priority always take the same turn.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from speakup.vocabulary import Role

ROLE_LABELS = {Role.LEADER.value: "leader", Role.SAFETY_OFFICER.value: "safety officer"}


@dataclass(frozen=True)
class Facts:
    """What routing looks at in a new report (``reporter_id`` is None for an anonymous one)."""

    unit_id: str
    kind: str | None = None
    category: str | None = None
    immediate_risk: bool = False
    involves_leader: bool = False
    reporter_id: str | None = None


@dataclass(frozen=True)
class Rule:
    """A routing rule: conditions (None matches anything) and whom it routes to -- the named
    ``user_ids``, or else every holder of ``role``."""

    id: str
    name: str
    priority: int
    created_at: datetime
    kind: str | None = None
    category: str | None = None
    unit_id: str | None = None
    immediate_risk: bool | None = None
    user_ids: tuple[str, ...] = ()
    role: str | None = None
    active: bool = True

    @property
    def order(self) -> tuple[int, datetime, str]:
        return (self.priority, self.created_at, self.id)

    @classmethod
    def of(cls, row: Any) -> Rule:
        """A rule from a ``routing_rules`` row (ORM object or Core row)."""
        return cls(
            id=row.id, name=row.name, priority=row.priority, created_at=row.created_at,
            kind=row.match_kind, category=row.match_category, unit_id=row.match_unit_id,
            immediate_risk=row.match_immediate_risk,
            user_ids=tuple(row.route_user_ids or ()), role=row.route_role, active=row.active,
        )

    def matches_flags(self, facts: Facts) -> bool:
        """Whether the conditions other than the unit match (they need no tree)."""
        return ((self.kind is None or self.kind == facts.kind)
                and (self.category is None or self.category == facts.category)
                and (self.immediate_risk is None
                     or self.immediate_risk == facts.immediate_risk))

    def describe_target(self) -> str:
        if self.user_ids:
            return "the people it names"
        role = ROLE_LABELS.get(self.role or "", self.role or "nobody")
        return f"every active {role}"


def in_order(rules: Iterable[Rule]) -> list[Rule]:
    """The active rules, in the order they are tried."""
    return sorted((r for r in rules if r.active), key=lambda r: r.order)
