"""The configuration a submission is routed and timed by: the active routing rules and the SLA
policy in force, kept in process memory as a copy that is checked on every submission.

Every change of a rule or of the policy raises ``config_version.version`` in its own
transaction (:mod:`speakup.services.org.config`).  Intake reads that version as one more
column of the statement that reads the report's unit (:data:`VERSION`), and
:func:`in_force` reloads rules and policy only when it differs from the copy's: a change made
through one API machine reaches every other at its next submission, and a submission costs
no statement for its configuration while nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.db import table
from speakup.models import ConfigVersion, RoutingRule, SlaTarget
from speakup.services.reports.sla import DEFAULT_POLICY, POLICY_KEYS, Target
from speakup.services.routing.rules import Rule

# The one row of config_version; a database without it (never migrated to 0004's seed, or
# emptied by a test) reads as version None, with no rules and the default policy.
VERSION_ROW = 1
VERSION = (
    select(ConfigVersion.version).where(ConfigVersion.id == VERSION_ROW)
    .scalar_subquery().label("config_version_")
)

_RULES = (
    select(table(RoutingRule)).where(RoutingRule.active.is_(True))
    .order_by(RoutingRule.priority, RoutingRule.created_at, RoutingRule.id)
)
_POLICY = select(SlaTarget.kind, SlaTarget.ack_hours, SlaTarget.close_hours)


@dataclass(frozen=True)
class InForce:
    """The active rules (in the order they are tried) and the SLA policy, as of ``version``."""

    version: int | None
    rules: tuple[Rule, ...]
    policy: Mapping[str, Target]


# By database (its URL, password hidden): a process may talk to more than one (tests, tools).
_copies: dict[str, InForce] = {}


def in_force(session: Session, version: int | None) -> InForce:
    """The configuration as of ``version`` (read with :data:`VERSION` in the caller's
    transaction): the process's copy when it is of that version, else read now (two
    statements) and kept.  Safe with threads: a copy is replaced whole, never changed."""
    key = _key(session)
    copy = _copies.get(key)
    if copy is not None and copy.version == version:
        return copy
    # Read after the version: on PostgreSQL a newer change may show, never an older one, so
    # the copy is at worst ahead of its version and is then read again at the next change.
    copy = load(session, version)
    _copies[key] = copy
    return copy


def load(session: Session, version: int | None = None) -> InForce:
    """Read the active rules and the policy (kinds missing from the table take the contract's
    defaults)."""
    connection = session.connection()
    rules = tuple(Rule.of(row) for row in connection.execute(_RULES))
    policy: dict[str, Target] = {key: DEFAULT_POLICY[key] for key in POLICY_KEYS}
    for kind, ack_hours, close_hours in connection.execute(_POLICY):
        if kind in policy:
            policy[kind] = Target(ack_hours, close_hours)
    return InForce(version, rules, MappingProxyType(policy))


def forget() -> None:
    """Drop every copy (tests that empty the tables under a running process use this)."""
    _copies.clear()


def _key(session: Session) -> str:
    bind: Any = session.get_bind()
    return str(bind.url)
