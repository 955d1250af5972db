"""A report's history: the one writer of its timeline.

Every change to a report (submitted and routed today; acknowledged, messages, assigned,
escalated, closed, reopened, feedback and action updates as the workflow arrives) is appended
here, inside the command's write block, so that what must accompany a change (the outbox
event that notifies, the audit row) is added in one place and in the same transaction.

:func:`entry` builds one timeline row and nothing else; :func:`append` writes rows (one
``executemany``).  The demo's bulk writer builds its rows with :func:`entry` too and changes
only how they reach the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from speakup.db import in_write_block, table
from speakup.models import ReportEvent

# The timeline's vocabulary; details never hold a reporter's identity.
EVENT_TYPES = frozenset({
    "submitted", "routed", "acknowledged", "message", "assigned", "escalated", "closed",
    "reopened", "feedback", "action_update",
})


_INSERT = insert(table(ReportEvent))


class OutsideWriteBlock(RuntimeError):
    """History was written outside a command's ``with database.write()``."""


def _same(value: Any) -> Any:
    return value


def entry(*, report_id: str, type: str, at: Any, actor_id: str | None = None,
          details: dict[str, Any] | None = None,
          json: Callable[[dict[str, Any]], Any] = _same) -> dict[str, Any]:
    """One timeline row, as a dict of column values (``json`` turns ``details`` into what a
    bulk writer sends; SQLAlchemy's own insert takes the dict as it is).

    ``actor_id`` is None for the system and for an anonymous reporter.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown timeline entry {type!r}")
    return {"report_id": report_id, "type": type, "at": at, "actor_id": actor_id,
            "details": json(details or {})}


def append(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append timeline rows built by :func:`entry`, as part of the caller's change."""
    if not in_write_block():
        raise OutsideWriteBlock("a report's history is written inside a command's write block")
    if rows:
        session.connection().execute(_INSERT, list(rows))


def record(session: Session, *, report_id: str, type: str, at: datetime,
           actor_id: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Append one entry to the report's timeline, as part of the caller's change."""
    append(session, [entry(report_id=report_id, type=type, at=at, actor_id=actor_id,
                           details=details)])
