"""What routing knows about the organisation: units and their parents, the active leaders of a
unit, the active holders of a role, and which named users can still take a report.

:class:`Tree` is that knowledge as a small protocol, so that the decision itself
(:func:`speakup.services.routing.decisions.decide`) is a pure function: its unit tests hand it
a tree held in memory.  :class:`DatabaseTree` is the one the service uses.  It reads lazily,
one statement per level of the unit tree (a unit together with its active leaders), and
remembers what it read, so a decision that stops at the report's own unit -- most do -- reads
one level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from speakup.models import Unit, UnitLeader, User, UserRole
from speakup.vocabulary import Role

# Who can act on a report assigned to them (see speakup.services.reports.access): a named
# user or a role a routing rule routes to must be one of these to be an assignee.
CAN_ACT = (Role.LEADER.value, Role.SAFETY_OFFICER.value)


class Assignee(NamedTuple):
    id: str
    name: str


class UnitNode(NamedTuple):
    """A unit as routing sees it."""

    id: str
    name: str
    parent_id: str | None


class Tree(Protocol):
    """The organisation, as much of it as routing asks about.  Every list is in a stable order
    (by name, then id) and holds active users only."""

    def unit(self, unit_id: str) -> UnitNode | None:
        """The unit, or None if there is no such unit."""

    def leaders(self, unit_id: str) -> Sequence[Assignee]:
        """The active users who lead the unit and hold the leader role."""

    def holders(self, role: str) -> Sequence[Assignee]:
        """The active users who hold ``role``."""

    def users(self, ids: Sequence[str]) -> Sequence[Assignee]:
        """The users among ``ids`` who are active and can act on a report (:data:`CAN_ACT`)."""


# Built once: building a statement costs more than running it.
_ACTIVE_LEADERS = (
    select(UnitLeader.unit_id, User.id, User.name)
    .join(User, User.id == UnitLeader.user_id)
    .join(UserRole, UserRole.user_id == User.id)
    .where(User.active.is_(True), UserRole.role == Role.LEADER.value)
    .subquery("active_leaders")
)


def level_statement(*columns: Any) -> Select[Any]:
    """One level of the tree in one statement: the unit ``:unit_id`` (all its columns, and
    ``columns``), once per active leader (``leader_id_``, ``leader_name_``, by name), or once
    with NULLs when it has none.  Intake reads the report's unit this way, with what it checks
    beside it; :meth:`DatabaseTree.seeded` takes the rows."""
    return (
        select(Unit.__table__, *columns,
               _ACTIVE_LEADERS.c.id.label("leader_id_"),
               _ACTIVE_LEADERS.c.name.label("leader_name_"))
        .outerjoin(_ACTIVE_LEADERS, _ACTIVE_LEADERS.c.unit_id == Unit.id)
        .where(Unit.id == bindparam("unit_id"))
        .order_by(_ACTIVE_LEADERS.c.name, _ACTIVE_LEADERS.c.id)
    )


_LEVEL = level_statement()
_HOLDERS = (
    select(User.id, User.name)
    .join(UserRole, UserRole.user_id == User.id)
    .where(UserRole.role == bindparam("role"), User.active.is_(True))
    .order_by(User.name, User.id)
)
_USERS = (
    select(User.id, User.name)
    .where(User.id.in_(bindparam("ids", expanding=True)), User.active.is_(True),
           select(UserRole.user_id).where(UserRole.user_id == User.id,
                                          UserRole.role.in_(CAN_ACT)).exists())
    .order_by(User.name, User.id)
)


class DatabaseTree:
    """:class:`Tree` read from the database as the decision asks, each level once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._units: dict[str, UnitNode | None] = {}
        self._leaders: dict[str, list[Assignee]] = {}
        self._holders: dict[str, list[Assignee]] = {}

    @classmethod
    def seeded(cls, session: Session, rows: Iterable[Row[Any]]) -> DatabaseTree:
        """A tree that knows already the level read by a :func:`level_statement` (its rows,
        all for one unit)."""
        tree = cls(session)
        tree._remember(rows)
        return tree

    def know(self, unit: Any) -> DatabaseTree:
        """Take ``unit`` (anything with ``id``, ``name`` and ``parent_id``, such as a loaded
        :class:`~speakup.models.Unit`) as read already; its leaders are still read when
        asked for."""
        self._units[unit.id] = UnitNode(unit.id, unit.name, unit.parent_id)
        return self

    def unit(self, unit_id: str) -> UnitNode | None:
        if unit_id not in self._units:
            self._read_level(unit_id)
        return self._units[unit_id]

    def leaders(self, unit_id: str) -> Sequence[Assignee]:
        if unit_id not in self._leaders:
            self._read_level(unit_id)
        return self._leaders.get(unit_id, [])

    def holders(self, role: str) -> Sequence[Assignee]:
        if role not in self._holders:
            rows = self._session.connection().execute(_HOLDERS, {"role": role})
            self._holders[role] = [Assignee(uid, name) for uid, name in rows]
        return self._holders[role]

    def users(self, ids: Sequence[str]) -> Sequence[Assignee]:
        if not ids:
            return []
        rows = self._session.connection().execute(_USERS, {"ids": list(ids)})
        return [Assignee(uid, name) for uid, name in rows]

    def _read_level(self, unit_id: str) -> None:
        rows = self._session.connection().execute(_LEVEL, {"unit_id": unit_id}).all()
        if not rows:
            self._units[unit_id] = None
            self._leaders[unit_id] = []
        self._remember(rows)

    def _remember(self, rows: Iterable[Row[Any]]) -> None:
        leaders: dict[str, list[Assignee]] = {}
        for row in rows:
            self._units[row.id] = UnitNode(row.id, row.name, row.parent_id)
            found = leaders.setdefault(row.id, [])
            if row.leader_id_ is not None:
                found.append(Assignee(row.leader_id_, row.leader_name_))
        self._leaders.update(leaders)
