"""Reports and what hangs off them: assignees, timeline, messages, idempotency, references.

An anonymous report has ``reporter_id`` NULL and nothing else that points at a person; its
``receipt_hash`` is a keyed hash of the receipt key shown once to the reporter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from speakup.db import Base
from speakup.services.core.ids import new_id
from speakup.vocabulary import Status

ID = String(32)
METRICS_INDEX = ("unit_id", "created_at", "acknowledged_at", "ack_after_us", "id", "kind",
                 "category", "anonymous", "status", "closed_at", "ack_target_at",
                 "close_target_at", "reopen_count", "first_response_after_us",
                 "close_after_us", "would_speak_up_again", "assignee_ids")


def assignee_ids(user_ids: Iterable[str]) -> str | None:
    """``reports.assignee_ids`` for these active assignees: their ids sorted, spaces between
    (None for nobody)."""
    return " ".join(sorted(set(user_ids))) or None


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_created_at_id", "created_at", "id"),
        # A unit's reports by creation time, with every column the response-time metrics
        # and the huddle's median read: they read it alone, in the units' order, instead of
        # the table and a sort (a third of the table's size; SQLite has no INCLUDE, so the
        # columns are keys).
        Index("ix_reports_unit_id_created_at", *METRICS_INDEX),
        # The huddle: a unit's open reports, counted by SLA state and paged oldest first...
        Index("ix_reports_open_unit", "unit_id", "created_at", "id", "acknowledged_at",
              "ack_due_at", "close_due_at",
              postgresql_where=text("status <> 'closed'"),
              sqlite_where=text("status <> 'closed'")),
        # ...and its latest closings.
        Index("ix_reports_closed_unit", "unit_id", "last_closed_at", "id",
              postgresql_where=text("status = 'closed'"),
              sqlite_where=text("status = 'closed'")),
        # The escalation pass: open reports past a due time, below the top.
        Index("ix_reports_escalate_ack", "ack_due_at",
              postgresql_where=text("acknowledged_at IS NULL AND escalation_unit_id IS NOT NULL"),
              sqlite_where=text("acknowledged_at IS NULL AND escalation_unit_id IS NOT NULL")),
        Index("ix_reports_escalate_close", "close_due_at",
              postgresql_where=text("status <> 'closed' AND escalation_unit_id IS NOT NULL"),
              sqlite_where=text("status <> 'closed' AND escalation_unit_id IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(ForeignKey("categories.id"))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    immediate_risk: Mapped[bool] = mapped_column(default=False)
    anonymous: Mapped[bool] = mapped_column(default=False)
    involves_leader: Mapped[bool] = mapped_column(default=False)
    wants_involvement: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=Status.NEW.value, index=True)
    created_at: Mapped[datetime]
    ack_due_at: Mapped[datetime]
    close_due_at: Mapped[datetime]
    # The due times the report was created with: escalation moves ``ack_due_at`` and
    # ``close_due_at`` on, but the response-time metrics judge against these.
    ack_target_at: Mapped[datetime]
    close_target_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # the first closing (response-time metrics)
    last_closed_at: Mapped[datetime | None]  # the latest closing (the reporter's reopen window)
    # Microseconds from creation to acknowledged_at, first_response_at and closed_at, for the
    # metrics (speakup.services.reports.delays).
    ack_after_us: Mapped[int | None] = mapped_column(BigInteger)
    first_response_after_us: Mapped[int | None] = mapped_column(BigInteger)
    close_after_us: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(20))
    reopen_count: Mapped[int] = mapped_column(default=0)
    # The reporter's answer in their feedback (report_feedback), kept here too so that the
    # metrics count the answers in the same scan as everything else rather than in a join.
    would_speak_up_again: Mapped[str | None] = mapped_column(String(10))
    # The active assignees (report_assignees) too, as :func:`assignee_ids` writes them, so
    # that the metrics by leader read them from the metrics' index instead of joining the
    # assignees to a million reports.
    assignee_ids: Mapped[str | None] = mapped_column(Text)
    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    routing_reason: Mapped[str] = mapped_column(Text, default="")
    # The SLA the report was created under (a policy change affects new reports only); an
    # escalation moves the missed due time one of these periods later.
    sla_ack_hours: Mapped[int] = mapped_column(Integer, default=48)
    sla_close_hours: Mapped[int] = mapped_column(Integer, default=720)
    # How many times it was escalated, and the unit whose leaders hold it now (NULL once the
    # safety officers do: nothing above them to escalate to).
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalation_unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))


class ReportAssignee(Base):
    """Who a report is (``active``) or was assigned to.  ``report_created_at`` copies the
    report's creation time, so that a leader's inbox is one range of one index, newest first,
    however many reports the organisation has."""

    __tablename__ = "report_assignees"
    __table_args__ = (
        Index("ix_report_assignees_inbox", "user_id", "active", "report_created_at",
              "report_id"),
    )

    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    assigned_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)
    report_created_at: Mapped[datetime]


class ReportEvent(Base):
    """One line of a report's timeline; ``details`` never holds reporter identity."""

    __tablename__ = "report_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(10))
    internal: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class Feedback(Base):
    """The reporter's verdict on a closed loop: one per report, never tied to a person."""

    __tablename__ = "report_feedback"

    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    loop_closed: Mapped[str] = mapped_column(String(10))
    would_speak_up_again: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Who read or changed which report, when: append-only (on PostgreSQL a trigger refuses
    UPDATE and DELETE).  ``actor_id`` is None for the system and for a report's reporter on
    an anonymous report; ``report_id`` has no foreign key, so the log outlives what it
    names."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at_id", "at", "id"),
        Index("ix_audit_log_report_id_at", "report_id", "at"),
        Index("ix_audit_log_actor_id_at", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[str | None] = mapped_column(String(32))
    action_id: Mapped[str | None] = mapped_column(String(32))


class ImprovementAction(Base):
    """A change made because people spoke up ("label and link"), linked to their reports."""

    __tablename__ = "improvement_actions"
    __table_args__ = (
        Index("ix_improvement_actions_created_at_id", "created_at", "id"),
        # The huddle: a unit's actions in progress, counted and paged oldest first.
        Index("ix_improvement_actions_unit_status", "unit_id", "status", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))


class ActionReport(Base):
    __tablename__ = "action_reports"

    action_id: Mapped[str] = mapped_column(ForeignKey("improvement_actions.id"),
                                           primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), primary_key=True,
                                           index=True)
    linked_at: Mapped[datetime]


class ActionUpdate(Base):
    __tablename__ = "action_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("improvement_actions.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))


class IdempotencyRecord(Base):
    """The first response to a ``POST /reports`` with an ``Idempotency-Key``.

    ``key_hash`` is a keyed hash of the scope and the key; the receipt key of an anonymous
    report is not kept here (it is derived again from the idempotency key on a replay).
    """

    __tablename__ = "idempotency_records"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), index=True)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class ReferenceCounter(Base):
    """The last human reference number handed out per year (``SU-2026-000042``)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)
