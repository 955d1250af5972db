"""The audit log: every staff-side read of a report's details and every change to a report,
with who and when; readable by safety officers and admins only; filtered and paginated; and
append-only (on PostgreSQL the database itself refuses to change or delete a row)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from speakup.db import Database
from speakup.services.core.clock import SettableClock
from speakup.services.reports.views import iso
from tests.support import Login, Org, assert_problem, report_body

# Rows of the submission itself may or may not be in the log (the report's own created_at
# says that); these tests are about reads and the changes that follow it.
SUBMISSION = {"submitted", "routed"}


class People:
    """Headers per person, fresh enough for the settable clock (tokens live 15 minutes, and
    logging in is rate limited, so a token is kept while it is young)."""

    def __init__(self, client: FlaskClient, login: Login, clock: SettableClock) -> None:
        self.client, self.login, self.clock = client, login, clock
        self._tokens: dict[str, tuple[datetime, dict[str, str]]] = {}

    def __call__(self, who: str) -> dict[str, str]:
        held = self._tokens.get(who)
        if held is None or self.clock.now() - held[0] > timedelta(minutes=5):
            held = (self.clock.now(), self.login(who))
            self._tokens[who] = held
        return held[1]

    def followup(self, receipt_key: str) -> dict[str, str]:
        response = self.client.post("/api/v1/followup", json={"receipt_key": receipt_key})
        assert response.status_code == 200, response.json
        return {"Authorization": f"Bearer {response.json['access_token']}"}


@pytest.fixture()
def people(client: FlaskClient, login: Login, clock: SettableClock) -> People:
    return People(client, login, clock)


def log(client: FlaskClient, headers: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    """Every audit row matching ``query``, newest first (all pages)."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {**query, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/audit", query_string=params, headers=headers)
        assert page.status_code == 200, page.get_data(True)
        rows += page.json["items"]
        cursor = page.json["next_cursor"]
        if cursor is None:
            return rows


def brief(rows: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None, str]]:
    """(action, actor id, report id, at) of each row."""
    return [(r["action"], r["actor"]["id"] if r["actor"] else None, r["report_id"], r["at"])
            for r in rows]


def submit(client: FlaskClient, hospital: Org, headers: dict[str, str] | None = None
           ) -> dict[str, Any]:
    created = client.post("/api/v1/reports", json=report_body(hospital.ward),
                          headers=headers or {})
    assert created.status_code == 201, created.json
    body: dict[str, Any] = created.json
    return body


def test_staff_side_reads_are_audited_and_the_reporters_own_are_not(
        client: FlaskClient, hospital: Org, people: People, clock: SettableClock):
    named = submit(client, hospital, people("nurse"))["id"]
    anonymous = submit(client, hospital)
    anonymous_id, receipt = anonymous["id"], anonymous["receipt_key"]
    officer = people("officer")
    start = log(client, officer)
    assert all(row["action"] in SUBMISSION for row in start)

    expected = []
    for who, report_id in (("ward_leader", named), ("officer", anonymous_id),
                           ("admin", named), ("ward_leader", anonymous_id)):
        clock.advance(minutes=1)
        seen = client.get(f"/api/v1/reports/{report_id}", headers=people(who))
        assert seen.status_code == 200 and "timeline" in seen.json
        expected.append(("read", getattr(hospital, who), report_id, iso(clock.now())))

    # The reporter's own reads, named and anonymous, are not audited; nor are refused reads.
    clock.advance(minutes=1)
    mine = client.get(f"/api/v1/reports/{named}", headers=people("nurse"))
    assert mine.status_code == 200 and "timeline" not in mine.json
    theirs = client.get(f"/api/v1/reports/{anonymous_id}", headers=people.followup(receipt))
    assert theirs.status_code == 200 and "timeline" not in theirs.json
    for who in ("site_leader", "nurse"):
        assert_problem(client.get(f"/api/v1/reports/{anonymous_id}", headers=people(who)), 404)

    rows = [row for row in log(client, officer) if row["action"] not in SUBMISSION]
    assert brief(rows) == expected[::-1]  # newest first
    names = {"ward_leader": "Wendy Ward", "officer": "Sam Safety", "admin": "Ada Admin"}
    assert [row["actor"]["name"] for row in rows] == [
        names[who] for who in ("ward_leader", "admin", "officer", "ward_leader")]
    assert all(row["action_id"] is None and isinstance(row["id"], int) for row in rows)


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
def test_every_change_is_audited_with_its_actor(
        client: FlaskClient, hospital: Org, people: People, clock: SettableClock,
        anonymous: bool):
    created = submit(client, hospital, None if anonymous else people("nurse"))
    report_id = created["id"]
    # The reporter: the nurse, or the anonymous holder of the receipt key (no actor).
    reporter: Callable[[], dict[str, str]] = (
        (lambda: people.followup(created["receipt_key"])) if anonymous
        else (lambda: people("nurse")))
    reporter_id = None if anonymous else hospital.nurse
    expected: list[tuple[str, str | None, str | None, str]] = []

    def step(who: str | None, path: str, body: dict[str, Any], status: int,
             *actions: str) -> None:
        clock.advance(minutes=3)
        headers = reporter() if who is None else people(who)
        answer = client.post(f"/api/v1/reports/{report_id}/{path}", json=body, headers=headers)
        assert answer.status_code == status, answer.get_data(True)
        actor = reporter_id if who is None else getattr(hospital, who)
        expected.extend((action, actor, report_id, iso(clock.now())) for action in actions)

    step("ward_leader", "acknowledge", {"message": "Seen."}, 200, "acknowledged")
    step("ward_leader", "messages", {"body": "Check bay 2.", "internal": True}, 201, "message")
    step("ward_leader", "messages", {"body": "Which nights?"}, 201, "message")
    step(None, "messages", {"body": "Weekends."}, 201, "message")
    step("ward_leader", "assign", {"user_id": hospital.site_leader, "reason": "Director."},
         200, "assigned")
    step("site_leader", "close", {"outcome": "actioned", "response": "Fixed."}, 200, "closed")
    step(None, "feedback", {"loop_closed": "partly", "would_speak_up_again": "yes"}, 201,
         "feedback")
    step(None, "reopen", {"reason": "Again."}, 200, "reopened")
    step("officer", "close", {"outcome": "planned", "response": "Panels ordered."}, 200,
         "closed")
    step("officer", "reopen", {"reason": "Review."}, 200, "reopened")
    step("officer", "messages", {"body": "Reviewing."}, 201, "message")
    # Refused and illegal steps leave no row.
    step(None, "messages", {"body": "psst", "internal": True}, 403)
    step("ward_leader", "close", {"outcome": "actioned", "response": "x"}, 404)  # handed on
    step("admin", "acknowledge", {}, 403)
    step(None, "feedback", {"loop_closed": "yes", "would_speak_up_again": "yes"}, 409)

    rows = log(client, people("officer"), report_id=report_id)
    changes = [row for row in rows if row["action"] not in SUBMISSION]
    assert brief(changes) == expected[::-1]
    assert (None in {actor for _, actor, _, _ in expected}) == anonymous

    # Closing a new report acknowledges it at the same moment: two rows, one time.
    other = submit(client, hospital)["id"]
    clock.advance(minutes=1)
    closed = client.post(f"/api/v1/reports/{other}/close", headers=people("officer"),
                         json={"outcome": "duplicate", "response": "Same as the other."})
    assert closed.status_code == 200
    rows = [r for r in log(client, people("officer"), report_id=other)
            if r["action"] not in SUBMISSION]
    assert sorted(brief(rows)) == sorted(
        (action, hospital.officer, other, iso(clock.now()))
        for action in ("acknowledged", "closed"))


@pytest.mark.parametrize(("who", "status"), [
    ("nurse", 403), ("ward_leader", 403), ("site_leader", 403), ("followup", 403),
    ("nobody", 401), ("officer", 200), ("admin", 200),
])
def test_only_safety_officers_and_admins_read_the_log(
        client: FlaskClient, hospital: Org, people: People, who: str, status: int):
    created = submit(client, hospital)
    client.get(f"/api/v1/reports/{created['id']}", headers=people("ward_leader"))  # a row
    if who == "followup":
        headers = people.followup(created["receipt_key"])
    elif who == "nobody":
        headers = {}
    else:
        headers = people(who)
    answer = client.get("/api/v1/audit", headers=headers)
    if status == 200:
        assert answer.status_code == 200
        assert [row["action"] for row in answer.json["items"]
                if row["action"] not in SUBMISSION] == ["read"]
    else:
        problem = assert_problem(answer, status)
        assert "items" not in problem and created["id"] not in answer.get_data(True)


def test_filters(client: FlaskClient, hospital: Org, people: People, clock: SettableClock):
    first, second = submit(client, hospital)["id"], submit(client, hospital)["id"]
    officer = people("officer")
    moments = []

    def at_next_minute(who: str, report_id: str, step: str | None = None) -> None:
        clock.advance(minutes=1)
        moments.append(clock.now())
        if step is None:
            assert client.get(f"/api/v1/reports/{report_id}",
                              headers=people(who)).status_code == 200
        else:
            assert client.post(f"/api/v1/reports/{report_id}/{step}", json={},
                               headers=people(who)).status_code == 200

    at_next_minute("ward_leader", first)
    at_next_minute("officer", second)
    at_next_minute("ward_leader", first, "acknowledge")
    at_next_minute("officer", first)
    at_next_minute("admin", second)
    at_next_minute("officer", second, "acknowledge")
    everything = [r for r in log(client, officer) if r["action"] not in SUBMISSION]
    assert len(everything) == 6

    def check(query: dict[str, Any], keep: Callable[[dict[str, Any]], bool]) -> None:
        wanted = [r for r in log(client, officer, **query) if r["action"] not in SUBMISSION]
        expected = [r for r in everything if keep(r)]
        assert 0 < len(expected) < len(everything), query  # the filter is observable
        assert wanted == expected, query

    def actor(row: dict[str, Any]) -> str | None:
        return row["actor"]["id"] if row["actor"] else None

    check({"report_id": first}, lambda r: r["report_id"] == first)
    check({"report_id": second}, lambda r: r["report_id"] == second)
    check({"actor_id": hospital.officer}, lambda r: actor(r) == hospital.officer)
    check({"actor_id": hospital.ward_leader}, lambda r: actor(r) == hospital.ward_leader)
    check({"action": "read"}, lambda r: r["action"] == "read")
    check({"action": "acknowledged"}, lambda r: r["action"] == "acknowledged")
    # Half-open: from is inclusive, to exclusive (both exactly at a row's time here).
    check({"from": iso(moments[2])}, lambda r: r["at"] >= iso(moments[2]))
    check({"to": iso(moments[2])}, lambda r: r["at"] < iso(moments[2]))
    check({"from": iso(moments[1]), "to": iso(moments[4])},
          lambda r: iso(moments[1]) <= r["at"] < iso(moments[4]))
    assert len(log(client, officer, **{"from": iso(moments[1]), "to": iso(moments[4])})) == 3
    # The same instant in another offset, and filters combined.
    elsewhere = timezone(timedelta(hours=2))
    check({"from": moments[2].astimezone(elsewhere).isoformat(), "report_id": first,
           "actor_id": hospital.officer, "action": "read"},
          lambda r: r["at"] >= iso(moments[2]) and r["report_id"] == first
          and actor(r) == hospital.officer and r["action"] == "read")
    # Nothing matches: an empty page, not an error.
    assert log(client, officer, report_id="no-such-report") == []
    assert log(client, officer, **{"from": iso(moments[3]), "to": iso(moments[3])}) == []
    for bad in ({"action": "deleted"}, {"from": "yesterday"}, {"report_id": "x" * 65},
                {"limit": 201}, {"limit": 0}):
        problem = assert_problem(client.get("/api/v1/audit", query_string=bad,
                                            headers=officer), 422)
        assert set(problem["errors"]) == set(bad)


def test_pages_are_newest_first_and_stable_under_new_rows(
        client: FlaskClient, hospital: Org, people: People, clock: SettableClock):
    report_id = submit(client, hospital)["id"]
    for i in range(24):
        if i % 3 == 0:  # three rows to a moment: the id breaks the tie
            clock.advance(seconds=30)
        assert client.get(f"/api/v1/reports/{report_id}",
                          headers=people("officer")).status_code == 200
    admin = people("admin")
    everything = log(client, admin)
    assert len([r for r in everything if r["action"] == "read"]) == 24
    keys = [(r["at"], r["id"]) for r in everything]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/audit", query_string=params, headers=admin)
        assert page.status_code == 200 and len(page.json["items"]) <= 4
        seen += page.json["items"]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
        if len(seen) == 12:  # new rows midway are newer than the walk: never in it
            clock.advance(seconds=1)
            client.get(f"/api/v1/reports/{report_id}", headers=people("officer"))
    assert seen == everything
    assert len(log(client, admin)) == len(everything) + 1


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor_id = NULL",
    "UPDATE audit_log SET action = 'read' WHERE action = 'acknowledged'",
    "DELETE FROM audit_log",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    "TRUNCATE audit_log",
])
def test_the_database_refuses_to_change_the_log(
        client: FlaskClient, hospital: Org, people: People, database: Database,
        statement: str):
    if database.is_sqlite:
        pytest.skip("the append-only trigger is PostgreSQL's")
    report_id = submit(client, hospital)["id"]
    client.post(f"/api/v1/reports/{report_id}/acknowledge", json={}, headers=people("officer"))
    client.get(f"/api/v1/reports/{report_id}", headers=people("ward_leader"))

    def rows() -> list[Any]:
        with database.engine.connect() as connection:
            return [tuple(r) for r in connection.execute(
                text("SELECT id, at, actor_id, action, report_id, action_id FROM audit_log "
                     "ORDER BY id"))]

    before, shown = rows(), log(client, people("admin"))
    assert {r[3] for r in before} >= {"acknowledged", "read"}
    with pytest.raises(DBAPIError) as refused, database.engine.begin() as connection:
        connection.execute(text(statement))
    assert "append-only" in str(refused.value)
    assert rows() == before
    assert log(client, people("admin")) == shown
