"""speakup's vocabulary, shared by models, services and schemas: kinds of report, statuses,
outcomes and roles.  Each is a ``StrEnum``, so its members are the strings the API and the
database use."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    CONCERN = "concern"
    GAP = "gap"
    OPPORTUNITY = "opportunity"


class Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Outcome(StrEnum):
    ACTIONED = "actioned"
    PLANNED = "planned"
    NOT_ACTIONED = "not_actioned"
    REFERRED = "referred"
    DUPLICATE = "duplicate"


class Role(StrEnum):
    STAFF = "staff"
    LEADER = "leader"
    SAFETY_OFFICER = "safety_officer"
    ADMIN = "admin"


def values(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """The strings of a vocabulary, in declaration order (for validation and the spec)."""
    return tuple(member.value for member in vocabulary)
