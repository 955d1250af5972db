"""What a unit's huddle shows: open reports with age and SLA state, the last 14 days'
closings with outcome and response, actions in progress, the median time to acknowledge;
and what it never shows, for named and anonymous reports alike."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.schemas.huddle import HuddleSchema
from speakup.services.core.clock import SettableClock
from speakup.services.org import subtree_ids
from speakup.services.reports import huddle as huddles
from speakup.services.reports import improvements, metrics
from tests.api.huddle.conftest import History, Huddle, Ward
from tests.support import Org


def _body(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    # Every field the spec promises, nothing it does not, in its order.
    assert HuddleSchema().validate(body) == {}
    dumped = HuddleSchema().dump(body)
    assert dumped == body and json.dumps(dumped) == json.dumps(body)
    return body


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_open_reports_oldest_first_with_age_and_sla_state(
        clock: SettableClock, history: History, huddle: Huddle, hospital: Org, ward8: Ward):
    t0 = clock.now()
    at = lambda hours: clock.set(t0 + timedelta(hours=hours))  # noqa: E731
    made: dict[str, str] = {}
    at(0)
    made["unacknowledged concern"] = history.report()
    at(0.5)
    made["unacknowledged immediate risk"] = history.report(immediate_risk=True)
    at(1)
    made["acknowledged immediate risk"] = history.report(immediate_risk=True)
    history.step("acknowledge", made["acknowledged immediate risk"])
    at(1.5)
    closed = history.report()
    history.step("close", closed, outcome="actioned", response="Done.")
    at(40)
    made["closing soon"] = history.report(immediate_risk=True)  # due at 112 h
    history.step("acknowledge", made["closing soon"])
    at(52)
    made["due exactly now"] = history.report()  # ack due at 100 h
    at(60)
    made["acknowledgement due soon"] = history.report()  # ack due at 108 h
    at(90)
    made["new opportunity"] = history.report(kind="opportunity")  # ack due at 210 h
    at(91)
    made["acknowledged concern"] = history.report()
    history.step("post_message", made["acknowledged concern"], body="We are looking.")
    at(95)
    elsewhere = history.report(unit_id=ward8.id)
    at(100)

    body = _body(huddle(hospital.ward, as_="ward_leader"))
    assert body["unit_id"] == hospital.ward and _at(body["as_of"]) == clock.now()
    items = body["open"]["items"]
    assert [i["id"] for i in items] == list(made.values())  # oldest first
    assert {name: items[n]["sla"] for n, name in enumerate(made)} == {
        "unacknowledged concern": "ack_overdue",
        # Unacknowledged and past both due times: the acknowledgement is what is overdue.
        "unacknowledged immediate risk": "ack_overdue",
        "acknowledged immediate risk": "close_overdue",
        "closing soon": "due_soon",
        "due exactly now": "due_soon",  # due at this very moment, not yet overdue
        "acknowledgement due soon": "due_soon",
        "new opportunity": "on_track",
        "acknowledged concern": "on_track",
    }
    assert [i["age_hours"] for i in items] == [100.0, 99.5, 99.0, 60.0, 48.0, 40.0, 10.0, 9.0]
    assert body["open"]["total"] == 8
    assert body["open"]["by_sla"] == {"ack_overdue": 2, "close_overdue": 1, "due_soon": 3,
                                      "on_track": 2}
    first = items[0]
    assert first["reference"].startswith("SU-") and first["kind"] == "concern"
    assert first["category"] == "patient_safety" and first["title"] == "Infusion pump alarms"
    assert first["status"] == "new" and first["immediate_risk"] is False
    assert first["unit_id"] == hospital.ward
    assert _at(first["ack_due_at"]) == t0 + timedelta(hours=48)
    assert _at(first["close_due_at"]) == t0 + timedelta(days=30)
    assert items[-1]["status"] == "in_progress"
    assert closed not in json.dumps(body) and elsewhere not in json.dumps(body)

    # The department's huddle covers both its wards; Ward 8's only its own.
    department = _body(huddle(hospital.medicine, as_="officer"))["open"]
    assert department["total"] == 9 and department["items"][-1]["id"] == elsewhere
    assert [i["id"] for i in _body(huddle(ward8.id))["open"]["items"]] == [elsewhere]


def test_each_list_is_bounded_and_its_counts_cover_all(
        clock: SettableClock, history: History, huddle: Huddle, hospital: Org,
        monkeypatch: pytest.MonkeyPatch):
    t0 = clock.now()
    made = []
    for n in range(5):
        clock.set(t0 + timedelta(minutes=n))
        made.append(history.report(kind="opportunity" if n % 2 else "concern"))
    for report_id in made[:3]:
        history.step("close", report_id, outcome="planned", response="On the plan.")
    for n in range(2):
        clock.set(t0 + timedelta(minutes=10 + n))
        made.append(history.report())
    clock.set(t0 + timedelta(hours=47))
    monkeypatch.setattr(huddles, "LIMIT", 2)
    body = _body(huddle(hospital.ward))
    assert [i["id"] for i in body["open"]["items"]] == made[3:5]
    assert body["open"]["total"] == 4
    assert body["open"]["by_sla"] == {"ack_overdue": 0, "close_overdue": 0, "due_soon": 3,
                                      "on_track": 1}
    assert len(body["closed_recently"]["items"]) == 2
    assert body["closed_recently"]["total"] == 3


def test_closed_in_the_last_14_days_with_outcome_and_response(
        clock: SettableClock, history: History, huddle: Huddle, hospital: Org, ward8: Ward):
    t0 = clock.now()
    day = lambda d: clock.set(t0 + timedelta(days=d))  # noqa: E731
    officer = history.officer
    names = ("old", "named", "anonymous", "reclosed", "reopened", "boundary", "just before")
    r = {name: history.report(anonymous=name == "anonymous", title=name) for name in names}
    in_ward8 = history.report(unit_id=ward8.id, title="ward 8")
    day(1)
    history.step("close", r["old"], outcome="actioned", response="Old answer.")
    day(2)
    history.step("close", r["reclosed"], outcome="not_actioned", response="First answer.")
    clock.set(t0 + timedelta(days=6, seconds=-1))
    history.step("close", r["just before"], outcome="actioned", response="Just before.")
    day(6)  # exactly 14 days before the huddle
    history.step("close", r["boundary"], outcome="referred", response="Passed to estates.")
    day(15)
    history.step("reopen", r["reclosed"], actor=officer, reason="It happened again.")
    day(16)
    history.step("close", r["reopened"], outcome="duplicate", response="Same as before.")
    day(17)
    history.step("post_message", r["named"], body="Internal: ask the night lead.",
                 internal=True)
    history.step("post_message", r["named"], body="Which bay was it?")
    history.step("close", r["named"], outcome="actioned",
                 response="Alarm volume is now checked at every hand-over.")
    history.step("reopen", r["reopened"], actor=officer, reason="Not the same.")
    history.step("close", in_ward8, actor=officer, outcome="actioned", response="Ward 8.")
    day(18)
    history.step("close", r["anonymous"], outcome="planned", response="New pumps ordered.")
    day(19)
    history.step("close", r["reclosed"], outcome="actioned", response="Second answer.")
    day(20)

    body = _body(huddle(hospital.ward, as_="site_leader"))
    closed = body["closed_recently"]
    assert _at(closed["since"]) == t0 + timedelta(days=6)
    assert closed["total"] == 4
    assert [(c["title"], c["outcome"], c["response"], _at(c["closed_at"]))
            for c in closed["items"]] == [
        ("reclosed", "actioned", "Second answer.", t0 + timedelta(days=19)),
        ("anonymous", "planned", "New pumps ordered.", t0 + timedelta(days=18)),
        ("named", "actioned", "Alarm volume is now checked at every hand-over.",
         t0 + timedelta(days=17)),
        ("boundary", "referred", "Passed to estates.", t0 + timedelta(days=6)),
    ]
    assert closed["items"][0]["kind"] == "concern"
    assert closed["items"][0]["category"] == "patient_safety"
    assert closed["items"][0]["reference"].startswith("SU-")
    # Reopened since its closing: open again, not in the closings.
    assert [i["title"] for i in body["open"]["items"]] == ["reopened"]
    text = json.dumps(body)
    for absent in ("Old answer.", "First answer.", "Just before.", "Internal: ask",
                   "Which bay", "Ward 8.", "ward 8"):
        assert absent not in text


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def test_named_and_anonymous_reports_look_alike_and_nothing_private_shows(
        clock: SettableClock, history: History, huddle: Huddle, hospital: Org, ward8: Ward):
    t0 = clock.now()
    pairs = []
    for n, close in enumerate((False, True)):
        ids = []
        for anonymous in (False, True):
            clock.set(t0 + timedelta(hours=n))
            report_id = history.report(anonymous=anonymous)
            history.step("post_message", report_id, body="Internal: the nurse on bay 3.",
                         internal=True)
            history.step("acknowledge", report_id)
            if close:
                history.step("close", report_id, outcome="actioned", response="Fixed.")
            ids.append(report_id)
        pairs.append(ids)
    clock.set(t0 + timedelta(days=1))
    for who in ("ward_leader", "dept_leader", "site_leader", "officer"):
        body = _body(huddle(hospital.ward, as_=who))
        open_items = {i["id"]: i for i in body["open"]["items"]}
        named, anonymous = (dict(open_items[rid]) for rid in pairs[0])
        for item in (named, anonymous):
            del item["id"], item["reference"]
        assert named == anonymous
        closed = [dict(c) for c in body["closed_recently"]["items"]]
        assert len(closed) == 2
        for item in closed:
            del item["reference"]
        assert closed[0] == closed[1]
        assert not set(_keys(body)) & {
            "reporter", "reporter_id", "anonymous", "description", "messages", "timeline",
            "routing", "receipt_key", "involves_leader", "author"}
        text = json.dumps(body)
        for private in (hospital.nurse, "Nora Nurse", hospital.emails["nurse"],
                        "silenced without a check", "Internal:", "bay 3"):
            assert private not in text, private


def test_actions_in_progress_only(database: Database, clock: SettableClock,
                                  history: History, huddle: Huddle, hospital: Org,
                                  ward8: Ward):
    t0 = clock.now()
    linked = [history.report(), history.report(anonymous=True)]
    leader, officer = history.leader, history.officer

    def action(title: str, unit_id: str, *updates: tuple[str, str], actor: Any = leader,
               report_ids: list[str] | None = None) -> str:
        made = improvements.create(database, clock=clock, actor=actor, title=title,
                                   description=f"The description of {title}.",
                                   unit_id=unit_id, report_ids=report_ids or [])
        for status, text in updates:
            clock.advance(minutes=30)
            improvements.post_update(database, clock=clock, actor=actor, action_id=made.id,
                                     body=text, status=status)
        return made.id

    trial = action("Alarm checks at hand-over", hospital.ward,
                   ("in_progress", "Trial started."), ("in_progress", "Halfway there."),
                   report_ids=linked)
    clock.advance(minutes=1)
    action("Planned only", hospital.ward)
    action("Done already", hospital.ward, ("in_progress", "Going."), ("done", "Finished."))
    ward8_action = action("Ward 8 rota", ward8.id, ("in_progress", "Rota drafted."),
                          actor=officer)
    action("Site signage", hospital.site, ("in_progress", "Signs ordered."), actor=officer)
    clock.set(t0 + timedelta(days=1))

    actions = _body(huddle(hospital.ward, as_="ward_leader"))["actions_in_progress"]
    assert actions == {"total": 1, "items": [{
        "id": trial, "title": "Alarm checks at hand-over", "unit_id": hospital.ward,
        "status": "in_progress",
        "latest_update": {"body": "Halfway there.",
                          "at": (t0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z")},
        "linked_reports": 2}]}
    department = _body(huddle(hospital.medicine))["actions_in_progress"]
    assert [a["id"] for a in department["items"]] == [trial, ward8_action]
    assert department["items"][1]["linked_reports"] == 0
    assert "description of" not in json.dumps(_body(huddle(hospital.site)))


def test_median_time_to_acknowledge_over_the_last_30_days(
        clock: SettableClock, history: History, huddle: Huddle, hospital: Org, ward8: Ward,
        session: Session):
    now = clock.now() + timedelta(days=60)
    made: list[tuple[str, datetime, datetime | None]] = []  # unit, created, acknowledged

    def report(unit_id: str, created: datetime, ack_after: timedelta | None,
               closing: bool = False) -> None:
        clock.set(created)
        report_id = history.report(unit_id=unit_id)
        acknowledged = None
        if ack_after is not None:
            acknowledged = created + ack_after
            clock.set(acknowledged)
            if closing:  # closing an unacknowledged report acknowledges it
                history.step("close", report_id, actor=history.officer, outcome="actioned",
                             response="Done.")
            else:
                history.step("acknowledge", report_id, actor=history.officer)
        made.append((unit_id, created, acknowledged))

    report(hospital.ward, now - timedelta(days=29), timedelta(hours=1))
    report(hospital.ward, now - timedelta(days=20), timedelta(hours=2, minutes=17, seconds=5))
    report(hospital.ward, now - timedelta(days=12), timedelta(hours=5), closing=True)
    report(hospital.ward, now - timedelta(days=9), timedelta(hours=30, seconds=1))
    report(hospital.ward, now - timedelta(days=4), timedelta(hours=50))
    report(hospital.ward, now - timedelta(days=3), None)  # not acknowledged (yet)
    report(hospital.ward, now - timedelta(days=31), timedelta(hours=1))  # before the span
    report(ward8.id, now - timedelta(days=10), timedelta(hours=100))
    clock.set(now)

    def expected(units: set[str]) -> tuple[float | None, int, int]:
        since = now - timedelta(days=30)
        spans = [(ack - created).total_seconds() / 3600 for unit, created, ack in made
                 if unit in units and created >= since and ack is not None]
        count = sum(1 for unit, created, _ in made if unit in units and created >= since)
        return (round(statistics.median(spans), 2) if spans else None), count, len(spans)

    for unit_id, units in ((hospital.ward, {hospital.ward}),
                           (hospital.medicine, {hospital.ward, ward8.id}),
                           (ward8.id, {ward8.id})):
        body = _body(huddle(unit_id))
        figures = (body["median_ack_hours_30d"], body["reports_30d"], body["acknowledged_30d"])
        assert figures == expected(units)
        # The same figures as the response-time metrics of the same reports.
        overall = metrics.response_times(session, metrics.Query(
            start=now - timedelta(days=30), end=now, unit_ids=subtree_ids(session, unit_id),
            threshold=1), now=now)["overall"]
        assert figures == (overall["ack_hours"]["median"], overall["reports"],
                           overall["acknowledged"])
    assert expected({hospital.ward}) == (5.0, 6, 5)  # the test's own arithmetic
    assert expected({hospital.ward, ward8.id}) == (17.5, 7, 6)


def test_an_empty_unit_has_an_empty_huddle(huddle: Huddle, ward8: Ward, clock: SettableClock):
    body = _body(huddle(ward8.id, as_="w8_leader"))
    assert body == {
        "unit_id": ward8.id, "as_of": body["as_of"],
        "open": {"total": 0, "by_sla": {"ack_overdue": 0, "close_overdue": 0, "due_soon": 0,
                                        "on_track": 0}, "items": []},
        "closed_recently": {"since": body["closed_recently"]["since"], "total": 0,
                            "items": []},
        "actions_in_progress": {"total": 0, "items": []},
        "median_ack_hours_30d": None, "reports_30d": 0, "acknowledged_30d": 0,
    }
    assert _at(body["closed_recently"]["since"]) == clock.now() - timedelta(days=14)
