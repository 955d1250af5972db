"""The fast wire form of report views equals what the spec's marshmallow schemas dump."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from speakup.models import User
from speakup.schemas.reports import ReportCreatedSchema, ReportPageSchema, ReportSchema
from speakup.services.core.actors import Actor
from speakup.services.core.pages import Page
from speakup.services.reports import intake, queries, views

T0 = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
ANNA = views.Person("u1", "Anna Leader")


def _report(**overrides: object) -> views.ReportView:
    fields = dict(
        id="r1", reference="SU-2026-000001", kind="concern", category="patient_safety",
        unit_id="w7", title=None, description="Alarms silenced.", immediate_risk=True,
        anonymous=False, involves_leader=False, wants_involvement=True, status="acknowledged",
        created_at=T0, ack_due_at=T0 + timedelta(days=2), close_due_at=T0 + timedelta(days=30),
        acknowledged_at=T0 + timedelta(hours=1), first_response_at=None, closed_at=None,
        outcome=None, reopen_count=0,
    )
    fields.update(overrides)
    return views.ReportView(**fields)  # type: ignore[arg-type]


MESSAGES = (
    views.MessageView("m1", "We are on it.", "staff", False, T0 + timedelta(hours=2), ANNA),
    views.MessageView("m2", "Thanks.", "reporter", False, T0 + timedelta(hours=3), None),
    views.MessageView("m3", "Check the log.", "staff", True, T0 + timedelta(hours=4), ANNA),
)
TIMELINE = (
    views.TimelineEntry("submitted", T0, None),
    views.TimelineEntry("routed", T0, None, reason="Leaders of Ward 7.", assignees=(ANNA,)),
    views.TimelineEntry("acknowledged", T0 + timedelta(hours=1), ANNA),
)
SHAPES = {
    "reporter view": _report(messages=MESSAGES[:2]),
    "staff, named": _report(routing=views.Routing((ANNA,), "Leaders of Ward 7."),
                            reporter=views.Person("u2", "Nora Nurse"), messages=MESSAGES,
                            timeline=TIMELINE),
    "staff, anonymous": _report(anonymous=True, routing=views.Routing((), "Nobody left."),
                                timeline=TIMELINE[:2], closed_at=T0 + timedelta(days=3),
                                outcome="changed", status="closed"),
    "just submitted": _report(status="new", acknowledged_at=None),
}


@pytest.mark.parametrize("shape", SHAPES, ids=list(SHAPES))
def test_the_wire_form_is_what_the_schema_dumps(shape: str) -> None:
    view = SHAPES[shape]
    assert views.wire(view) == ReportSchema().dump(view)
    assert list(views.wire(view)) == list(ReportSchema().dump(view))  # same order, too


def test_a_page_of_summaries_is_what_the_page_schema_dumps() -> None:
    summaries = [views.ReportSummary(**{
        f.name: getattr(view, f.name) for f in dataclasses.fields(views.ReportSummary)})
        for view in SHAPES.values()]
    page = Page(summaries, "next")
    assert ReportPageSchema().dump(page) == {
        "items": [views.wire(s) for s in summaries], "next_cursor": "next"}


def test_views_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SHAPES["staff, named"].status = "closed"  # type: ignore[misc]


def test_real_views_of_both_sides_match_the_schema(database, clock, keys, hospital, session):
    named = intake.submit(database, clock=clock, keys=keys, data=intake.NewReport(
        kind="concern", category="patient_safety", unit_id=hospital.ward,
        description="Pump alarms."), reporter=session.get(User, hospital.nurse))
    anonymous = intake.submit(database, clock=clock, keys=keys, data=intake.NewReport(
        kind="opportunity", category="patient_safety", unit_id=hospital.ward,
        description="A checklist.", anonymous=True), reporter=None)
    assert ReportCreatedSchema().dump(named.response) == named.response
    session.rollback()  # a fresh read sees the commands' writes
    officer = Actor(user_id=hospital.officer, roles=frozenset({"safety_officer"}))
    nurse = Actor(user_id=hospital.nurse, roles=frozenset({"staff"}))
    seen = [
        queries.get_report(session, actor=officer, report_id=named.report_id),
        queries.get_report(session, actor=officer, report_id=anonymous.report_id),
        queries.get_report(session, actor=nurse, report_id=named.report_id),
    ]
    for view in seen:
        assert views.wire(view) == ReportSchema().dump(view)
    assert "reporter" in views.wire(seen[0]) and "reporter" not in views.wire(seen[1])
    assert "timeline" not in views.wire(seen[2]) and "routing" not in views.wire(seen[2])
