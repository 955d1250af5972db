"""Forgetting on schedule: ``speakup purge`` deletes what has expired, and only that."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from speakup.cli import main
from speakup.db import Database
from speakup.models import IdempotencyRecord, Report
from speakup.services import retention
from speakup.services.core.clock import SettableClock
from speakup.services.core.keys import Keys
from speakup.services.reports import intake
from tests.support import Org


def keyed_report(database: Database, clock: SettableClock, keys: Keys, hospital: Org) -> str:
    data = intake.NewReport(kind="concern", category="patient_safety", unit_id=hospital.ward,
                            description="Alarms silenced.")
    result = intake.submit(database, clock=clock, keys=keys, data=data, reporter=None,
                           idempotency_key=str(uuid.uuid4()))
    return result.report_id


def idempotency_reports(session: Session) -> set[str]:
    return set(session.scalars(select(IdempotencyRecord.report_id)))


def test_purge_deletes_expired_idempotency_keys_and_keeps_fresh_ones(
    database: Database, session, clock, keys, hospital: Org
):
    old = keyed_report(database, clock, keys, hospital)
    clock.advance(hours=20)
    fresh = keyed_report(database, clock, keys, hospital)
    clock.advance(hours=4)  # ``old`` is now exactly a day old: expired

    counts = retention.purge(database, now=clock.now())

    assert counts["idempotency_records"] == 1
    assert idempotency_reports(session) == {fresh}
    # The reports themselves stay; only the link from a key to a report goes.
    assert session.scalar(select(func.count()).select_from(Report)) == 2
    assert old != fresh
    assert retention.purge(database, now=clock.now())["idempotency_records"] == 0  # idempotent


def test_purge_also_empties_the_expired_deny_list(database: Database, clock):
    counts = retention.purge(database, now=clock.now())
    assert set(counts) == {"idempotency_records", "revoked_tokens"}


def test_an_expired_key_no_longer_replays_even_before_the_purge(
    database: Database, clock, keys, hospital: Org
):
    data = intake.NewReport(kind="gap", category="other", unit_id=hospital.ward,
                            description="No hoist on nights.")
    key = str(uuid.uuid4())
    first = intake.submit(database, clock=clock, keys=keys, data=data, reporter=None,
                          idempotency_key=key)
    clock.advance(intake.IDEMPOTENCY_TTL)
    again = intake.submit(database, clock=clock, keys=keys, data=data, reporter=None,
                          idempotency_key=key)
    assert not again.replayed and again.report_id != first.report_id


@pytest.fixture()
def env(settings, database, monkeypatch) -> None:
    monkeypatch.setenv("SPEAKUP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SPEAKUP_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SPEAKUP_INSTANCE_PATH", str(settings.instance_path))


def test_speakup_purge_runs_one_pass_and_prints_counts(database: Database,
    env, session, clock, keys, hospital: Org
):
    # The command runs on the system clock: one record from just now, one from two days back
    # (written second, so that no keyed submission after it has deleted it already).
    now = datetime.now(UTC)
    clock.set(now - timedelta(minutes=5))
    fresh = keyed_report(database, clock, keys, hospital)
    clock.set(now - timedelta(days=2))
    keyed_report(database, clock, keys, hospital)
    assert len(idempotency_reports(session)) == 2
    session.rollback()  # end this test's transaction before the command writes

    result = CliRunner().invoke(main, ["purge"])

    assert result.exit_code == 0, result.output
    assert "idempotency_records: 1 deleted" in result.output
    assert "revoked_tokens: 0 deleted" in result.output
    session.expire_all()
    assert idempotency_reports(session) == {fresh}
