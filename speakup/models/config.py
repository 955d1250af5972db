"""The organisation's configuration that routing and due times read: routing rules, the SLA
policy, and the version that every change of either raises.

Intake reads the version with the report's unit (no statement of its own) and reloads rules
and policy only when it changed, so a change on one machine reaches every other at its next
submission while nothing but a copy lives in process memory.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from speakup.db import Base
from speakup.services.core.ids import new_id

ID = String(32)


class RoutingRule(Base):
    """Admin routing: the first active rule (lowest ``priority``, then oldest) whose every set
    condition matches routes the report to ``route_user_ids`` or to every holder of
    ``route_role``."""

    __tablename__ = "routing_rules"
    __table_args__ = (Index("ix_routing_rules_order", "priority", "created_at", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    match_kind: Mapped[str | None] = mapped_column(String(20))
    match_category: Mapped[str | None] = mapped_column(ForeignKey("categories.id"))
    match_unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    match_immediate_risk: Mapped[bool | None]
    route_user_ids: Mapped[list[str] | None] = mapped_column(JSON)
    route_role: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]


class SlaTarget(Base):
    """Hours to acknowledge and to close the loop, per kind and for immediate risk."""

    __tablename__ = "sla_policy"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    ack_hours: Mapped[int] = mapped_column(Integer)
    close_hours: Mapped[int] = mapped_column(Integer)


class ConfigVersion(Base):
    """One row: raised in the transaction of every routing-rule or SLA-policy change."""

    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
