"""The huddle's tests work in a hospital with one more ward beside Ward 7 and leaders at
every level, and build report histories through the services (at any clock time, without the
intake rate limit), asking for the huddle through the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from speakup.db import Database
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.actors import Actor
from speakup.services.core.clock import SettableClock
from speakup.services.core.keys import Keys
from speakup.services.reports import intake, workflow
from tests.support import PASSWORD, Login, Org


@dataclass
class Ward:
    """A second ward under Medicine, its leader, and Medicine's leader."""

    id: str
    leader: str
    dept_leader: str


@pytest.fixture()
def ward8(database: Database, clock: SettableClock, passwords: Passwords, hospital: Org
          ) -> Ward:
    ward = org.create_unit(database, clock=clock, name="Ward 8", code="W8",
                           parent_id=hospital.medicine)
    ids = {}
    for key, email, name, unit in (("w8_leader", "w8@example.org", "Will Ward", ward.id),
                                   ("dept_leader", "med@example.org", "Meg Medicine",
                                    hospital.medicine)):
        ids[key] = org.create_user(database, clock=clock, passwords=passwords, data=org.NewUser(
            email=email, name=name, password=PASSWORD, roles=["leader"], unit_id=unit)).id
        org.add_leader(database, clock=clock, unit_id=unit, user_id=ids[key])
        hospital.emails[key] = email
    return Ward(ward.id, ids["w8_leader"], ids["dept_leader"])


class History:
    """Reports and workflow steps at the clock's time, through the services."""

    def __init__(self, database: Database, clock: SettableClock, keys: Keys, hospital: Org
                 ) -> None:
        self.database, self.clock, self.keys, self.hospital = database, clock, keys, hospital
        self.nurse = _Named(hospital.nurse)
        self.leader = Actor(user_id=hospital.ward_leader, name="Wendy Ward",
                            roles=frozenset({"leader", "staff"}))
        self.officer = Actor(user_id=hospital.officer, name="Sam Safety",
                             roles=frozenset({"safety_officer"}))

    def report(self, *, unit_id: str | None = None, anonymous: bool = False,
               **fields: Any) -> str:
        data = intake.NewReport(**{
            "kind": "concern", "category": "patient_safety",
            "unit_id": unit_id or self.hospital.ward, "title": "Infusion pump alarms",
            "description": "The alarms get silenced without a check.",
            "anonymous": anonymous, **fields})
        return intake.submit(self.database, clock=self.clock, keys=self.keys, data=data,
                             reporter=None if anonymous else self.nurse).report_id

    def step(self, name: str, report_id: str, *, actor: Actor | None = None,
             **fields: Any) -> Any:
        """A workflow step (acknowledge, post_message, close, reopen) by the ward's leader
        (or ``actor``)."""
        do: Callable[..., Any] = getattr(workflow, name)
        return do(self.database, clock=self.clock, actor=actor or self.leader,
                  report_id=report_id, **fields)


@dataclass(frozen=True)
class _Named:
    id: str


@pytest.fixture()
def history(database: Database, clock: SettableClock, keys: Keys, hospital: Org) -> History:
    return History(database, clock, keys, hospital)


Huddle = Callable[..., Any]


@pytest.fixture()
def huddle(client: FlaskClient, login: Login, clock: SettableClock) -> Huddle:
    """``huddle(unit_id, as_="officer")`` -> the response.  Tokens are kept per person and
    clock time: the tests move the clock by days (tokens live minutes), and logins are rate
    limited."""
    tokens: dict[tuple[str, Any], dict[str, str]] = {}

    def _huddle(unit_id: str, as_: str = "officer") -> Any:
        key = (as_, clock.now())
        if key not in tokens:
            tokens[key] = login(as_)
        return client.get(f"/api/v1/units/{unit_id}/huddle", headers=tokens[key])

    return _huddle
