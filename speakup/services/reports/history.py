"""A report's history: the one writer of its timeline and of the audit log.

Every change to a report (submitted and routed; acknowledged, messages, assigned, escalated,
closed, reopened, feedback and action updates) is appended here, inside the command's write
block, so that what must accompany a change (its audit rows, and for the entries in
:data:`ANNOUNCED` an outbox event that the worker delivers to webhooks and by e-mail) is added
in one place and in the same transaction: a change that fails leaves no event, a change that
commits always has one.

:func:`entry` builds one timeline row and nothing else, :func:`audit_rows` the audit rows of
timeline rows; :func:`append` writes rows (one ``executemany``) with their outbox events.  The
demo's bulk writer builds its rows with :func:`entry` and :func:`audit_rows` too and changes
only how they reach the database (its history is the past: it announces nothing).
:func:`record` is a workflow step: its timeline entries, their audit rows and outbox events.
:func:`read` audits a staff-side read in its own short transaction, after the read.

The audit log says who (``actor_id``, None for the system and for an anonymous reporter),
what, which report, when.  The submission itself is not in it: the report's own
``created_at`` (and, for a named report, its reporter) says that already.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, insert, text
from sqlalchemy.orm import Session

from speakup.db import Database, in_write_block, table
from speakup.models import AuditEntry, OutboxEvent, ReportEvent
from speakup.services.core.ids import new_id

# The timeline's vocabulary; details never hold a reporter's identity.
EVENT_TYPES = (
    "submitted", "routed", "acknowledged", "message", "assigned", "escalated", "closed",
    "reopened", "feedback", "action_update",
)


# The entries announced to webhooks and by e-mail, with their event names: written to the
# outbox in the change's transaction (the worker delivers them).
ANNOUNCED = {
    "routed": "report.routed", "escalated": "report.escalated",
    "acknowledged": "report.acknowledged", "message": "report.message",
    "closed": "report.closed", "assigned": "report.assigned",
}
EVENT_NAMES = tuple(ANNOUNCED.values())

_INSERT = insert(table(ReportEvent))
_AUDIT = insert(table(AuditEntry))
_OUTBOX = insert(table(OutboxEvent))
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


@dataclass(frozen=True)
class Notify:
    """Whom an announced entry is e-mailed to: these users, and with ``assignees`` the
    report's active assignees when the event is delivered."""

    user_ids: tuple[str, ...] = ()
    assignees: bool = False


_NOBODY = Notify()


def announced(rows: Sequence[dict[str, Any]], *, status: str | None,
              notify: Mapping[str, Notify] | None = None) -> list[dict[str, Any]]:
    """The outbox rows of the announced entries among ``rows`` (see :data:`ANNOUNCED`), for a
    report whose status is ``status`` after the change; ``notify`` by entry type."""
    events = []
    for row in rows:
        name = ANNOUNCED.get(row["type"])
        if name is None:
            continue
        if status is None:
            raise ValueError(f"a {row['type']!r} entry is announced: give the report's status")
        who = (notify or {}).get(row["type"], _NOBODY)
        events.append({"id": new_id(), "type": name, "occurred_at": row["at"],
                       "report_id": row["report_id"], "status": status,
                       "notify_user_ids": list(dict.fromkeys(who.user_ids)),
                       "notify_assignees": who.assignees, "dispatched": False})
    return events


def append(session: Session, rows: Sequence[dict[str, Any]], *, status: str | None = None,
           notify: Mapping[str, Notify] | None = None) -> None:
    """Append timeline rows built by :func:`entry`, and the outbox events of those announced,
    as part of the caller's change (``status`` is the report's after it)."""
    _check(session)
    _insert(session, rows, announced(rows, status=status, notify=notify))


def record(session: Session, rows: Sequence[dict[str, Any]], *, status: str | None = None,
           notify: Mapping[str, Notify] | None = None) -> None:
    """A workflow step: append its timeline rows (built by :func:`entry`), one audit row for
    each and the outbox events of those announced, as part of the caller's change
    (``status`` is the report's after it; ``notify`` says whom to e-mail, by entry type).

    On PostgreSQL a step's few rows go in one statement (the timeline's and the outbox's
    inserts as CTEs of the audit log's), one round trip instead of three; SQLite has no round
    trips to save."""
    _check(session)
    audits = audit_rows(rows)
    events = announced(rows, status=status, notify=notify)
    connection = session.connection()
    if not (0 < len(rows) <= _ONE_STATEMENT and connection.dialect.name == "postgresql"):
        _insert(session, rows, events)
        audit(session, audits)
        return
    values: dict[str, Any] = {}
    for prefix, written in (("e", rows), ("a", audits), ("o", events)):
        for i, row in enumerate(written):
            values.update({f"{prefix}_{name}_{i}": value for name, value in row.items()})
    connection.execute(_together(len(rows), len(events)), values)


def audit_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit row of each timeline row built by :func:`entry` (with its details as a
    dict): who did what to which report when, and the improvement action it was about."""
    return [{"at": r["at"], "actor_id": r["actor_id"], "action": r["type"],
             "report_id": r["report_id"],
             "action_id": (r["details"] or {}).get("action_id")} for r in rows]


def _insert(session: Session, rows: Sequence[dict[str, Any]],
            events: Sequence[dict[str, Any]]) -> None:
    """Timeline rows and outbox events, one ``executemany`` each."""
    connection = session.connection()
    if rows:
        connection.execute(_INSERT, list(rows))
    if events:
        connection.execute(_OUTBOX, list(events))


def _check(session: Session) -> None:
    if not in_write_block():
        raise OutsideWriteBlock("a report's history is written inside a command's write block")


# A step writes one to three timeline rows; more (an action's fan-out) take several statements.
_ONE_STATEMENT = 4
_TOGETHER: dict[tuple[int, int], TextClause] = {}


def _together(count: int, events: int) -> TextClause:
    """The timeline's, the outbox's and the audit log's inserts of ``count``, ``events`` and
    ``count`` rows as one statement, built once per shape (building a statement costs more
    than running it).  Text, because SQLAlchemy compiles a multi-row ``insert().values([...])``
    anew on every execution."""
    stmt = _TOGETHER.get((count, events))
    if stmt is None:
        parts, binds = [], []
        for prefix, target, rows in (("e", table(ReportEvent), count),
                                     ("o", table(OutboxEvent), events),
                                     ("a", table(AuditEntry), count)):
            if not rows:
                continue
            columns = _COLUMNS[prefix]
            values = ", ".join("(" + ", ".join(f":{prefix}_{name}_{i}" for name in columns)
                               + ")" for i in range(rows))
            parts.append(f"INSERT INTO {target.name} ({', '.join(columns)}) "  # noqa: S608
                         f"VALUES {values}")
            binds += [bindparam(f"{prefix}_{name}_{i}", type_=target.c[name].type)
                      for i in range(rows) for name in columns]
        *ctes, last = parts
        with_ = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(ctes))
        stmt = _TOGETHER[(count, events)] = text(f"WITH {with_} {last}").bindparams(*binds)
    return stmt


_COLUMNS = {
    "e": ("report_id", "type", "at", "actor_id", "details"),
    "a": ("at", "actor_id", "action", "report_id", "action_id"),
    "o": ("id", "type", "occurred_at", "report_id", "status", "notify_user_ids",
          "notify_assignees", "dispatched"),
}


def audit(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append audit rows (``at``, ``actor_id``, ``action``, ``report_id``, ``action_id``)."""
    _check(session)
    if rows:
        session.connection().execute(_AUDIT, list(rows))


def read(db: Database, *, actor_id: str | None, report_id: str, at: datetime) -> None:
    """Audit a staff-side read of a report's details: its own short write block, after the
    read, so reading never holds SQLite's write lock for longer than this insert."""
    with db.write() as session:
        audit(session, [{"at": at, "actor_id": actor_id, "action": READ,
                         "report_id": report_id, "action_id": None}])
