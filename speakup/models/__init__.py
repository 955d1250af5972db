"""Typed tables.  No business logic and no Flask here: services own the behaviour."""

from speakup.models.auth import RevokedToken
from speakup.models.config import ConfigVersion, RoutingRule, SlaTarget
from speakup.models.notify import Delivery, DeliveryAttempt, OutboxEvent, Webhook
from speakup.models.org import (
    ROLES,
    Category,
    Unit,
    UnitLeader,
    User,
    UserRole,
)
from speakup.models.reports import (
    ActionReport,
    ActionUpdate,
    AuditEntry,
    Feedback,
    IdempotencyRecord,
    ImprovementAction,
    Message,
    ReferenceCounter,
    Report,
    ReportAssignee,
    ReportEvent,
)

__all__ = [
    "ROLES",
    "ActionReport",
    "ActionUpdate",
    "AuditEntry",
    "Category",
    "ConfigVersion",
    "Delivery",
    "DeliveryAttempt",
    "Feedback",
    "IdempotencyRecord",
    "ImprovementAction",
    "Message",
    "OutboxEvent",
    "ReferenceCounter",
    "Report",
    "ReportAssignee",
    "ReportEvent",
    "RevokedToken",
    "RoutingRule",
    "SlaTarget",
    "Unit",
    "UnitLeader",
    "User",
    "UserRole",
    "Webhook",
]
