"""A report's history: the one writer of its timeline and of the audit log.

Every change to a report (submitted and routed; acknowledged, messages, assigned, escalated,
closed, reopened, feedback and action updates) is appended here, inside the command's write
block, so that what must accompany a change (the audit row today, the outbox event that
notifies next) is added in one place and in the same transaction.

:func:`entry` builds one timeline row and nothing else; :func:`append` writes rows (one
``executemany``).  The demo's bulk writer builds its rows with :func:`entry` too and changes
only how they reach the database.  :func:`record` is a workflow step: its timeline entries
and their audit rows.  :func:`read` audits a staff-side read in its own short transaction,
after the read.

The audit log says who (``actor_id``, None for the system and for an anonymous reporter),
what, which report, when.  The submission itself is not in it: the report's own
``created_at`` (and, for a named report, its reporter) says that already.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, insert, text
from sqlalchemy.orm import Session

from speakup.db import Database, in_write_block, table
from speakup.models import AuditEntry, ReportEvent

# The timeline's vocabulary; details never hold a reporter's identity.
EVENT_TYPES = (
    "submitted", "routed", "acknowledged", "message", "assigned", "escalated", "closed",
    "reopened", "feedback", "action_update",
)


_INSERT = insert(table(ReportEvent))
_AUDIT = insert(table(AuditEntry))
# What an audit row says was done besides the timeline's changes.
READ = "read"


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


def record(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """A workflow step: append its timeline rows (built by :func:`entry`) and one audit row
    for each, as part of the caller's change.

    On PostgreSQL a step's few rows go in one statement (the timeline's insert as a CTE of
    the audit log's), one round trip instead of two; SQLite has no round trips to save."""
    audits = [{"at": r["at"], "actor_id": r["actor_id"], "action": r["type"],
               "report_id": r["report_id"],
               "action_id": (r["details"] or {}).get("action_id")} for r in rows]
    connection = session.connection()
    if not (0 < len(rows) <= _ONE_STATEMENT and connection.dialect.name == "postgresql"):
        append(session, rows)
        audit(session, audits)
        return
    if not in_write_block():
        raise OutsideWriteBlock("a report's history is written inside a command's write block")
    values: dict[str, Any] = {}
    for i, (row, audited) in enumerate(zip(rows, audits, strict=True)):
        values.update({f"e_{name}_{i}": value for name, value in row.items()})
        values.update({f"a_{name}_{i}": value for name, value in audited.items()})
    connection.execute(_together(len(rows)), values)


# A step writes one to three timeline rows; more (an action's fan-out) take two statements.
_ONE_STATEMENT = 4
_TOGETHER: dict[int, TextClause] = {}


def _together(count: int) -> TextClause:
    """The timeline's and the audit log's insert of ``count`` rows each as one statement,
    built once per count (building a statement costs more than running it).  Text, because
    SQLAlchemy compiles a multi-row ``insert().values([...])`` anew on every execution."""
    stmt = _TOGETHER.get(count)
    if stmt is None:
        parts, binds = [], []
        for prefix, target, columns in (("e", table(ReportEvent), _ENTRY_COLUMNS),
                                        ("a", table(AuditEntry), _AUDIT_COLUMNS)):
            rows = ", ".join("(" + ", ".join(f":{prefix}_{name}_{i}" for name in columns) + ")"
                             for i in range(count))
            parts.append(f"INSERT INTO {target.name} ({', '.join(columns)}) VALUES {rows}")  # noqa: S608 - names are ours
            binds += [bindparam(f"{prefix}_{name}_{i}", type_=target.c[name].type)
                      for i in range(count) for name in columns]
        stmt = _TOGETHER[count] = text(
            f"WITH timeline AS ({parts[0]}) {parts[1]}").bindparams(*binds)
    return stmt


_ENTRY_COLUMNS = ("report_id", "type", "at", "actor_id", "details")
_AUDIT_COLUMNS = ("at", "actor_id", "action", "report_id", "action_id")


def audit(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append audit rows (``at``, ``actor_id``, ``action``, ``report_id``, ``action_id``)."""
    if not in_write_block():
        raise OutsideWriteBlock("the audit log is written inside a command's write block")
    if rows:
        session.connection().execute(_AUDIT, list(rows))


def read(db: Database, *, actor_id: str | None, report_id: str, at: datetime) -> None:
    """Audit a staff-side read of a report's details: its own short write block, after the
    read, so reading never holds SQLite's write lock for longer than this insert."""
    with db.write() as session:
        audit(session, [{"at": at, "actor_id": actor_id, "action": READ,
                         "report_id": report_id, "action_id": None}])
