"""Typed tables.  No business logic and no Flask here: services own the behaviour."""

from speakup.models.org import (
    ROLES,
    Category,
    RevokedToken,
    Unit,
    UnitLeader,
    User,
    UserRole,
)
from speakup.models.report import (
    IdempotencyRecord,
    Message,
    ReferenceCounter,
    Report,
    ReportAssignee,
    ReportEvent,
)

__all__ = [
    "ROLES",
    "Category",
    "IdempotencyRecord",
    "Message",
    "ReferenceCounter",
    "Report",
    "ReportAssignee",
    "ReportEvent",
    "RevokedToken",
    "Unit",
    "UnitLeader",
    "User",
    "UserRole",
]
