"""Keyset pagination of GET /api/v1/reports over a thousand reports: newest first by
(created_at, id), every report exactly once, also when reports arrive during the walk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from speakup.db import Database
from speakup.services.core.clock import SettableClock
from speakup.services.core.keys import Keys
from speakup.services.reports import intake
from tests.support import Login, Org, assert_problem


@dataclass
class Reporter:
    id: str


Key = tuple[datetime, str]


def submit(database: Database, clock: SettableClock, keys: Keys, hospital: Org, n: int
           ) -> Key:
    """One report through the intake service (no rate limit, no HTTP); every fifth is named."""
    named = n % 5 == 0
    done = intake.submit(
        database, clock=clock, keys=keys, reporter=Reporter(hospital.nurse) if named else None,
        data=intake.NewReport(kind="concern", category="patient_safety",
                              unit_id=hospital.ward, title=f"Report {n}",
                              description=f"Report number {n}."))
    return clock.now(), done.report_id


def walk_page(client: FlaskClient, headers: dict[str, str], limit: int, cursor: str | None
              ) -> dict[str, Any]:
    query: dict[str, Any] = {"limit": limit}
    if cursor is not None:
        query["cursor"] = cursor
    response = client.get("/api/v1/reports", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_data(True)
    page: dict[str, Any] = response.json
    assert len(page["items"]) <= limit
    return page


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_walking_a_thousand_reports_sees_each_once_in_order_despite_inserts(
        client: FlaskClient, hospital: Org, database: Database, clock: SettableClock,
        keys: Keys, login: Login):
    existing: list[Key] = []
    n = 0
    # 400 reports a second apart, 300 at one and the same moment (only the id orders them),
    # 200 in groups of ten sharing a moment, and 100 a microsecond apart.
    for _ in range(400):
        clock.advance(seconds=1)
        existing.append(submit(database, clock, keys, hospital, n := n + 1))
    clock.advance(seconds=1)
    tied_at = clock.now()
    for _ in range(300):
        existing.append(submit(database, clock, keys, hospital, n := n + 1))
    for i in range(200):
        if i % 10 == 0:
            clock.advance(seconds=1)
        existing.append(submit(database, clock, keys, hospital, n := n + 1))
    for _ in range(100):
        clock.advance(microseconds=1)
        existing.append(submit(database, clock, keys, hospital, n := n + 1))
    assert len(existing) == len(set(existing)) == 1000
    assert sum(1 for moment, _ in existing if moment == tied_at) == 300
    expected = sorted(existing, reverse=True)  # created_at desc, then id desc
    latest = clock.now()
    officer = login("officer")  # after the clock has moved: sessions are checked against it

    seen: list[Key] = []
    cursor: str | None = None
    inserted: list[Key] = []
    late_but_backdated: set[Key] = set()
    while True:
        page = walk_page(client, officer, 7, cursor)
        seen += [(parse(item["created_at"]), item["id"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 7  # only the last page is short
        if not inserted and len(seen) >= 500:
            # Midway, inside the 300 tied reports: 50 more arrive.  25 are newer than all
            # (never part of this walk); 25 carry the tied moment, as if their transaction
            # took the time before the walk began and committed now: those that sort after
            # the walk's position belong to the rest of the walk, the others never appear.
            assert seen[-1][0] == tied_at
            position = seen[-1]
            clock.set(tied_at)
            for _ in range(25):
                key = submit(database, clock, keys, hospital, n := n + 1)
                inserted.append(key)
                if key < position:
                    late_but_backdated.add(key)
            clock.set(latest + timedelta(minutes=1))
            for _ in range(25):
                inserted.append(submit(database, clock, keys, hospital, n := n + 1))

    assert len(inserted) == 50
    assert len(seen) == len(set(seen)), "a report was repeated"
    assert [key for key in seen if key in set(existing)] == expected, \
        "the reports that existed at the start were not each seen once, newest first"
    assert set(seen) - set(existing) == late_but_backdated
    # The walk as a whole is in order, the late ones in their places.
    assert seen == sorted(seen, reverse=True)

    # Afterwards a walk of the largest pages sees all 1,050, in order.
    everything: list[Key] = []
    cursor = None
    pages = 0
    while True:
        page = walk_page(client, officer, 200, cursor)
        pages += 1
        everything += [(parse(item["created_at"]), item["id"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 200
    assert pages == 6
    assert everything == sorted(existing + inserted, reverse=True)


def test_limit_is_1_to_200(client: FlaskClient, hospital: Org, database: Database,
                           clock: SettableClock, keys: Keys, login: Login):
    for n in range(3):
        clock.advance(seconds=1)
        submit(database, clock, keys, hospital, n)
    officer = login("officer")
    for limit in (201, 0, -1, 10_000):
        problem = assert_problem(client.get(f"/api/v1/reports?limit={limit}", headers=officer),
                                 422)
        assert "limit" in problem["errors"]
    page = walk_page(client, officer, 200, None)
    assert len(page["items"]) == 3 and page["next_cursor"] is None
    one = walk_page(client, officer, 1, None)
    assert len(one["items"]) == 1 and one["next_cursor"]
    default = walk_page(client, officer, 50, None)
    assert client.get("/api/v1/reports", headers=officer).json == default
