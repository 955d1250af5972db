"""Each test here starts without a process copy of the configuration.

The tests empty every table between them, ``config_version`` too, so the version a test's
first change writes (1) can equal the one of a copy an earlier test left behind; a real
database never loses its row, and its version only grows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from speakup.services.routing import config


@pytest.fixture(autouse=True)
def no_copy_of_the_configuration() -> Iterator[None]:
    config.forget()
    yield
    config.forget()
