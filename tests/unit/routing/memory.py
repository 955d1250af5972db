"""An organisation held in memory: the routing tree the pure decision is tested against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from speakup.services.routing import Assignee, UnitNode
from speakup.services.routing.tree import CAN_ACT


@dataclass
class Person:
    id: str
    name: str
    roles: set[str]
    active: bool = True


@dataclass
class MemoryTree:
    """:class:`speakup.services.routing.Tree` over dicts; ``asked`` records every question."""

    units: dict[str, UnitNode] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    leads: dict[str, list[str]] = field(default_factory=dict)
    asked: list[tuple[str, object]] = field(default_factory=list)

    def add_unit(self, unit_id: str, name: str, parent_id: str | None = None) -> str:
        self.units[unit_id] = UnitNode(unit_id, name, parent_id)
        return unit_id

    def add_person(self, person_id: str, name: str, *roles: str, leads: Sequence[str] = (),
                   active: bool = True) -> str:
        self.people[person_id] = Person(person_id, name, set(roles), active)
        for unit_id in leads:
            self.leads.setdefault(unit_id, []).append(person_id)
        return person_id

    def deactivate(self, person_id: str) -> None:
        self.people[person_id].active = False

    # --- the protocol ------------------------------------------------------------------

    def unit(self, unit_id: str) -> UnitNode | None:
        self.asked.append(("unit", unit_id))
        return self.units.get(unit_id)

    def leaders(self, unit_id: str) -> list[Assignee]:
        self.asked.append(("leaders", unit_id))
        return self._sorted(p for uid in self.leads.get(unit_id, [])
                            if (p := self.people[uid]).active and "leader" in p.roles)

    def holders(self, role: str) -> list[Assignee]:
        self.asked.append(("holders", role))
        return self._sorted(p for p in self.people.values() if p.active and role in p.roles)

    def users(self, ids: Sequence[str]) -> list[Assignee]:
        self.asked.append(("users", tuple(ids)))
        return self._sorted(p for uid in ids if (p := self.people.get(uid)) is not None
                            and p.active and p.roles & set(CAN_ACT))

    @staticmethod
    def _sorted(people: object) -> list[Assignee]:
        found = {p.id: p for p in people}.values()  # type: ignore[attr-defined]
        return [Assignee(p.id, p.name) for p in sorted(found, key=lambda p: (p.name, p.id))]
