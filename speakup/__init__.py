"""speakup: make it safe for healthcare staff to speak up, and prove that somebody listened.

Importing the package imports no web framework, so the services stay usable (and testable)
without Flask; :func:`create_app` loads the web layer when it is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from speakup.runtime import Runtime
    from speakup.services.core.clock import Clock
    from speakup.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               runtime: Runtime | None = None) -> Flask:
    """The one place that wires speakup together (see :mod:`speakup.app`)."""
    from speakup.app import create_app as build

    return build(settings, clock=clock, runtime=runtime)
