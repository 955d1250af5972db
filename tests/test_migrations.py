"""Migrations yield exactly the models' schema, and every revision goes down and up again.

Runs on its own scratch database: a temporary SQLite file, or a fresh PostgreSQL database
next to the one in SPEAKUP_TEST_DATABASE_URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from speakup import migrate
from speakup.db import Base, make_engine
from speakup.models import Category
from speakup.services.org import DEFAULT_CATEGORIES


@pytest.fixture()
def scratch_url(tmp_path) -> Iterator[str]:
    base = os.environ.get("SPEAKUP_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    name = f"speakup_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def upgraded(scratch_url: str) -> Iterator[Engine]:
    """An engine on the scratch database after `upgrade head`."""
    migrate.upgrade(scratch_url)
    engine = make_engine(scratch_url)
    yield engine
    engine.dispose()


def test_upgrade_head_yields_the_models_schema(upgraded: Engine):
    with upgraded.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"autogenerate would change: {diff}"


def test_default_categories_exist_after_upgrade(upgraded: Engine):
    with upgraded.connect() as connection:
        rows = connection.execute(select(Category.id).order_by(Category.position)).all()
    assert [r.id for r in rows] == [key for key, _ in DEFAULT_CATEGORIES]


def test_every_revision_goes_down_and_up_again(scratch_url: str):
    revisions = list(ScriptDirectory(str(migrate.migrations_path())).walk_revisions())
    revisions.reverse()  # oldest first
    engine = make_engine(scratch_url)
    try:
        for revision in revisions:
            migrate.upgrade(scratch_url, revision.revision)
            migrate.downgrade(scratch_url, revision.down_revision or "base")
            migrate.upgrade(scratch_url, revision.revision)
            assert migrate.current_revision(engine) == revision.revision
        migrate.downgrade(scratch_url, "base")
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set(), f"left behind after downgrade to base: {tables}"
    finally:
        engine.dispose()


def test_stateless_sessions_migration_keeps_users_and_forgets_sign_in_times(scratch_url: str):
    """0002 drops the table of sign-in times; users already there get epoch 0 (their old
    sessions end: those tokens carry no epoch), and going back down keeps them too."""
    engine = make_engine(scratch_url)
    try:
        migrate.upgrade(scratch_url, "0001")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO users (id, email, name, password_hash, active, created_at) "
                "VALUES ('u1', 'a@example.org', 'A', 'h', true, '2026-03-02 09:00:00+00:00')"))
            connection.execute(text(
                "INSERT INTO auth_sessions (id, user_id, created_at, expires_at) VALUES "
                "('s1', 'u1', '2026-03-02 09:00:00+00:00', '2026-03-16 09:00:00+00:00')"))

        migrate.upgrade(scratch_url)
        tables = set(inspect(engine).get_table_names())
        assert "auth_sessions" not in tables and "revoked_tokens" in tables
        with engine.connect() as connection:
            assert connection.execute(text("SELECT session_epoch FROM users")).all() == [(0,)]

        migrate.downgrade(scratch_url, "0001")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT id FROM users")).all() == [("u1",)]
        assert "session_epoch" not in {c["name"] for c in inspect(engine).get_columns("users")}
    finally:
        engine.dispose()


def test_stateless_sessions_migration_drops_idempotency_records_of_anonymous_reports(
        scratch_url: str):
    """Under 0001 such a record and the secret yielded the report's receipt key."""
    engine = make_engine(scratch_url)
    when = {"when": "2026-03-02 09:00:00+00:00"}
    try:
        migrate.upgrade(scratch_url, "0001")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO units (id, name, code, active, created_at) "
                "VALUES ('w', 'Ward', 'W', true, :when)"), when)
            for report_id, anonymous in (("anon", True), ("named", False)):
                row = {**when, "id": report_id, "anonymous": anonymous}
                connection.execute(text(
                    "INSERT INTO reports (id, reference, kind, category, unit_id, description, "
                    "immediate_risk, anonymous, involves_leader, wants_involvement, status, "
                    "created_at, ack_due_at, close_due_at, reopen_count, routing_reason) "
                    "VALUES (:id, :id, 'concern', 'other', 'w', 'd', false, :anonymous, "
                    "false, false, 'submitted', :when, :when, :when, 0, 'r')"), row)
                connection.execute(text(
                    "INSERT INTO idempotency_records (key_hash, fingerprint, report_id, "
                    "response, created_at) VALUES (:id, 'f', :id, '{}', :when)"), row)
        migrate.upgrade(scratch_url)
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT report_id FROM idempotency_records")).all()
        assert kept == [("named",)]
    finally:
        engine.dispose()


def test_metrics_migrations_give_existing_reports_their_first_due_times_and_delays(
        scratch_url: str):
    """0005 dates the SLA targets from creation plus the stored hours (an escalation may
    have moved ack_due_at on); 0006 works out the delays to the microsecond; 0009 copies the
    feedback's answer onto its report, and 0010 its active assignees."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import column, insert
    from sqlalchemy import table as sql_table

    from speakup.db import UTCDateTime

    created = datetime(2026, 3, 2, 9, 0, 0, 250000, tzinfo=UTC)
    acknowledged = created + timedelta(hours=50, microseconds=500000)
    closed = created + timedelta(days=2, hours=3, microseconds=-200000)
    moments = {name: column(name, UTCDateTime()) for name in (
        "created_at", "ack_due_at", "close_due_at", "acknowledged_at", "first_response_at",
        "closed_at")}
    reports = sql_table("reports", *moments.values(), *(column(name) for name in (
        "id", "reference", "kind", "category", "unit_id", "description", "immediate_risk",
        "anonymous", "involves_leader", "wants_involvement", "status", "reopen_count",
        "routing_reason", "sla_ack_hours", "sla_close_hours", "escalation_level")))
    engine = make_engine(scratch_url)
    try:
        migrate.upgrade(scratch_url, "0004")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO units (id, name, code, active, created_at) "
                "VALUES ('w', 'Ward', 'W', true, '2026-03-01 09:00:00+00:00')"))
            connection.execute(insert(reports), [{
                "id": "r1", "reference": "SU-1", "kind": "concern", "category": "other",
                "unit_id": "w", "description": "d", "immediate_risk": False,
                "anonymous": True, "involves_leader": False, "wants_involvement": False,
                "status": "closed", "reopen_count": 0, "routing_reason": "r",
                "sla_ack_hours": 48, "sla_close_hours": 720, "escalation_level": 1,
                "created_at": created, "ack_due_at": created + timedelta(hours=96),
                "close_due_at": created + timedelta(hours=720), "acknowledged_at": acknowledged,
                "first_response_at": closed, "closed_at": closed}, {
                "id": "r2", "reference": "SU-2", "kind": "idea", "category": "other",
                "unit_id": "w", "description": "d", "immediate_risk": False,
                "anonymous": True, "involves_leader": False, "wants_involvement": False,
                "status": "new", "reopen_count": 0, "routing_reason": "r",
                "sla_ack_hours": 48, "sla_close_hours": 720, "escalation_level": 0,
                "created_at": created, "ack_due_at": created, "close_due_at": created,
                "acknowledged_at": None, "first_response_at": None, "closed_at": None}])
            connection.execute(text(
                "INSERT INTO report_feedback (report_id, loop_closed, would_speak_up_again, "
                "created_at) VALUES ('r1', 'partly', 'unsure', '2026-03-05 09:00:00+00:00')"))
            for user in ("zed", "amy", "bob"):
                connection.execute(text(
                    "INSERT INTO users (id, email, name, password_hash, active, created_at) "
                    "VALUES (:id, :email, :id, 'x', true, :at)"),
                    {"id": user, "email": f"{user}@example.org", "at": created})
            for report, user, active in (("r1", "zed", True), ("r1", "amy", True),
                                         ("r1", "bob", False), ("r2", "bob", False)):
                connection.execute(text(
                    "INSERT INTO report_assignees (report_id, user_id, assigned_at, active, "
                    "report_created_at) VALUES (:r, :u, :at, :active, :at)"),
                    {"r": report, "u": user, "at": created, "active": active})
        migrate.upgrade(scratch_url)
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT ack_target_at, close_target_at, ack_after_us, first_response_after_us,"
                " close_after_us FROM reports WHERE id = 'r1'")).one()
            answers = dict(connection.execute(text(
                "SELECT id, would_speak_up_again FROM reports")).all())
            assignees = dict(connection.execute(text(
                "SELECT id, assignee_ids FROM reports")).all())
        assert answers == {"r1": "unsure", "r2": None}
        assert assignees == {"r1": "amy zed", "r2": None}  # active ones, sorted
        targets = [UTCDateTime().process_result_value(
            datetime.fromisoformat(v) if isinstance(v, str) else v, None) for v in row[:2]]
        assert targets == [created + timedelta(hours=48), created + timedelta(hours=720)]
        micros = timedelta(microseconds=1)
        assert list(row[2:]) == [(acknowledged - created) // micros,
                                 (closed - created) // micros, (closed - created) // micros]
    finally:
        engine.dispose()
