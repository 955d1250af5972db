"""Routing at creation over the database: every branch of the fallback, and what the pure
decision (test_decide.py) takes on trust from the database tree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
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


# --- over the database: what the pure decision's tests take on trust -----------------------


def _rule(**fields: object) -> routing.Rule:
    return routing.Rule(id="r1", name="rule", priority=1,
                        created_at=datetime(2026, 1, 1, tzinfo=UTC), **fields)  # type: ignore[arg-type]


def test_a_rules_named_users_must_be_active_and_able_to_act(
    database: Database, session: Session, hospital: Org, clock: Clock, passwords: Passwords
) -> None:
    org.update_user(database, hospital.site_leader, clock=clock, passwords=passwords,
                    active=False)
    session.rollback()
    unit = session.get(Unit, hospital.ward)
    named = (hospital.site_leader, hospital.nurse, hospital.admin, hospital.officer, "ghost")
    decision = routing.route(session, unit=unit, involves_leader=False, reporter_id=None,
                             rules=[_rule(user_ids=named)])
    assert ids(decision) == [hospital.officer]
    assert decision.unit_id == hospital.ward


def test_a_rules_role_means_its_active_holders(
    database: Database, session: Session, hospital: Org
) -> None:
    session.rollback()
    unit = session.get(Unit, hospital.ward)
    decision = routing.route(session, unit=unit, involves_leader=False, reporter_id=None,
                             rules=[_rule(role="leader")])
    assert ids(decision) == [hospital.site_leader, hospital.ward_leader]


def test_next_leaders_up_is_strictly_above(session: Session, hospital: Org) -> None:
    assert routing.next_leaders_up(session, hospital.ward, None) == (
        hospital.site, [routing.Assignee(hospital.site_leader, "Dee Director")])
    assert routing.next_leaders_up(session, hospital.medicine, None) == (
        hospital.site, [routing.Assignee(hospital.site_leader, "Dee Director")])
    assert routing.next_leaders_up(session, hospital.site, None) is None


def test_next_leaders_up_leaves_out_whom_it_is_told(session: Session, hospital: Org) -> None:
    assert routing.next_leaders_up(session, hospital.ward, hospital.site_leader) is None
    assert routing.next_leaders_up(session, hospital.ward, {hospital.site_leader}) is None
    assert routing.next_leaders_up(session, "nosuchunit", None) is None


def test_the_tree_reads_one_statement_per_level(
    database: Database, session: Session, hospital: Org
) -> None:
    statements: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    session.rollback()
    unit = session.get(Unit, hospital.ward)
    session.connection()  # begun before counting
    event.listen(database.engine, "before_cursor_execute", on_execute)
    try:
        routing.route(session, unit=unit, involves_leader=False, reporter_id=None)
        own_unit = len(statements)
        routing.route(session, unit=unit, involves_leader=True, reporter_id=None)
        two_levels_and_the_top = len(statements) - own_unit
    finally:
        event.remove(database.engine, "before_cursor_execute", on_execute)
    assert own_unit == 1
    # Ward 7 (passed over), Medicine (no leaders), St Elsewhere (Dee).
    assert two_levels_and_the_top == 3
