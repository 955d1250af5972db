"""Notifications: the transactional outbox, webhooks, and every delivery and its attempts.

An outbox event is written in the transaction of the change it tells of (by the one writer of
a report's history).  The worker turns each event into deliveries, one per webhook that wants
it and one per person to e-mail, and works through them: claimed with a lease, delivered,
retried with backoff, dead after the last attempt.  Nothing here holds report text or a
reporter's identity.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from speakup.db import Base
from speakup.services.core.ids import new_id

ID = String(32)


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_waiting", "occurred_at", "id",
              postgresql_where=text("NOT dispatched"), sqlite_where=text("NOT dispatched")),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"), index=True)
    # The report's status when the event happened (the rest of the body never changes).
    status: Mapped[str] = mapped_column(String(20))
    # Whom to e-mail: these users, and the report's active assignees when dispatched.
    notify_user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    notify_assignees: Mapped[bool] = mapped_column(default=False)
    dispatched: Mapped[bool] = mapped_column(default=False)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    # Needed in clear to sign each body; never sent back by the API.
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Delivery(Base):
    """One event to one receiver: a webhook, or one person's mailbox."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "target"),
        Index("ix_deliveries_due", "next_attempt_at", "id",
              postgresql_where=text("state = 'pending'"),
              sqlite_where=text("state = 'pending'")),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"))
    # "webhook:<id>" or "email:<user id>"
    target: Mapped[str] = mapped_column(String(80))
    webhook_id: Mapped[str | None] = mapped_column(ForeignKey("webhooks.id"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # A worker's claim: another worker takes the delivery only after this (a killed worker's
    # deliveries are taken again once their lease runs out).
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_webhook", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    webhook_id: Mapped[str | None] = mapped_column(ForeignKey("webhooks.id"))
    event_id: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime]
    # The delivery's state after this attempt: pending (to be retried), delivered or dead.
    state: Mapped[str] = mapped_column(String(10))
