"""Object-level authorization, as a matrix: every report route (read from openapi.yaml, so a
new one cannot be left out) against every kind of caller, on a report that is somebody
else's and not routed to them, and on their own or assigned report as positive controls.

A report the caller cannot see is 404, worded exactly like one that does not exist; a visible
report the caller may not act on is 403, as is a follow-up token on a route that never takes
one.  A refused request changes nothing: the staff view of every report (as a safety officer
reads it) and the audit log are the same before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from speakup.db import Database
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.services.core.ids import new_id
from speakup.services.core.keys import Keys
from speakup.services.reports import intake
from tests.support import PASSWORD, Org, assert_problem

SPEC = Path(__file__).resolve().parents[3] / "openapi.yaml"
REPORT = "/api/v1/reports/{report_id}"
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}

Route = tuple[str, str]


def spec_routes() -> set[Route]:
    """Every (method, path) of openapi.yaml on one report: the report and everything under it."""
    spec = yaml.safe_load(SPEC.read_text())
    return {(method.upper(), path) for path, item in spec["paths"].items()
            if path == REPORT or path.startswith(REPORT + "/")
            for method in item if method in HTTP_METHODS}


GET = ("GET", REPORT)
ACK = ("POST", REPORT + "/acknowledge")
MSG = ("POST", REPORT + "/messages")
CLOSE = ("POST", REPORT + "/close")
REOPEN = ("POST", REPORT + "/reopen")
ASSIGN = ("POST", REPORT + "/assign")
FEEDBACK = ("POST", REPORT + "/feedback")

# A valid request per route: what an allowed caller sends and succeeds with.  "<site_leader>"
# is replaced by the site leader's id (someone who can act on any report).
BODIES: dict[Route, dict[str, Any] | None] = {
    GET: None,
    ACK: {"message": "Thank you, we are on it."},
    MSG: {"body": "Is there any news?"},
    CLOSE: {"outcome": "actioned", "response": "The alarms are checked at hand-over now."},
    REOPEN: {"reason": "It happened again."},
    ASSIGN: {"user_id": "<site_leader>", "reason": "Needs the director."},
    FEEDBACK: {"loop_closed": "yes", "would_speak_up_again": "yes"},
}
# The routes that act on a closed report; the others are tried on a new one, so that a
# refusal is about who asks, never about the report's status.
ON_CLOSED = {REOPEN, FEEDBACK}
SUCCESS = {GET: 200, ACK: 200, MSG: 201, CLOSE: 200, REOPEN: 200, ASSIGN: 200, FEEDBACK: 201}
# What an allowed step writes to the audit log (oldest first), on a new or a closed report.
AUDITED = {
    ACK: ["acknowledged"],
    MSG: ["message"],  # plus "acknowledged" first when the staff side writes on a new report
    CLOSE: ["acknowledged", "closed"],
    REOPEN: ["reopened"],
    ASSIGN: ["assigned"],
    FEEDBACK: ["feedback"],
}


def _only(allowed: set[Route], refused: int) -> dict[Route, int]:
    return {route: SUCCESS[route] if route in allowed else refused for route in BODIES}


# Cannot see the report: 404 everywhere.
STRANGER = {route: 404 for route in BODIES}
# A follow-up token on another report: 403 where follow-up tokens are never taken, else 404.
FOLLOWUP_STRANGER = {**STRANGER, ACK: 403, CLOSE: 403, ASSIGN: 403}
ADMIN = _only({GET}, 403)  # sees everything, acts on nothing
OFFICER = _only(set(BODIES) - {FEEDBACK}, 403)  # everything but the reporter's verdict
ASSIGNEE = _only({GET, ACK, MSG, CLOSE, ASSIGN}, 403)  # a leader never reopens
REPORTER = _only({GET, MSG, REOPEN, FEEDBACK}, 403)


@dataclass(frozen=True)
class Case:
    actor: str
    target: str  # a family of reports (see World): who sent it, in which unit
    expected: dict[Route, int]

    @property
    def id(self) -> str:
        return f"{self.actor}->{self.target}"


CASES = [
    # Somebody else's report, not routed to the caller.
    Case("anon1", "anon@ward8", FOLLOWUP_STRANGER),
    Case("anon2", "anon@ward", FOLLOWUP_STRANGER),
    Case("anon1", "nurse@ward", FOLLOWUP_STRANGER),
    Case("nurse", "sid@ward", STRANGER),
    Case("sid", "nurse@ward", STRANGER),
    Case("sid", "anon@ward8", STRANGER),  # anonymous, in sid's own unit
    Case("ward_leader", "nurse@ward8", STRANGER),
    Case("ward_leader", "anon@ward8", STRANGER),
    Case("lenny", "nurse@ward", STRANGER),
    Case("lenny", "anon@ward", STRANGER),
    Case("site_leader", "nurse@ward", STRANGER),  # leads an ancestor unit: not routed there
    Case("admin", "nurse@ward", ADMIN),
    Case("officer", "anon@ward", OFFICER),
    # Positive controls: the assigned leader, the reporter.
    Case("ward_leader", "nurse@ward", ASSIGNEE),
    Case("lenny", "anon@ward8", ASSIGNEE),
    Case("nurse", "nurse@ward", REPORTER),
    Case("anon1", "anon@ward", REPORTER),
    Case("anon2", "anon@ward8", REPORTER),
]
ROUTES = sorted(spec_routes() | set(BODIES))


@dataclass
class Reporter:
    id: str


@dataclass
class World:
    """The hospital, plus a second ward (W8) led by Lenny where Sid works, and two reports
    (one new, one closed) of each family: ``<reporter>@<unit>``."""

    client: FlaskClient
    users: dict[str, str]  # actor -> user id
    emails: dict[str, str]
    reports: dict[str, dict[str, str]]  # family -> "new"/"closed" -> report id
    receipts: dict[str, str] = field(default_factory=dict)  # report id -> receipt key
    routed_to: dict[str, str] = field(default_factory=dict)  # report id -> its leader
    _tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    # The anonymous actors and the reports they hold follow-up tokens for.
    OWN = {"anon1": "anon@ward", "anon2": "anon@ward8"}

    def user_headers(self, actor: str) -> dict[str, str]:
        if actor not in self._tokens:
            response = self.client.post("/api/v1/auth/login", json={
                "email": self.emails[actor], "password": PASSWORD})
            assert response.status_code == 200, response.json
            self._tokens[actor] = {"Authorization": f"Bearer {response.json['access_token']}"}
        return self._tokens[actor]

    def headers(self, actor: str, report_id: str) -> dict[str, str]:
        """The actor's headers for a request on ``report_id``: an anonymous actor holds the
        follow-up token of that report when it is one of theirs, else of their new one."""
        if actor not in self.OWN:
            return self.user_headers(actor)
        own = self.reports[self.OWN[actor]]
        held = report_id if report_id in own.values() else own["new"]
        response = self.client.post("/api/v1/followup",
                                    json={"receipt_key": self.receipts[held]})
        assert response.status_code == 200, response.json
        assert response.json["report_id"] == held
        return {"Authorization": f"Bearer {response.json['access_token']}"}

    def actor_id(self, actor: str) -> str | None:
        return None if actor in self.OWN else self.users[actor]

    def all_reports(self) -> list[str]:
        return sorted(rid for family in self.reports.values() for rid in family.values())


FAMILIES = {  # family -> (reporter, unit)
    "nurse@ward": ("nurse", "ward"),
    "nurse@ward8": ("nurse", "ward8"),
    "sid@ward": ("sid", "ward"),
    "anon@ward": (None, "ward"),
    "anon@ward8": (None, "ward8"),
}


@pytest.fixture()
def world(client: FlaskClient, hospital: Org, database: Database, clock: SettableClock,
          passwords: Passwords, keys: Keys) -> World:
    ward8 = org.create_unit(database, clock=clock, name="Ward 8", code="W8",
                            parent_id=hospital.medicine)
    extra = {
        "lenny": ("lenny@example.org", "Lenny Leader", ["leader"]),
        "sid": ("sid@example.org", "Sid Staff", ["staff"]),
    }
    users = {key: getattr(hospital, key) for key in hospital.emails}
    emails = dict(hospital.emails)
    for key, (email, name, roles) in extra.items():
        user = org.create_user(database, clock=clock, passwords=passwords, data=org.NewUser(
            email=email, name=name, password=PASSWORD, roles=roles, unit_id=ward8.id))
        users[key], emails[key] = user.id, email
    org.add_leader(database, clock=clock, unit_id=ward8.id, user_id=users["lenny"])
    units = {"ward": hospital.ward, "ward8": ward8.id}
    leaders = {"ward": users["ward_leader"], "ward8": users["lenny"]}

    w = World(client, users, emails, reports={})
    for family, (reporter, unit) in FAMILIES.items():
        w.reports[family] = {}
        for state in ("new", "closed"):
            submitted = intake.submit(
                database, clock=clock, keys=keys,
                data=intake.NewReport(kind="concern", category="patient_safety",
                                      unit_id=units[unit], title=f"{family} {state}",
                                      description=f"A report of {family}, {state}."),
                reporter=Reporter(users[reporter]) if reporter else None)
            w.reports[family][state] = submitted.report_id
            if submitted.receipt_key is not None:
                w.receipts[submitted.report_id] = submitted.receipt_key
            # Routed as the matrix assumes: to the leader of the report's unit.
            w.routed_to[submitted.report_id] = leaders[unit]
    for family in FAMILIES:
        closed = client.post(f"/api/v1/reports/{w.reports[family]['closed']}/close",
                             headers=w.user_headers("officer"),
                             json={"outcome": "planned", "response": "Ordered."})
        assert closed.status_code == 200, closed.json
    return w


@dataclass(frozen=True)
class Snapshot:
    reports: dict[str, Any]  # report id -> the safety officer's staff view
    audit: list[dict[str, Any]]  # every audit row, newest first


def audit_log(world: World) -> list[dict[str, Any]]:
    page = world.client.get("/api/v1/audit?limit=200", headers=world.user_headers("officer"))
    assert page.status_code == 200, page.json
    assert page.json["next_cursor"] is None
    items: list[dict[str, Any]] = page.json["items"]
    return items


def staff_views(world: World) -> dict[str, Any]:
    views = {}
    for report_id in world.all_reports():
        response = world.client.get(f"/api/v1/reports/{report_id}",
                                    headers=world.user_headers("officer"))
        assert response.status_code == 200, response.json
        views[report_id] = response.json
    return views


def before(world: World) -> Snapshot:
    # The views first: their audited reads are then in the log read next.
    views = staff_views(world)
    return Snapshot(views, audit_log(world))


def after(world: World) -> Snapshot:
    # The log first: the officer's reads that follow are not in it.
    audit = audit_log(world)
    return Snapshot(staff_views(world), audit)


def send(world: World, route: Route, report_id: str, headers: dict[str, str]) -> Any:
    method, path = route
    body = BODIES[route]
    if body is not None:
        body = {k: world.users["site_leader"] if v == "<site_leader>" else v
                for k, v in body.items()}
    return world.client.open(path.format(report_id=report_id), method=method, json=body,
                             headers=headers)


def test_the_matrix_covers_every_report_route_in_the_spec():
    routes = spec_routes()
    assert GET in routes and ACK in routes  # the spec was read, and read right
    assert set(BODIES) == routes, "a report route without a row in the matrix (or gone)"
    for case in CASES:
        assert set(case.expected) == routes, case.id
    # Every kind of caller is in it.
    assert {c.actor for c in CASES} >= {"anon1", "anon2", "nurse", "sid", "ward_leader",
                                         "lenny", "officer", "admin"}


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p[len(REPORT):] or '/'}"
                                               for m, p in ROUTES])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_object_level_authorization(world: World, case: Case, route: Route):
    assert route in BODIES and route in case.expected, f"{route} is missing from the matrix"
    expected = case.expected[route]
    state = "closed" if route in ON_CLOSED else "new"
    target = world.reports[case.target][state]
    headers = world.headers(case.actor, target)

    was = before(world)
    assert {rid: [a["id"] for a in view["routing"]["assignees"]]
            for rid, view in was.reports.items()} == {
        rid: [leader] for rid, leader in world.routed_to.items()}
    answer = send(world, route, target, headers)
    now = after(world)

    assert answer.status_code == expected, (answer.status_code, answer.get_data(True))
    new_rows = [row for row in now.audit if row["id"] not in {r["id"] for r in was.audit}]
    if expected >= 400:
        problem = assert_problem(answer, expected)
        if expected == 404:
            # Not visible reads exactly like not there.
            ghost = send(world, route, new_id(), headers)
            assert assert_problem(ghost, 404) == problem
        assert now.reports == was.reports, "a refused request changed a report"
        assert new_rows == [], "a refused request left an audit row"
        return

    # Allowed: only the target changed (or nothing, for a read), and the log says who.
    actor_id = world.actor_id(case.actor)
    others = {rid: view for rid, view in now.reports.items() if rid != target}
    assert others == {rid: view for rid, view in was.reports.items() if rid != target}
    rows = sorted(new_rows, key=lambda row: row["id"])
    assert all(row["report_id"] == target for row in rows), rows
    assert all((row["actor"] or {}).get("id") == actor_id for row in rows), rows
    if route == GET:
        assert now.reports[target] == was.reports[target]
        staff_side = "timeline" in answer.json
        assert staff_side == (case.actor in ("officer", "admin", "ward_leader", "lenny"))
        assert [row["action"] for row in rows] == (["read"] if staff_side else [])
        return
    assert now.reports[target] != was.reports[target]
    actions = AUDITED[route]
    if route == MSG and case.expected[ACK] == SUCCESS[ACK]:  # the staff side, on a new report
        actions = ["acknowledged", *actions]
    assert [row["action"] for row in rows] == actions
