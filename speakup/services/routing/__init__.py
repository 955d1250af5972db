"""Routing: who a new report goes to, and why."""

from speakup.services.routing.decisions import Assignee, Decision, route, safety_officers

__all__ = ["Assignee", "Decision", "route", "safety_officers"]
