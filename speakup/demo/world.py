"""What the history is written against: the demo's units with their routing, worded texts
and reporters, loaded once per run."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.demo.bulk import Wire
from speakup.demo.content import (
    ACKNOWLEDGEMENTS,
    ACTION_UPDATES,
    ACTIONS,
    DAYS,
    KIND_WEIGHTS,
    NOTES,
    OFFICER_REOPEN_REASONS,
    REOPEN_REASONS,
    REPLIES,
    RESPONSES,
    SHIFTS,
    TEMPLATES,
    UPDATES,
    VARIANTS,
    Template,
)
from speakup.demo.organisation import PEOPLE, REPORTER_ROLES, UNITS, UnitSpec
from speakup.models import Category, Unit, User
from speakup.services import routing


@dataclass(frozen=True)
class Route:
    """A routing decision, made once per unit and ``involves_leader`` and reused."""

    assignees: tuple[tuple[str, str], ...]  # (id, name)
    reason: str
    unit_id: str | None = None  # whose leaders received it (None: the safety officers)

    @property
    def assignee_ids(self) -> tuple[str, ...]:
        return tuple(uid for uid, _name in self.assignees)


@dataclass(frozen=True)
class Text:
    template: Template
    description: str


@dataclass(frozen=True)
class Place:
    """A unit that reports are written about, with what fits it, worded in advance."""

    id: str
    name: str
    texts: dict[str, tuple[Text, ...]]  # by kind; never empty
    acknowledgements: tuple[str, ...]  # sent with an acknowledgement
    updates: tuple[str, ...]  # staff updates to the reporter
    notes: tuple[str, ...]  # internal notes
    replies: tuple[str, ...]  # the reporter's answers
    responses: dict[str, tuple[str, ...]]  # closing responses by outcome
    reopen_reasons: tuple[tuple[str, ...], tuple[str, ...]]  # the reporter's, an officer's
    actions: dict[str, tuple[str, str]]  # an action's title and description by category
    action_updates: dict[str, tuple[str, ...]]  # by the action's new status
    routes: tuple[Route, Route]  # indexed by involves_leader
    reporters: tuple[str, ...]  # staff of the same department


@dataclass(frozen=True)
class World:
    places: list[Place]
    place_weights: list[float]  # cumulative
    reporters: tuple[str, ...]  # every plain staff member
    categories: dict[str, str]  # template category -> an active category
    officers: tuple[str, ...]  # the active safety officers


def load_world(session: Session, wire: Wire, rng: random.Random) -> World:
    """The active demo units with their routing, the demo staff who can report, and the
    active categories; raises RuntimeError when no demo unit or no category is active."""
    specs = {spec.code: spec for spec in UNITS}
    units = list(session.scalars(
        select(Unit).where(Unit.code.in_(specs), Unit.active.is_(True)).order_by(Unit.code)
    ))
    if not units:
        raise RuntimeError("the demo organisation has no active units left")
    parents = {uid: parent for uid, parent in session.execute(select(Unit.id, Unit.parent_id))}
    staff = _reporters(session)
    places = []
    for unit in units:
        department = _department(unit.id, parents)
        local = tuple(uid for uid, home in staff.items()
                      if home is not None and _department(home, parents) == department)
        name = unit.name

        def worded(texts: tuple[str, ...], name: str = name) -> tuple[str, ...]:
            return tuple(text.format(unit=name, shift=rng.choice(SHIFTS)) for text in texts)

        places.append(Place(
            id=unit.id, name=name, texts=_texts_for(specs[unit.code], name, rng),
            acknowledgements=worded(ACKNOWLEDGEMENTS), updates=worded(UPDATES),
            notes=worded(NOTES), replies=worded(REPLIES),
            responses={outcome: worded(texts) for outcome, texts in RESPONSES.items()},
            reopen_reasons=(worded(REOPEN_REASONS), worded(OFFICER_REOPEN_REASONS)),
            actions={category: (title.format(unit=name), description)
                     for category, (title, description) in ACTIONS.items()},
            action_updates={status: worded(texts) for status, texts in ACTION_UPDATES.items()},
            routes=(_route(session, wire, unit, False), _route(session, wire, unit, True)),
            reporters=local,
        ))
    weights = list(itertools.accumulate(specs[u.code].weight for u in units))
    officers = tuple(o.id for o in routing.safety_officers(session))
    return World(places, weights, tuple(staff), _category_map(session), officers)


def _reporters(session: Session) -> dict[str, str | None]:
    """Active demo users whose only role is staff, with their unit."""
    emails = [person.email for person in PEOPLE]
    users = session.scalars(select(User).where(User.email.in_(emails), User.active.is_(True)))
    return {u.id: u.unit_id for u in users if u.roles and set(u.roles) <= REPORTER_ROLES}


def _department(unit_id: str, parents: dict[str, str | None]) -> str:
    """The unit just below the top of the tree that ``unit_id`` lies in (itself at the top)."""
    chain = [unit_id]
    while (parent := parents.get(chain[-1])) is not None and parent not in chain:
        chain.append(parent)
    return chain[-2] if len(chain) > 1 else chain[0]


def _texts_for(spec: UnitSpec, name: str, rng: random.Random) -> dict[str, tuple[Text, ...]]:
    """The templates that fit the unit, by kind, each worded VARIANTS ways."""
    fits = [t for t in TEMPLATES if t.areas is None or t.areas & spec.areas]
    return {kind: tuple(
        Text(t, t.text.format(unit=name, shift=rng.choice(SHIFTS), day=rng.choice(DAYS),
                               n=rng.randint(2, 5)))
        for t in fits if t.kind == kind for _ in range(VARIANTS)
    ) for kind in KIND_WEIGHTS}


def _route(session: Session, wire: Wire, unit: Unit, involves_leader: bool) -> Route:
    decision = routing.route(session, unit=unit, involves_leader=involves_leader,
                             reporter_id=None)
    return Route(tuple((u.id, u.name) for u in decision.assignees), decision.reason,
                 decision.unit_id)


def _category_map(session: Session) -> dict[str, str]:
    """Each template category mapped to itself when active, else to ``other`` or the first
    active category."""
    active = list(session.scalars(
        select(Category.id).where(Category.active.is_(True))
        .order_by(Category.position, Category.id)
    ))
    if not active:
        raise RuntimeError("there are no active categories to file demo reports under")
    fallback = "other" if "other" in active else active[0]
    return {t.category: t.category if t.category in active else fallback for t in TEMPLATES}
