"""Making the next batch while the database takes the last one: a generator run in a forked
child process, its items handed over through a queue.

Building a batch of demo rows is Python's work and inserting it is mostly the database's
(SQLite's B-trees, PostgreSQL's server process), so on two cores the two overlap almost
wholly.  The child is forked, so it starts with everything the generator needs (the world
loaded from the database, the random generator's state) and needs nothing pickled but the
items it hands back; it never touches the parent's database connections, and it leaves with
``os._exit`` (as every forked multiprocessing child does), so nothing of them is closed
either.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
DEPTH = 2  # batches made ahead of the one being inserted
POLL = 1.0  # seconds between checks that the child is still alive


def available() -> bool:
    """Whether this platform forks (Windows does not; elsewhere the generator runs in place
    when it does not)."""
    return "fork" in multiprocessing.get_all_start_methods()


class BuilderFailed(RuntimeError):
    """The child process raised, or died; the message carries its traceback."""


def in_child(items: Callable[[], Iterable[T]], depth: int = DEPTH) -> Iterator[T]:
    """The items of ``items()``, made in a forked child at most ``depth`` ahead of the
    caller.  Closing the iterator early (or an error in the caller) stops the child."""
    context = multiprocessing.get_context("fork")
    handover: Any = context.Queue(maxsize=depth)
    child = context.Process(target=_produce, args=(items, handover), daemon=True,
                            name="speakup-demo-builder")
    child.start()
    try:
        while True:
            try:
                kind, value = handover.get(timeout=POLL)
            except queue.Empty:
                if not child.is_alive():
                    raise BuilderFailed(
                        f"the demo's builder process died (exit code {child.exitcode})"
                    ) from None
                continue
            if kind == "done":
                break
            if kind == "failed":
                raise BuilderFailed(f"the demo's builder process failed:\n{value}")
            yield value
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        handover.close()
        handover.cancel_join_thread()


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """No cyclic garbage collection for the duration (then as before): bulk rows are lists,
    dicts and tuples, freed by reference counting, and the collector's passes over millions
    of young ones (made by unpickling or building a batch) cost a fifth of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _produce(items: Callable[[], Iterable[Any]], handover: Any) -> None:
    # No cyclic garbage collection in the child: what it inherited is frozen (never scanned,
    # never copied on write), and a builder's rows are lists, dicts and tuples that reference
    # counting frees; collections of its ever-growing young objects took a quarter of its time.
    gc.freeze()
    with without_cycle_collection():
        try:
            for item in items():
                handover.put(("item", item))
        except BaseException:  # noqa: BLE001 - handed to the parent, which raises it
            handover.put(("failed", traceback.format_exc()))
        else:
            handover.put(("done", None))
