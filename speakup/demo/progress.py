"""Progress reporting for long demo runs: a protocol, and the silent default."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol


class ProgressBar(Protocol):
    def update(self, n_steps: int, /) -> None: ...


Progress = Callable[[int, str], AbstractContextManager[ProgressBar]]


class SilentBar:
    def update(self, n_steps: int, /) -> None:
        """Ignore progress."""


def quiet(total: int, label: str) -> AbstractContextManager[ProgressBar]:
    """A progress callable that shows nothing (the default of :func:`seed`)."""
    return nullcontext(SilentBar())
