"""Routing at creation, decided once and recorded with a reason people can read.

The order (the contract's): the first matching active routing rule, tried by priority (lowest
number first, then the oldest, then by id) -> else the leaders of the report's unit -> else
those of the nearest unit above that has leaders -> else the safety officers -> else nobody
(the report waits for an administrator).

- A report never goes to its own reporter; deactivated users are never assignees.
- ``involves_leader`` passes over the first leaders found going up the tree from the report's
  unit (the unit's own, or for a unit without leaders the nearest above): the default chain
  goes to the next leaders up (at the top, the safety officers), and those leaders are left
  out of a rule's people too.
- A rule routes to the people it names, or to every active holder of its role.  A matching
  rule left with nobody (everyone deactivated, the reporter, or passed over) falls through to
  the next matching rule and then to the default chain, and the reason says so.

:func:`decide` is all of this as a pure function of the report's facts, the rules and a
:class:`~speakup.services.routing.tree.Tree`; :func:`route`, :func:`safety_officers` and
:func:`next_leaders_up` are the same over the database.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from speakup.models import Unit
from speakup.services.routing.rules import Facts, Rule, in_order
from speakup.services.routing.tree import Assignee, DatabaseTree, Tree, UnitNode
from speakup.vocabulary import Role

# A unit as the ORM loads it, or as a row of its table: routing reads id, name, parent_id.
UnitRecord = Unit | Row[Any]


@dataclass(frozen=True)
class Decision:
    """Who a new report goes to, why, and the unit whose leaders received it: the report's
    own unit when a rule routed it, None when it went to the safety officers or to nobody
    (escalation climbs from that unit)."""

    assignees: list[Assignee]
    reason: str
    unit_id: str | None = None


def decide(facts: Facts, rules: Iterable[Rule], tree: Tree) -> Decision:
    """Who a report with ``facts`` goes to, by ``rules`` (inactive ones are ignored) and else
    the default chain up ``tree``.  Pure: it asks ``tree`` only what it needs, nearest level
    first.  Raises ValueError when the tree has no such unit."""
    path = _Path(tree, facts.unit_id)
    if path.start is None:
        raise ValueError(f"no unit {facts.unit_id!r} to route in")
    levels = _Levels(path, tree, exclude=facts.reporter_id)
    notes = ""
    for rule in in_order(rules):
        if not (rule.matches_flags(facts) and _within(path, rule.unit_id)):
            continue
        offered = _offered(rule, tree)
        skipped = levels.first() if facts.involves_leader else None
        passed = {p.id for p in skipped[1]} if skipped else set()
        kept = [p for p in offered if p.id != facts.reporter_id and p.id not in passed]
        if kept:
            note = _skip_note(skipped[0]) if skipped and passed & {p.id for p in offered} else ""
            return Decision(kept, notes + note + f'Routed by the routing rule "{rule.name}" '
                            f"to {rule.describe_target()}.", facts.unit_id)
        notes += (f'The routing rule "{rule.name}" matched, but none of the people it routes '
                  "to can take this report. ")
    return _default_chain(facts, path.start, levels, tree, notes)


def _default_chain(facts: Facts, start: UnitNode, levels: _Levels, tree: Tree, notes: str
                   ) -> Decision:
    skipped: UnitNode | None = None
    for level, leaders in levels:
        if facts.involves_leader and skipped is None:
            skipped = level
            continue
        return Decision(list(leaders), notes + _why(start, level, skipped), level.id)
    officers = [o for o in tree.holders(Role.SAFETY_OFFICER.value) if o.id != facts.reporter_id]
    prefix = notes + _skip_note(skipped)
    if officers:
        return Decision(officers, prefix + "No other leaders up the tree to route to; routed "
                        "to the safety officers.")
    return Decision([], prefix + "No leaders and no safety officers to route to; the report "
                    "waits for an administrator to assign it.")


def leaders_above(tree: Tree, unit_id: str, exclude: Collection[str] = ()
                  ) -> tuple[UnitNode, list[Assignee]] | None:
    """The nearest unit strictly above ``unit_id`` with active leaders not in ``exclude``,
    with those leaders; None at the top (or for a unit the tree does not have)."""
    path = _Path(tree, unit_id)
    for unit in islice(path, 1, None):
        leaders = [p for p in tree.leaders(unit.id) if p.id not in exclude]
        if leaders:
            return unit, leaders
    return None


def _offered(rule: Rule, tree: Tree) -> list[Assignee]:
    if rule.user_ids:
        return list(tree.users(rule.user_ids))
    if rule.role:
        return list(tree.holders(rule.role))
    return []


def _within(path: _Path, unit_id: str | None) -> bool:
    """Whether the report's unit is ``unit_id`` or lies below it (None: anywhere)."""
    return unit_id is None or any(unit.id == unit_id for unit in path)


def _why(start: UnitNode, level: UnitNode, skipped: UnitNode | None) -> str:
    if level.id == start.id:
        return f"Routed to the leaders of {start.name}, the unit of the report."
    return _skip_note(skipped) + (
        f"Routed to the leaders of {level.name}, the nearest unit above {start.name} "
        "with leaders to route to."
    )


def _skip_note(skipped: UnitNode | None) -> str:
    if skipped is None:
        return ""
    return f"The report concerns a leader, so the leaders of {skipped.name} were passed over. "


class _Path:
    """The report's unit and the units above it, nearest first, each asked of the tree only
    when it is reached and only once (a cycle, should one slip in, ends the path)."""

    def __init__(self, tree: Tree, unit_id: str) -> None:
        self._tree = tree
        self.start = tree.unit(unit_id)
        self._units = [self.start] if self.start is not None else []
        self._ended = self.start is None

    def __iter__(self) -> Iterator[UnitNode]:
        i = 0
        while True:
            if i < len(self._units):
                yield self._units[i]
                i += 1
            elif not self._extend():
                return

    def _extend(self) -> bool:
        if self._ended:
            return False
        parent_id = self._units[-1].parent_id
        parent = None
        if parent_id is not None and all(u.id != parent_id for u in self._units):
            parent = self._tree.unit(parent_id)
        if parent is None:
            self._ended = True
            return False
        self._units.append(parent)
        return True


class _Levels:
    """The levels of a path that have leaders other than ``exclude``, with those leaders."""

    def __init__(self, path: _Path, tree: Tree, *, exclude: str | None) -> None:
        self._path = path
        self._tree = tree
        self._exclude = exclude

    def __iter__(self) -> Iterator[tuple[UnitNode, list[Assignee]]]:
        for unit in self._path:
            leaders = [p for p in self._tree.leaders(unit.id) if p.id != self._exclude]
            if leaders:
                yield unit, leaders

    def first(self) -> tuple[UnitNode, list[Assignee]] | None:
        """The first leaders found going up: those ``involves_leader`` passes over."""
        return next(iter(self), None)


# --- over the database -------------------------------------------------------------------


def route(
    session: Session,
    *,
    unit: UnitRecord,
    involves_leader: bool,
    reporter_id: str | None,
    kind: str | None = None,
    category: str | None = None,
    immediate_risk: bool = False,
    rules: Iterable[Rule] = (),
) -> Decision:
    """:func:`decide` for a report in ``unit`` (loaded already) over the database (reads
    only); without ``rules``, the default chain alone."""
    facts = Facts(unit_id=unit.id, kind=kind, category=category,
                  immediate_risk=immediate_risk, involves_leader=involves_leader,
                  reporter_id=reporter_id)
    return decide(facts, rules, DatabaseTree(session).know(unit))


def safety_officers(session: Session, *, exclude: str | None = None) -> list[Assignee]:
    """Every active safety officer but ``exclude``, by name (reads only)."""
    holders = DatabaseTree(session).holders(Role.SAFETY_OFFICER.value)
    return [p for p in holders if p.id != exclude]


def next_leaders_up(session: Session, unit_id: str, exclude: str | Collection[str] | None = None
                    ) -> tuple[str, list[Assignee]] | None:
    """The nearest unit strictly above ``unit_id`` that has active leaders other than
    ``exclude`` (a user id, or several), with those leaders; None when there is none up to
    the top.  Reads one statement per level (reads only)."""
    left_out: Collection[str] = (
        () if exclude is None else {exclude} if isinstance(exclude, str) else exclude)
    found = leaders_above(DatabaseTree(session), unit_id, left_out)
    if found is None:
        return None
    unit, leaders = found
    return unit.id, leaders
