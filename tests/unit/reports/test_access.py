"""Who may do what with a report they can see: ``may`` over every action and standing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from speakup.models import Report
from speakup.services.core.actors import Actor
from speakup.services.reports.access import REOPEN_WINDOW, Access, Action

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
STAFF_WORK = {Action.READ, Action.ACKNOWLEDGE, Action.MESSAGE, Action.NOTE, Action.CLOSE,
              Action.ASSIGN}
REPORTER = {Action.READ, Action.MESSAGE, Action.FEEDBACK}

LEADER = Actor(user_id="l1", roles=frozenset({"leader"}))
OFFICER = Actor(user_id="o1", roles=frozenset({"safety_officer"}))
ADMIN = Actor(user_id="a1", roles=frozenset({"admin"}))
NURSE = Actor(user_id="n1", roles=frozenset({"staff"}))
TOKEN = Actor(followup_report_id="r1")

CASES = {
    "assignee": (LEADER, True, False, STAFF_WORK),
    "safety officer": (OFFICER, False, False, STAFF_WORK | {Action.REOPEN}),
    "admin": (ADMIN, False, False, {Action.READ}),
    "named reporter": (NURSE, False, True, REPORTER | {Action.REOPEN}),
    "anonymous reporter": (TOKEN, False, True, REPORTER | {Action.REOPEN}),
}


def closed_report(days_ago: float) -> Report:
    return Report(id="r1", closed_at=NOW - timedelta(days=days_ago),
                  last_closed_at=NOW - timedelta(days=days_ago))


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_each_standing_may_do_exactly_its_actions(case: str) -> None:
    actor, assignee, reporter, allowed = CASES[case]
    seen = Access.of(actor, closed_report(1), assignee=assignee, reporter=reporter)
    assert {a for a in Action if seen.may(actor, a, now=NOW)} == allowed
    assert seen.staff_side is (not reporter)


def test_the_reporter_may_reopen_only_within_the_window() -> None:
    def reopens(days: float) -> bool:
        seen = Access.of(NURSE, closed_report(days), assignee=False, reporter=True)
        return seen.may(NURSE, Action.REOPEN, now=NOW)

    window = REOPEN_WINDOW.days
    assert reopens(window) and not reopens(window + 0.001)
    open_report = Access.of(NURSE, Report(id="r1", closed_at=None), assignee=False,
                            reporter=True)
    assert not open_report.may(NURSE, Action.REOPEN, now=NOW)


def test_a_leader_reporting_their_own_report_sees_the_reporter_side() -> None:
    leader = Actor(user_id="l1", roles=frozenset({"leader", "staff"}))
    seen = Access.of(leader, closed_report(1), assignee=False, reporter=True)
    assert not seen.staff_side and not seen.may(leader, Action.ACKNOWLEDGE)
