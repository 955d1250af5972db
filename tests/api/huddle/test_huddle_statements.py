"""The huddle costs a fixed number of statements, however much the unit holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from speakup.db import Database
from speakup.services.core.clock import SettableClock
from tests.api.huddle.conftest import History, Huddle
from tests.support import Org

# The token check (the user with their roles and session), then one statement each: the
# unit with the access check, the subtree, the open reports with their counts, the closings
# with their responses, the actions in progress, and the metrics' overall row.  SQLite adds
# the BEGIN of the read transaction.  Lower them as the huddle gets leaner; never raise one
# without saying why in the commit.
BUDGETS = {"sqlite": 8, "postgresql": 7}


@pytest.fixture()
def statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split())[:150])

    event.listen(database.engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(database.engine, "before_cursor_execute", on_execute)


@pytest.mark.parametrize("who", ["ward_leader", "site_leader", "officer"])
def test_the_huddle_stays_within_its_statement_budget(
        clock: SettableClock, history: History, huddle: Huddle, hospital: Org,
        statements: list[str], who: str, database: Database):
    budget = BUDGETS[database.engine.dialect.name]
    t0 = clock.now()
    for n in range(6):
        clock.set(t0 + timedelta(hours=n))
        report_id = history.report(anonymous=n % 2 == 1)
        if n % 3:
            history.step("acknowledge", report_id)
        if n % 3 == 2:
            history.step("close", report_id, outcome="actioned", response="Fixed.")
    clock.set(t0 + timedelta(days=1))
    huddle(hospital.ward, as_=who)  # log in first: the login is not the huddle's cost
    counts = []
    for unit_id in (hospital.ward, hospital.site if who != "ward_leader" else hospital.ward):
        statements.clear()
        response = huddle(unit_id, as_=who)
        assert response.status_code == 200, response.json
        assert response.json["closed_recently"]["total"] == 2
        counts.append(len(statements))
        assert len(statements) <= budget, "\n".join(statements)
    assert counts[0] == counts[1]  # the same for a ward and for the whole site
