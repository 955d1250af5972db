"""A report's history: the one writer of its timeline.

Every change to a report (submitted and routed today; acknowledged, messages, assigned,
escalated, closed, reopened, feedback and action updates as the workflow arrives) is appended
here, inside the command's write block, so that what must accompany a change (the outbox
event that notifies, the audit row) is added in one place and in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from speakup.db import in_write_block
from speakup.models import ReportEvent

# The timeline's vocabulary; details never hold a reporter's identity.
EVENT_TYPES = frozenset({"submitted", "routed"})


class OutsideWriteBlock(RuntimeError):
    """History was written outside a command's ``with database.write()``."""


def record(session: Session, *, report_id: str, type: str, at: datetime,
           actor_id: str | None = None, details: dict[str, Any] | None = None) -> ReportEvent:
    """Append one entry to the report's timeline, as part of the caller's change.

    ``actor_id`` is None for the system and for an anonymous reporter.
    """
    if not in_write_block():
        raise OutsideWriteBlock("a report's history is written inside a command's write block")
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown timeline entry {type!r}")
    event = ReportEvent(report_id=report_id, type=type, at=at, actor_id=actor_id,
                        details=details or {})
    session.add(event)
    return event
