"""Webhooks (admins): where events go, signed with a secret the receiver shares.

Each delivery is a POST of the event as JSON with ``X-Speakup-Signature: sha256=<hex>``, the
HMAC-SHA256 of the exact body with the webhook's secret.  The secret is write-only: the API
never sends it back.  Webhooks are deactivated, never deleted (their deliveries refer to them).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import DeliveryAttempt, Webhook
from speakup.services.core.clock import Clock
from speakup.services.core.errors import Invalid, NotFound
from speakup.services.core.keys import Keys
from speakup.services.core.pages import Page, paginate
from speakup.services.reports.history import EVENT_NAMES
from speakup.services.reports.views import iso

SIGNATURE_HEADER = "X-Speakup-Signature"


def signature(secret: str, body: bytes) -> str:
    """The ``X-Speakup-Signature`` value of ``body``: ``sha256=`` and the hex HMAC."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime


def wire(view: WebhookView) -> dict[str, Any]:
    return {"id": view.id, "url": view.url, "events": view.events, "active": view.active,
            "created_at": iso(view.created_at)}


def _view(hook: Webhook) -> WebhookView:
    return WebhookView(hook.id, hook.url, list(hook.events), hook.active, hook.created_at)


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid.field("url", "Must be an http:// or https:// URL with a host.")
    return url


def _checked_events(events: list[str] | None) -> list[str]:
    if events is None:
        return list(EVENT_NAMES)
    unknown = sorted(set(events) - set(EVENT_NAMES))
    if unknown or not events:
        raise Invalid.field("events", f"Must be a non-empty list of: {', '.join(EVENT_NAMES)}.")
    return [name for name in EVENT_NAMES if name in events]


def create(db: Database, *, clock: Clock, url: str, secret: str,
           events: list[str] | None = None, active: bool = True) -> WebhookView:
    hook = Webhook(url=_checked_url(url), secret=secret, events=_checked_events(events),
                   active=active, created_at=clock.now())
    with db.write() as session:
        session.add(hook)
        session.flush()
        return _view(hook)


def get(session: Session, webhook_id: str) -> WebhookView:
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound("No such webhook.")
    return _view(hook)


def update(db: Database, *, webhook_id: str, changes: dict[str, Any]) -> WebhookView:
    with db.write() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None:
            raise NotFound("No such webhook.")
        if "url" in changes:
            hook.url = _checked_url(changes["url"])
        if "secret" in changes:
            hook.secret = changes["secret"]
        if "events" in changes:
            hook.events = _checked_events(changes["events"])
        if "active" in changes:
            hook.active = changes["active"]
        session.flush()
        return _view(hook)


def list_webhooks(session: Session, *, keys: Keys, limit: int, cursor: str | None
                  ) -> Page[WebhookView]:
    stmt: Select[Any] = select(Webhook)
    page = paginate(session, stmt, [Webhook.created_at, Webhook.id], signing_key=keys.cursor,
                    limit=limit, cursor=cursor)
    return Page([_view(h) for h in page.items], page.next_cursor)


@dataclass(frozen=True, slots=True)
class AttemptView:
    id: int
    event_id: str
    attempt: int
    status_code: int | None
    error: str | None
    at: datetime
    state: str


def attempt_wire(view: AttemptView) -> dict[str, Any]:
    return {"id": str(view.id), "event_id": view.event_id, "attempt": view.attempt,
            "status_code": view.status_code, "error": view.error, "at": iso(view.at),
            "state": view.state}


def deliveries(session: Session, *, keys: Keys, webhook_id: str, limit: int,
               cursor: str | None) -> Page[AttemptView]:
    """Every attempt to deliver to the webhook, newest first."""
    get(session, webhook_id)
    stmt: Select[Any] = select(DeliveryAttempt).where(DeliveryAttempt.webhook_id == webhook_id)
    page = paginate(session, stmt, [DeliveryAttempt.id], signing_key=keys.cursor,
                    limit=limit, cursor=cursor, descending=True)
    return Page([AttemptView(a.id, a.event_id, a.attempt, a.status_code, a.error, a.at,
                             a.state) for a in page.items], page.next_cursor)
