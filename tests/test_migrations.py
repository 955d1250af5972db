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
