"""Routing at creation, on the service alone: every branch of the fallback."""

from __future__ import annotations

from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import Unit
from speakup.services import org, routing
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import Clock
from tests.support import Org


def decide(session: Session, unit_id: str, *, involves_leader: bool = False,
           reporter_id: str | None = None) -> routing.Decision:
    session.rollback()  # see what the test's commands wrote
    unit = session.get(Unit, unit_id)
    assert unit is not None
    return routing.route(session, unit=unit, involves_leader=involves_leader,
                         reporter_id=reporter_id)


def ids(decision: routing.Decision) -> list[str]:
    return [u.id for u in decision.assignees]


def test_the_units_own_leaders(session: Session, hospital: Org) -> None:
    decision = decide(session, hospital.ward)
    assert ids(decision) == [hospital.ward_leader]
    assert "Ward 7, the unit of the report" in decision.reason


def test_a_unit_without_leaders_goes_to_the_nearest_above(session: Session,
                                                          hospital: Org) -> None:
    decision = decide(session, hospital.medicine)
    assert ids(decision) == [hospital.site_leader]
    assert "nearest unit above Medicine" in decision.reason


def test_involves_leader_passes_over_the_first_leaders_up(session: Session,
                                                          hospital: Org) -> None:
    decision = decide(session, hospital.ward, involves_leader=True)
    assert ids(decision) == [hospital.site_leader]
    assert "leaders of Ward 7 were passed over" in decision.reason


def test_never_to_the_reporter_themselves(session: Session, hospital: Org) -> None:
    decision = decide(session, hospital.ward, reporter_id=hospital.ward_leader)
    assert ids(decision) == [hospital.site_leader]


def test_no_leaders_up_the_tree_means_the_safety_officers(
    database: Database, session: Session, hospital: Org, clock: Clock
) -> None:
    lone = org.create_unit(database, clock=clock, name="Annex", code="ANX")
    decision = decide(session, lone.id)
    assert ids(decision) == [hospital.officer]
    assert "safety officers" in decision.reason


def test_deactivated_leaders_are_never_assignees(
    database: Database, session: Session, hospital: Org, clock: Clock, passwords: Passwords
) -> None:
    org.update_user(database, hospital.ward_leader, clock=clock, passwords=passwords,
                    active=False)
    assert ids(decide(session, hospital.ward)) == [hospital.site_leader]


def test_nobody_to_route_to_says_so(
    database: Database, session: Session, hospital: Org, clock: Clock, passwords: Passwords
) -> None:
    org.update_user(database, hospital.officer, clock=clock, passwords=passwords,
                    active=False)
    lone = org.create_unit(database, clock=clock, name="Annex", code="ANX")
    decision = decide(session, lone.id)
    assert decision.assignees == []
    assert "waits for an administrator" in decision.reason
