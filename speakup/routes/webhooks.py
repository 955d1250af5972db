"""Webhooks (admins): receivers of signed events, and every attempt to deliver to them."""

from __future__ import annotations

from typing import Any

from flask import Response

from speakup.routes.common import (
    JSON_BODY,
    Blueprint,
    problems,
    reads,
    requires,
    runtime,
    send,
)
from speakup.schemas.common import PageArgsSchema
from speakup.schemas.webhooks import (
    DeliveryPageSchema,
    WebhookCreateSchema,
    WebhookPageSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)
from speakup.services.notify import webhooks
from speakup.vocabulary import Role

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1",
                description="Webhooks: signed events for other systems")


@blp.route("/webhooks", methods=["POST"])
@requires(blp, Role.ADMIN)
@blp.arguments(WebhookCreateSchema())
@blp.response(201, WebhookSchema)
@problems(blp, *JSON_BODY)
def create_webhook(body: dict[str, Any]) -> Response:
    """Register a receiver.  Each event is POSTed as JSON with `X-Speakup-Signature:
    sha256=<hex HMAC-SHA256 of the body with the secret>`."""
    hook = webhooks.create(runtime().database, clock=runtime().clock, **body)
    return send(webhooks.wire(hook), 201)


@blp.route("/webhooks", methods=["GET"])
@requires(blp, Role.ADMIN)
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, WebhookPageSchema)
def list_webhooks(args: dict[str, Any]) -> Response:
    """Webhooks, oldest first (secrets are never shown)."""
    page = webhooks.list_webhooks(reads(), keys=runtime().keys, limit=args["limit"],
                                  cursor=args.get("cursor"))
    return send({"items": [webhooks.wire(h) for h in page.items],
                 "next_cursor": page.next_cursor})


@blp.route("/webhooks/<webhook_id>", methods=["GET"])
@requires(blp, Role.ADMIN)
@blp.response(200, WebhookSchema)
@problems(blp, 404)
def get_webhook(webhook_id: str) -> Response:
    return send(webhooks.wire(webhooks.get(reads(), webhook_id)))


@blp.route("/webhooks/<webhook_id>", methods=["PATCH"])
@requires(blp, Role.ADMIN)
@blp.arguments(WebhookUpdateSchema())
@blp.response(200, WebhookSchema)
@problems(blp, 404, *JSON_BODY)
def update_webhook(body: dict[str, Any], webhook_id: str) -> Response:
    """Change a webhook; `active: false` stops deliveries to it (deliveries not yet made
    end as dead)."""
    return send(webhooks.wire(webhooks.update(runtime().database, webhook_id=webhook_id,
                                              changes=body)))


@blp.route("/webhooks/<webhook_id>/deliveries", methods=["GET"])
@requires(blp, Role.ADMIN)
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, DeliveryPageSchema)
@problems(blp, 404)
def list_deliveries(args: dict[str, Any], webhook_id: str) -> Response:
    """Every attempt to deliver an event to this webhook, newest first."""
    page = webhooks.deliveries(reads(), keys=runtime().keys, webhook_id=webhook_id,
                               limit=args["limit"], cursor=args.get("cursor"))
    return send({"items": [webhooks.attempt_wire(a) for a in page.items],
                 "next_cursor": page.next_cursor})
