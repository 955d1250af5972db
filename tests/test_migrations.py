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
