"""Routing: who a new report goes to, and why."""

from speakup.services.routing.decisions import Decision, route, safety_officers

__all__ = ["Decision", "route", "safety_officers"]
