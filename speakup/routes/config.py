"""Routing rules and the SLA policy: admins only.  A change applies to reports submitted
after it, on every API machine."""

from __future__ import annotations

from typing import Any

from speakup.routes.common import JSON_BODY, Blueprint, problems, reads, requires, runtime
from speakup.schemas.config import (
    RoutingRuleCreateSchema,
    RoutingRulePageSchema,
    RoutingRuleSchema,
    RoutingRuleUpdateSchema,
    SlaPolicyInputSchema,
    SlaPolicySchema,
)
from speakup.services.org import config
from speakup.services.reports.sla import Target

blp = Blueprint("configuration", __name__, url_prefix="/api/v1",
                description="Routing rules and the SLA policy")


# --- routing rules ---------------------------------------------------------------------


@blp.route("/routing-rules", methods=["GET"])
@requires(blp, "admin")
@blp.response(200, RoutingRulePageSchema)
def list_rules() -> dict[str, Any]:
    """Every routing rule, active or not, in the order they are tried.

    By priority (lowest number first), then oldest first; one page holds them all.
    """
    return {"items": config.list_rules(reads()), "next_cursor": None}


@blp.route("/routing-rules", methods=["POST"])
@requires(blp, "admin")
@blp.arguments(RoutingRuleCreateSchema())
@blp.response(201, RoutingRuleSchema)
@problems(blp, *JSON_BODY)
def create_rule(body: dict[str, Any]) -> dict[str, Any]:
    """Add a routing rule.

    The first active rule whose every condition matches a new report routes it to the users
    it names or to every active holder of its role (never the reporter; with
    `involves_leader`, never the leaders passed over).  A rule left with nobody falls through
    to the next, and then to the leaders of the report's unit.
    """
    return config.create_rule(runtime().database, clock=runtime().clock, **body)


@blp.route("/routing-rules/<rule_id>", methods=["GET"])
@requires(blp, "admin")
@blp.response(200, RoutingRuleSchema)
@problems(blp, 404)
def get_rule(rule_id: str) -> dict[str, Any]:
    """One routing rule."""
    return config.get_rule(reads(), rule_id)


@blp.route("/routing-rules/<rule_id>", methods=["PATCH"])
@requires(blp, "admin")
@blp.arguments(RoutingRuleUpdateSchema())
@blp.response(200, RoutingRuleSchema)
@problems(blp, 404, *JSON_BODY)
def update_rule(body: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """Change a routing rule; `active: false` deactivates it.

    `match` and `route_to` each replace the whole object.  New reports follow the change;
    reports routed before keep their assignees.
    """
    return config.update_rule(runtime().database, rule_id, **body)


# --- SLA policy --------------------------------------------------------------------------


@blp.route("/sla-policy", methods=["GET"])
@requires(blp, "admin")
@blp.response(200, SlaPolicySchema)
def get_policy() -> dict[str, Target]:
    """The SLA policy: hours to acknowledge and to close the loop, per kind and for
    immediate risk."""
    return config.get_policy(reads())


@blp.route("/sla-policy", methods=["PUT"])
@requires(blp, "admin")
@blp.arguments(SlaPolicyInputSchema())
@blp.response(200, SlaPolicySchema)
@problems(blp, *JSON_BODY)
def set_policy(body: dict[str, Target]) -> dict[str, Target]:
    """Replace the whole SLA policy.

    Whole hours from 1, at most 168 to acknowledge and 2160 to close the loop (the EU
    Whistleblowing Directive's 7 days and 3 months), and never more to acknowledge than to
    close.  Reports submitted before keep their due times.
    """
    return config.set_policy(runtime().database, body)
