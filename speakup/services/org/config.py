"""Routing rules and the SLA policy: what admins configure for routing and due times.

Rules are never deleted (reports record the reasons they were routed for); they are
deactivated.  Every change, of a rule or of the policy, raises ``config_version`` by one in its
own transaction, which is how every API machine notices it at its next submission (see
:mod:`speakup.services.routing.config`).  A change affects new reports only: a report keeps
the assignees and SLA it was created with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import Session

from speakup.db import Database, table
from speakup.models import Category, ConfigVersion, RoutingRule, SlaTarget, Unit, User, UserRole
from speakup.services.core.clock import Clock
from speakup.services.core.errors import Invalid, NotFound
from speakup.services.reports import sla
from speakup.services.reports.sla import Target
from speakup.services.routing.config import VERSION_ROW
from speakup.services.routing.tree import CAN_ACT
from speakup.vocabulary import Kind, values

KINDS = values(Kind)
MAX_PRIORITY = 1_000_000
MAX_ROUTE_USERS = 50


@dataclass(frozen=True)
class Match:
    """A rule's conditions; None matches anything."""

    kind: str | None = None
    category: str | None = None
    unit_id: str | None = None
    immediate_risk: bool | None = None


@dataclass(frozen=True)
class RouteTo:
    """Whom a rule routes to: the named users, or every holder of a role (exactly one)."""

    user_ids: Sequence[str] | None = None
    role: str | None = None


# --- routing rules -------------------------------------------------------------------------


def list_rules(session: Session) -> list[dict[str, Any]]:
    """Every rule, active or not, in the order they are tried."""
    stmt = select(RoutingRule).order_by(RoutingRule.priority, RoutingRule.created_at,
                                        RoutingRule.id)
    return [rule_wire(rule) for rule in session.scalars(stmt)]


def get_rule(session: Session, rule_id: str) -> dict[str, Any]:
    return rule_wire(_rule(session, rule_id))


def create_rule(
    db: Database, *, clock: Clock, name: str, priority: int, match: Match, route_to: RouteTo,
    active: bool = True,
) -> dict[str, Any]:
    """Add a rule (checked against the organisation: 422 for what does not exist)."""
    _check_fields(name=name, priority=priority)
    with db.write() as session:
        rule = RoutingRule(name=name, priority=priority, active=active,
                           created_at=clock.now())
        _set_match(session, rule, match)
        _set_route(session, rule, route_to)
        session.add(rule)
        raise_version(session)
        session.flush()
        return rule_wire(rule)


def update_rule(db: Database, rule_id: str, *, name: str | None = None,
                priority: int | None = None, active: bool | None = None,
                match: Match | None = None, route_to: RouteTo | None = None
                ) -> dict[str, Any]:
    """Change what is given: ``match`` and ``route_to`` each replace the rule's whole
    conditions or target; ``active: False`` deactivates."""
    _check_fields(name=name, priority=priority)
    with db.write() as session:
        rule = _rule(session, rule_id)
        if name is not None:
            rule.name = name
        if priority is not None:
            rule.priority = priority
        if active is not None:
            rule.active = active
        if match is not None:
            _set_match(session, rule, match)
        if route_to is not None:
            _set_route(session, rule, route_to)
        raise_version(session)
        session.flush()
        return rule_wire(rule)


def rule_wire(rule: RoutingRule) -> dict[str, Any]:
    """A rule in the contract's shape; ``match`` holds only the conditions it sets."""
    conditions = {"kind": rule.match_kind, "category": rule.match_category,
                  "unit_id": rule.match_unit_id, "immediate_risk": rule.match_immediate_risk}
    route_to: dict[str, Any] = (
        {"user_ids": list(rule.route_user_ids)} if rule.route_user_ids is not None
        else {"role": rule.route_role})
    return {"id": rule.id, "name": rule.name, "priority": rule.priority, "active": rule.active,
            "match": {k: v for k, v in conditions.items() if v is not None},
            "route_to": route_to, "created_at": rule.created_at}


def _rule(session: Session, rule_id: str) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound("No such routing rule.")
    return rule


def _check_fields(*, name: str | None, priority: int | None) -> None:
    if name is not None and not 1 <= len(name) <= 200:
        raise Invalid.field("name", "Must be 1 to 200 characters.")
    if priority is not None and not 0 <= priority <= MAX_PRIORITY:
        raise Invalid.field("priority", f"Must be from 0 to {MAX_PRIORITY}.")


def _set_match(session: Session, rule: RoutingRule, match: Match) -> None:
    errors: dict[str, list[str]] = {}
    if match.kind is not None and match.kind not in KINDS:
        errors["match.kind"] = [f"Must be one of: {', '.join(KINDS)}."]
    if match.category is not None:
        category = session.get(Category, match.category)
        if category is None or not category.active:
            errors["match.category"] = ["Not one of the active categories."]
    if match.unit_id is not None:
        unit = session.get(Unit, match.unit_id)
        if unit is None or not unit.active:
            errors["match.unit_id"] = ["No such active unit."]
    if errors:
        raise Invalid("Some fields are not valid; see errors.", errors=errors)
    rule.match_kind = match.kind
    rule.match_category = match.category
    rule.match_unit_id = match.unit_id
    rule.match_immediate_risk = match.immediate_risk


def _set_route(session: Session, rule: RoutingRule, route_to: RouteTo) -> None:
    if (route_to.user_ids is None) == (route_to.role is None):
        raise Invalid.field("route_to", "Give exactly one of user_ids and role.")
    if route_to.role is not None:
        if route_to.role not in CAN_ACT:
            raise Invalid.field("route_to.role", "Reports can be routed only to a role that "
                                f"can act on them: {', '.join(CAN_ACT)}.")
        rule.route_user_ids, rule.route_role = None, route_to.role
        return
    wanted = list(dict.fromkeys(route_to.user_ids or ()))  # in the order given, once each
    if not 1 <= len(wanted) <= MAX_ROUTE_USERS:
        raise Invalid.field("route_to.user_ids", f"Name 1 to {MAX_ROUTE_USERS} users.")
    able = set(session.scalars(
        select(User.id).where(User.id.in_(wanted), User.active.is_(True),
                              select(UserRole.user_id).where(UserRole.user_id == User.id,
                                                             UserRole.role.in_(CAN_ACT))
                              .exists())))
    missing = [uid for uid in wanted if uid not in able]
    if missing:
        raise Invalid.field("route_to.user_ids", "Not active users who can act on reports "
                            f"(leaders or safety officers): {', '.join(missing)}.")
    rule.route_user_ids, rule.route_role = wanted, None


# --- SLA policy ----------------------------------------------------------------------------


def get_policy(session: Session) -> dict[str, Target]:
    """The policy in force, every entry (kinds never set take the contract's defaults)."""
    policy = {key: sla.DEFAULT_POLICY[key] for key in sla.POLICY_KEYS}
    for row in session.scalars(select(SlaTarget)):
        if row.kind in policy:
            policy[row.kind] = Target(row.ack_hours, row.close_hours)
    return policy


def set_policy(db: Database, policy: Mapping[str, Target]) -> dict[str, Target]:
    """Replace the whole policy (every entry; 422 beyond the EU ceilings or with more hours
    to acknowledge than to close).  Reports created before keep their due times."""
    errors = sla.problems(policy)
    if errors:
        raise Invalid("Some fields are not valid; see errors.", errors=errors)
    with db.write() as session:
        existing = {row.kind: row for row in session.scalars(select(SlaTarget))}
        for key in sla.POLICY_KEYS:
            wanted = policy[key]
            row = existing.get(key)
            if row is None:
                session.add(SlaTarget(kind=key, ack_hours=wanted.ack_hours,
                                      close_hours=wanted.close_hours))
            else:
                row.ack_hours, row.close_hours = wanted.ack_hours, wanted.close_hours
        raise_version(session)
    return {key: policy[key] for key in sla.POLICY_KEYS}


# --- the version ---------------------------------------------------------------------------

_VERSIONS = table(ConfigVersion)
_RAISE = (update(_VERSIONS).where(_VERSIONS.c.id == VERSION_ROW)
          .values(version=_VERSIONS.c.version + 1))


def raise_version(session: Session) -> None:
    """Raise ``config_version`` by one, in the caller's transaction (the row is locked until
    it ends, so concurrent changes take turns and each gets its own number)."""
    connection = session.connection()
    result = cast(CursorResult[Any], connection.execute(_RAISE))
    if result.rowcount == 0:  # a database whose row is missing (emptied tables)
        connection.execute(insert(_VERSIONS), [{"id": VERSION_ROW, "version": 1}])
