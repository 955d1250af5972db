"""Response-time metrics: every figure against an independent computation, suppression,
CSV, roles, hostile parameters, and a fixed number of statements."""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from speakup.db import Database
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.services.reports import metrics
from speakup.services.reports.metrics import DURATIONS, FIGURES, GROUPINGS, Query
from speakup.services.reports.views import iso
from tests.api.metrics import dataset
from tests.support import Login, Org, assert_problem, report_body

URL = "/api/v1/metrics/response-times"


@pytest.fixture()
def world(database: Database, clock: SettableClock, passwords: Passwords,
          hospital: Org) -> dataset.World:
    return dataset.build_world(database, clock, passwords, hospital)


@pytest.fixture()
def history(database: Database, world: dataset.World, hospital: Org) -> dataset.World:
    dataset.generate(database, world, count=3000, seed=20261203, reporter=hospital.nurse)
    return world


def _filters(hospital: Org) -> list[dict[str, Any]]:
    return [{}, {"unit_ids": "medicine"}, {"kind": "concern"}, {"category": "patient_safety"},
            {"unit_ids": "site", "kind": "gap", "category": "staffing_workload"}]


def test_every_grouping_and_filter_matches_an_independent_computation(
        database: Database, history: dataset.World, hospital: Org):
    reports, active, answers = dataset.rows(database)
    assert len(reports) == 3000
    subtrees = {"medicine": [hospital.medicine, hospital.ward], "site": history.units}
    names = dataset.names(database)
    with database.session(write=False) as session:
        for filters in _filters(hospital):
            unit_ids = subtrees[filters["unit_ids"]] if "unit_ids" in filters else None
            chosen = [r for r in reports
                      if history.start <= r["created_at"] < history.end
                      and (unit_ids is None or r["unit_id"] in unit_ids)
                      and r["kind"] == filters.get("kind", r["kind"])
                      and r["category"] == filters.get("category", r["category"])]
            assert chosen, filters
            for group_by in GROUPINGS:
                query = Query(start=history.start, end=history.end, group_by=group_by,
                              unit_ids=unit_ids, kind=filters.get("kind"),
                              category=filters.get("category"), threshold=1)
                result = metrics.response_times(session, query, now=history.now)
                overall = dataset.expected(chosen, answers, history.now)
                assert dataset.close_enough(result["overall"], overall), (filters, group_by)
                if group_by == "none":
                    assert result["groups"] == []
                    continue
                groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
                key_of = dataset.group_key(group_by, active)
                for report in chosen:
                    for key in key_of(report):
                        groups[key].append(report)
                assert {g["key"] for g in result["groups"]} == set(groups), (filters, group_by)
                for group in result["groups"]:
                    wanted = dataset.expected(groups[group["key"]], answers, history.now)
                    assert dataset.close_enough(group, wanted), (filters, group_by, group)
                    if group_by in ("unit", "leader"):
                        assert group["label"] == names[group["key"]]


def test_the_window_is_half_open_on_creation_time(
        database: Database, history: dataset.World):
    micro = timedelta(microseconds=1)
    with database.session(write=False) as session:
        def count(start: Any, end: Any) -> int:
            result = metrics.response_times(session, Query(start=start, end=end, threshold=1),
                                            now=history.now)
            return int(result["overall"]["reports"])

        assert count(history.start, history.start + micro) == 1  # from is included
        assert count(history.start - micro, history.start) == 1  # the one just before
        assert count(history.end - micro, history.end) == 1  # to is excluded...
        assert count(history.end, history.end + micro) == 1  # ...and starts the next window


def test_escalation_moving_the_due_time_does_not_make_a_late_acknowledgement_on_time(
        database: Database, history: dataset.World):
    reports, _active, answers = dataset.rows(database)
    late = [r for r in reports if r["acknowledged_at"] is not None
            and r["ack_target_at"] < r["acknowledged_at"] <= r["ack_due_at"]]
    assert late, "the data set has acknowledgements late against the first due time only"
    start = min(r["created_at"] for r in reports)
    with database.session(write=False) as session:
        result = metrics.response_times(
            session, Query(start=start, end=history.now, threshold=1), now=history.now)
    wanted = dataset.expected(reports, answers, history.now)
    assert result["overall"]["ack_within_sla_pct"] == wanted["ack_within_sla_pct"]
    on_moved_due = sum(r["acknowledged_at"] is not None
                       and r["acknowledged_at"] <= r["ack_due_at"] for r in reports)
    on_target = sum(r["acknowledged_at"] is not None
                    and r["acknowledged_at"] <= r["ack_target_at"] for r in reports)
    assert on_moved_due > on_target


# --- through HTTP -----------------------------------------------------------------------


def _submit(client: FlaskClient, headers: dict[str, str], unit: str, n: int,
            **overrides: object) -> None:
    """``n`` reports on ``unit``, then a minute passes (the window ends before now)."""
    clock = client.application.extensions["speakup"].clock
    for _ in range(n):
        response = client.post("/api/v1/reports", json=report_body(unit, **overrides),
                               headers=headers)
        assert response.status_code == 201, response.json
    clock.set(clock.now() + timedelta(minutes=1))


def _units(client: FlaskClient, login: Login, hospital: Org, n: int) -> list[str]:
    admin = login("admin")
    ids = []
    for i in range(n):
        response = client.post("/api/v1/units", headers=admin, json={
            "name": f"Bay {i}", "code": f"BAY{i}", "parent_id": hospital.ward})
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    return ids


def test_reports_without_the_event_have_no_figures(
        client: FlaskClient, hospital: Org, login: Login):
    _submit(client, login("nurse"), hospital.ward, 5)
    body = client.get(URL, headers=login("officer")).json
    overall = body["overall"]
    assert overall["reports"] == 5 and overall["acknowledged"] == 0
    for name in ("ack_hours", "first_response_hours", "close_hours"):
        assert overall[name] == {"median": None, "p90": None}
    # Nobody acknowledged and nothing is due yet: no denominator.
    assert overall["ack_within_sla_pct"] is None
    assert overall["close_within_sla_pct"] is None
    assert overall["would_speak_up_again_pct"] is None
    assert overall["anonymous_pct"] == 0.0


@pytest.mark.parametrize(("sizes", "threshold", "hidden", "overall_hidden"), [
    ((4, 5, 6), None, {0, 1}, False),  # one below: the next smallest goes too
    ((4, 3, 6), None, {0, 1}, False),  # two below: nothing more
    ((5, 6, 7), None, set(), False),  # at the threshold: shown
    ((4, 5, 6), 6, {0, 1}, False),  # a higher threshold asked for
    ((5, 6, 7), 7, {0, 1}, False),
    ((4,), None, {0}, True),  # the only group: the overall row would be it
    ((6,), 7, {0}, True),
])
def test_small_groups_are_suppressed_and_cannot_be_recovered_by_subtraction(
        client: FlaskClient, hospital: Org, login: Login, sizes: tuple[int, ...],
        threshold: int | None, hidden: set[int], overall_hidden: bool):
    units = _units(client, login, hospital, len(sizes))
    nurse = login("nurse")
    for unit, size in zip(units, sizes, strict=True):
        _submit(client, nurse, unit, size)
    query = f"?group_by=unit&suppression_threshold={threshold}" if threshold else \
        "?group_by=unit"
    body = client.get(URL + query, headers=login("officer")).json
    assert body["suppression_threshold"] == (threshold or 5)
    by_unit = {g["key"]: g for g in body["groups"]}
    for i, unit in enumerate(units):
        group = by_unit[unit]
        if i in hidden:
            assert group == {"key": unit, "label": f"Bay {i}", "suppressed": True}
        else:
            assert group["suppressed"] is False and group["reports"] == sizes[i]
    if overall_hidden:
        assert body["overall"] == {"suppressed": True}
    else:
        assert body["overall"]["reports"] == sum(sizes)
        assert set(FIGURES) <= set(body["overall"])


def test_csv_is_the_same_table_as_json(client: FlaskClient, hospital: Org, login: Login):
    units = _units(client, login, hospital, 3)
    nurse = login("nurse")
    for unit, size in zip(units, (3, 7, 9), strict=True):
        _submit(client, nurse, unit, size)
    _submit(client, nurse, units[2], 2, anonymous=True)
    officer = login("officer")
    for group_by in GROUPINGS:
        as_json = client.get(f"{URL}?group_by={group_by}", headers=officer).json
        response = client.get(f"{URL}?group_by={group_by}",
                              headers={**officer, "Accept": "text/csv"})
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        wanted = [*as_json["groups"], {"key": "overall", "label": "All reports",
                                       **as_json["overall"]}]
        assert len(table) == len(wanted)
        for row, group in zip(table, wanted, strict=True):
            if group["suppressed"]:
                assert not any(row[name] for name in FIGURES if name in row)
            assert row["key"] == group["key"] and row["label"] == group["label"]
            assert row["suppressed"] == str(group["suppressed"]).lower()
            for name in FIGURES:
                value = group.get(name)
                if name in DURATIONS:
                    for part in ("median", "p90"):
                        assert row[f"{name}_{part}"] == _cell((value or {}).get(part))
                else:
                    assert row[name] == _cell(value), (name, row, group)


def _cell(value: Any) -> str:
    return "" if value is None else repr(value)


def test_a_label_that_looks_like_a_formula_is_defused_in_csv(
        client: FlaskClient, hospital: Org, login: Login):
    admin = login("admin")
    unit = client.post("/api/v1/units", headers=admin, json={
        "name": "=HYPERLINK(\"http://x\")", "code": "EVIL", "parent_id": hospital.ward}).json
    _submit(client, login("nurse"), unit["id"], 5)
    text = client.get(f"{URL}?group_by=unit", headers={**login("officer"),
                                                     "Accept": "text/csv"}).get_data(True)
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_only_safety_officers_and_admins_see_metrics(
        client: FlaskClient, hospital: Org, login: Login):
    assert client.get(URL, headers=login("officer")).status_code == 200
    assert client.get(URL, headers=login("admin")).status_code == 200
    for who in ("nurse", "ward_leader", "site_leader"):
        assert_problem(client.get(URL, headers=login(who)), 403)
    assert_problem(client.get(URL), 401)


@pytest.mark.parametrize("query", [
    "group_by=everything", "group_by=", "kind=rumour", "category=nonsense",
    "unit_id=unknown", "unit_id=" + "u" * 5000, "suppression_threshold=4",
    "suppression_threshold=0", "suppression_threshold=-5",
    "suppression_threshold=99999999999999999999999999", "suppression_threshold=five",
    "suppression_threshold=5.5", "from=yesterday", "to=2026-13-45T00:00:00Z",
    "from=2026-06-01T00:00:00Z&to=2026-06-01T00:00:00Z",
    "from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z", "from=" + "9" * 5000,
    "from=0001-01-01T00:00:00%2B01:00",
])
def test_bad_parameters_are_a_clean_422(client: FlaskClient, hospital: Org, login: Login,
                                        query: str):
    body = assert_problem(client.get(f"{URL}?{query}", headers=login("officer")), 422)
    assert body["errors"]


def test_the_echo_and_the_defaults(client: FlaskClient, hospital: Org, login: Login,
                                   clock: SettableClock):
    officer = login("officer")
    body = client.get(URL, headers=officer).json
    assert body["to"] == iso(clock.now())
    assert body["from"] == iso(clock.now() - timedelta(days=90))
    assert body["group_by"] == "none" and body["suppression_threshold"] == 5
    assert body["groups"] == [] and body["overall"] == {"suppressed": True}
    body = client.get(f"{URL}?unit_id={hospital.medicine}&kind=gap&category=other"
                      "&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&group_by=month",
                      headers=officer).json
    assert (body["unit_id"], body["kind"], body["category"]) == (hospital.medicine, "gap",
                                                                  "other")
    assert (body["from"], body["to"]) == ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")


# --- cost -----------------------------------------------------------------------------


@pytest.fixture()
def statements(database: Database) -> Iterator[Callable[[Callable[[], Any]], int]]:
    seen: list[str] = []

    def on_execute(*_args: Any) -> None:
        seen.append("")

    event.listen(database.engine, "before_cursor_execute", on_execute)

    def measure(request: Callable[[], Any]) -> int:
        seen.clear()
        request()
        return len(seen)

    yield measure
    event.remove(database.engine, "before_cursor_execute", on_execute)


def test_the_number_of_statements_does_not_grow_with_the_data(
        client: FlaskClient, hospital: Org, login: Login, database: Database,
        world: dataset.World, statements: Callable[[Callable[[], Any]], int]):
    officer = login("officer")
    _submit(client, login("nurse"), hospital.ward, 6)
    small = {g: statements(lambda g=g: client.get(f"{URL}?group_by={g}", headers=officer))
             for g in GROUPINGS}
    dataset.generate(database, world, count=1500, seed=7, reporter=hospital.nurse)
    large = {g: statements(lambda g=g: client.get(f"{URL}?group_by={g}&from=2020-01-01T00:00:00Z",
                                                  headers=officer)) for g in GROUPINGS}
    assert small == large
    # The token check (2), then the overall row and the groups, and their feedback answers:
    # one statement each on PostgreSQL when the groups split the reports, two each otherwise;
    # then one for the groups' labels (units, categories, leaders).
    assert max(large.values()) <= 7, large


# --- the two databases --------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("SPEAKUP_TEST_DATABASE_URL"),
                    reason="compares with PostgreSQL: runs when the suite runs there")
def test_sqlite_and_postgresql_give_identical_figures(
        database: Database, history: dataset.World, tmp_path: Any, hospital: Org):
    from sqlalchemy import insert, select

    from speakup import migrate
    from speakup.db import Base, make_engine

    sqlite_url = f"sqlite:///{tmp_path / 'copy.db'}"
    migrate.upgrade(sqlite_url)
    copy = make_engine(sqlite_url)
    try:
        with database.engine.connect() as source, copy.begin() as target:
            for table in Base.metadata.sorted_tables:
                if table.name in ("alembic_version",):
                    continue
                rows = _parents_first(table, [dict(r._mapping)
                                              for r in source.execute(select(table))])
                if rows:
                    target.execute(table.delete())
                    target.execute(insert(table), rows)
        from sqlalchemy.orm import Session
        with database.session(write=False) as pg, Session(copy) as lite:
            for group_by in GROUPINGS:
                for unit_ids in (None, [hospital.medicine, hospital.ward]):
                    query = Query(start=history.start - timedelta(days=400), end=history.now,
                                  group_by=group_by, unit_ids=unit_ids, threshold=1)
                    assert metrics.response_times(pg, query, now=history.now) == \
                        metrics.response_times(lite, query, now=history.now), group_by
    finally:
        copy.dispose()


def _parents_first(table: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` ordered so that a row referring to another of the same table (a unit's
    parent) comes after it: PostgreSQL returns rows in no particular order."""
    own = [(fk.parent.name, fk.column.name) for fk in table.foreign_keys
           if fk.column.table is table]
    if not own:
        return rows
    placed: set[Any] = set()
    ordered: list[dict[str, Any]] = []
    while len(ordered) < len(rows):
        for row in rows:
            key = tuple(row[referred] for _, referred in own)
            if key in placed:
                continue
            if all(row[column] is None or (row[column],) in placed for column, _ in own):
                ordered.append(row)
                placed.add(key)
    return ordered


# --- the delays every writer keeps ------------------------------------------------------


def test_every_step_that_sets_an_event_time_sets_its_delay(
        client: FlaskClient, hospital: Org, login: Login, database: Database,
        clock: SettableClock):
    from sqlalchemy import select

    from speakup.models import Report
    from speakup.services.reports.delays import DELAYS, micros

    nurse, leader = login("nurse"), login("ward_leader")
    ids = [client.post("/api/v1/reports", json=report_body(hospital.ward),
                       headers=nurse).json["id"] for _ in range(4)]
    steps = [
        lambda: client.post(f"/api/v1/reports/{ids[0]}/acknowledge", json={}, headers=leader),
        lambda: client.post(f"/api/v1/reports/{ids[1]}/messages",
                            json={"body": "We are looking into it."}, headers=leader),
        lambda: client.post(f"/api/v1/reports/{ids[2]}/close", headers=leader, json={
            "outcome": "actioned", "response": "Fixed: the alarm now relays to the desk."}),
        lambda: client.post("/api/v1/actions", headers=leader, json={
            "title": "Relay alarms", "description": "Relay bed alarms to the desk.",
            "unit_id": hospital.ward, "report_ids": [ids[3]]}),
    ]
    for step in steps:
        clock.set(clock.now() + timedelta(hours=3, microseconds=123457))
        response = step()
        assert response.status_code in (200, 201), response.get_data(True)
    action = client.get("/api/v1/actions", headers=leader).json["items"][0]
    clock.set(clock.now() + timedelta(hours=1, microseconds=7))
    response = client.patch(f"/api/v1/actions/{action['id']}", headers=leader,
                            json={"status": "in_progress", "update": "Ordered the relay."})
    assert response.status_code == 200, response.get_data(True)
    with database.session(write=False) as session:
        rows = session.execute(select(Report).where(Report.id.in_(ids))).scalars().all()
        seen = 0
        for report in rows:
            for moment, delay in DELAYS.items():
                at = getattr(report, moment)
                wanted = None if at is None else micros(report.created_at, at)
                assert getattr(report, delay) == wanted, (moment, report.id)
                seen += at is not None
    assert seen >= 6  # acknowledgements, first responses and a closing


@pytest.mark.parametrize("query", [
    "group_by=unit&group_by=kind", "from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z",
    "unit_id=%00", "category=%27%3B--", "kind=concern&kind=gap",
])
def test_odd_but_well_formed_parameters_never_fail_the_server(
        client: FlaskClient, hospital: Org, login: Login, query: str):
    response = client.get(f"{URL}?{query}", headers=login("officer"))
    assert response.status_code in (200, 422), response.get_data(True)
    if response.status_code == 422:
        assert_problem(response, 422)
