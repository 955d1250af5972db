"""Intake at the service layer, without HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from speakup.db import Database
from speakup.models import IdempotencyRecord, Report, ReportAssignee, ReportEvent, User
from speakup.services.core.errors import Invalid
from speakup.services.reports import intake
from tests.support import Org

KEY = "2f8c6e0a-4b1d-4e3f-9a7c-5d0b8e2f1a63"


def new(hospital: Org, **overrides: object) -> intake.NewReport:
    fields: dict[str, object] = {"kind": "concern", "category": "patient_safety",
                                 "unit_id": hospital.ward, "description": "Alarms silenced."}
    fields.update(overrides)
    return intake.NewReport(**fields)  # type: ignore[arg-type]


def test_anonymous_report_drops_the_reporter_even_if_one_is_passed(
    database: Database, session, clock, keys, hospital: Org
):
    nurse = session.get(User, hospital.nurse)
    result = intake.submit(database, clock=clock, keys=keys, reporter=nurse,
                           data=new(hospital, anonymous=True))
    session.rollback()  # a fresh snapshot: the command wrote in its own transaction
    report = session.get(Report, result.report_id)
    assert report.anonymous and report.reporter_id is None and report.receipt_hash
    actors = session.scalars(select(ReportEvent.actor_id).where(
        ReportEvent.report_id == report.id)).all()
    assert actors == [None, None]
    assert result.receipt_key is not None


def test_named_report_records_reporter_routing_and_timeline(
        database: Database, session, clock, keys, hospital: Org):
    nurse = session.get(User, hospital.nurse)
    result = intake.submit(database, clock=clock, keys=keys, reporter=nurse, data=new(hospital))
    session.rollback()  # a fresh snapshot: the command wrote in its own transaction
    report = session.get(Report, result.report_id)
    assert report.reporter_id == hospital.nurse and report.receipt_hash is None
    assert result.receipt_key is None
    assignees = session.scalars(select(ReportAssignee.user_id).where(
        ReportAssignee.report_id == report.id)).all()
    assert assignees == [hospital.ward_leader]
    assert report.assignee_ids == hospital.ward_leader  # the metrics by leader read these
    events = session.scalars(select(ReportEvent).where(
        ReportEvent.report_id == report.id).order_by(ReportEvent.id)).all()
    assert [(e.type, e.actor_id) for e in events] == [("submitted", hospital.nurse),
                                                      ("routed", None)]
    assert events[1].details["reason"] == report.routing_reason


def test_unknown_unit_is_invalid_and_nothing_is_written(
        database: Database, session, clock, keys, hospital: Org):
    with pytest.raises(Invalid) as raised:
        intake.submit(database, clock=clock, keys=keys, reporter=None,
                      data=new(hospital, unit_id="missing"))
    assert "unit_id" in raised.value.errors
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_idempotent_replay_creates_nothing(database: Database, session, clock, keys, hospital: Org):
    first = intake.submit(database, clock=clock, keys=keys, reporter=None, data=new(hospital),
                          idempotency_key=KEY)
    clock.advance(minutes=5)
    again = intake.submit(database, clock=clock, keys=keys, reporter=None, data=new(hospital),
                          idempotency_key=KEY)
    assert again.replayed and not first.replayed
    assert again.report_id == first.report_id and again.response == first.response
    assert again.receipt_key == first.receipt_key
    assert session.scalar(select(func.count()).select_from(Report)) == 1
    record = session.scalars(select(IdempotencyRecord)).one()
    assert KEY not in record.key_hash and "receipt_key" not in record.response


def test_anonymous_and_named_idempotency_keys_live_apart(
        database: Database, session, clock, keys, hospital: Org):
    nurse = session.get(User, hospital.nurse)
    a = intake.submit(database, clock=clock, keys=keys, reporter=None, data=new(hospital),
                      idempotency_key=KEY)
    b = intake.submit(database, clock=clock, keys=keys, reporter=nurse, data=new(hospital),
                      idempotency_key=KEY)
    assert a.report_id != b.report_id


def test_a_concurrent_retry_that_loses_the_race_gets_the_first_response(
    database, clock, keys, hospital: Org
):
    # The second submission misses the idempotency record (as if both had looked at once),
    # then loses the race to create the report.
    first = intake.submit(database, clock=clock, keys=keys, reporter=None, data=new(hospital),
                          idempotency_key=KEY)
    original_replay = intake._replay
    calls = {"n": 0}

    def miss_once(*args, **kwargs):
        calls["n"] += 1
        return None if calls["n"] == 1 else original_replay(*args, **kwargs)

    intake._replay = miss_once  # type: ignore[assignment]
    try:
        second = intake.submit(database, clock=clock, keys=keys, reporter=None,
                               data=new(hospital), idempotency_key=KEY)
    finally:
        intake._replay = original_replay  # type: ignore[assignment]
    assert second.replayed and second.report_id == first.report_id
    assert second.receipt_key == first.receipt_key


def test_idempotency_keys_are_forgotten_after_a_day(
        database: Database, session, clock, keys, hospital: Org):
    first = intake.submit(database, clock=clock, keys=keys, reporter=None, data=new(hospital),
                          idempotency_key=KEY)
    clock.advance(intake.IDEMPOTENCY_TTL)
    later = intake.submit(database, clock=clock, keys=keys, reporter=None, data=new(hospital),
                          idempotency_key=KEY)
    assert not later.replayed and later.report_id != first.report_id
    assert later.receipt_key != first.receipt_key or later.receipt_key is None
    assert session.scalar(select(func.count()).select_from(Report)) == 2


def test_expired_keys_are_deleted_as_new_keyed_submissions_arrive(
    database: Database, session, clock, keys, hospital: Org
):
    intake.submit(database, clock=clock, keys=keys, reporter=None, data=new(hospital),
                  idempotency_key=KEY)
    clock.advance(intake.IDEMPOTENCY_TTL + timedelta(hours=1))
    intake.submit(database, clock=clock, keys=keys, reporter=None, data=new(hospital),
                  idempotency_key=KEY[::-1])
    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
