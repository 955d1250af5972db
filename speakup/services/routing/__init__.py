"""Routing: who a new report goes to, and why."""

from speakup.services.routing.config import VERSION, InForce, in_force
from speakup.services.routing.decisions import (
    Decision,
    decide,
    leaders_above,
    next_leaders_up,
    route,
    safety_officers,
)
from speakup.services.routing.rules import Facts, Rule
from speakup.services.routing.tree import Assignee, DatabaseTree, Tree, UnitNode, level_statement

__all__ = [
    "VERSION", "Assignee", "DatabaseTree", "Decision", "Facts", "InForce", "Rule", "Tree",
    "UnitNode", "decide", "in_force", "leaders_above", "level_statement", "next_leaders_up",
    "route", "safety_officers",
]
