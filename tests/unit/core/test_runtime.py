"""The composition root: one frozen Runtime, and the app uses exactly the one it is given."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from flask import Flask

from speakup import create_app
from speakup.routes.common import runtime as current_runtime
from speakup.runtime import Runtime
from speakup.services.core.clock import SettableClock
from speakup.settings import Settings


def test_a_runtime_is_frozen(settings: Settings):
    built = Runtime.build(settings)
    try:
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.clock = SettableClock()  # type: ignore[misc]
    finally:
        built.close()


def test_the_app_and_its_routes_use_the_runtime_they_are_given(settings: Settings):
    clock = SettableClock(datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC))
    built = Runtime.build(settings, clock=clock)
    try:
        app: Flask = create_app(runtime=built)
        with app.test_request_context("/"):
            assert current_runtime() is built
            assert current_runtime().clock.now() == datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)
    finally:
        built.close()


def test_only_serving_gets_the_short_database_timeouts(settings: Settings):
    serving, command = Runtime.build(settings, serving=True), Runtime.build(settings)
    try:
        assert serving.database.timeouts.pool_s == settings.db_pool_timeout
        assert command.database.timeouts.pool_s is None
    finally:
        serving.close()
        command.close()
