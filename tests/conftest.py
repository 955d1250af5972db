"""Fixtures, read top to bottom: settings -> app -> client -> an organisation -> login(role).

Tests run on SQLite always, and on PostgreSQL when SPEAKUP_TEST_DATABASE_URL is set.  The
schema is built once per run by the real migrations; each test starts from empty tables with
the default categories.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from speakup import create_app, migrate
from speakup.db import Base, Database
from speakup.models import Category
from speakup.runtime import Runtime
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.services.core.keys import Keys
from speakup.services.org import DEFAULT_CATEGORIES
from speakup.settings import Settings
from tests.support import PASSWORD, Login, Org

SECRET = "test-secret-" * 4


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("SPEAKUP_TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'speakup-test.db'}"
    else:
        database = Database(url)
        with database.engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
            connection.execute(text("DROP FUNCTION IF EXISTS audit_log_append_only()"))
        database.dispose()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key=SECRET,
        instance_path=tmp_path_factory.mktemp("instance"),
        argon2_time_cost=1,
        argon2_memory_kib=8,
    )


@pytest.fixture(scope="session")
def session_clock() -> SettableClock:
    return SettableClock()


@pytest.fixture(scope="session")
def runtime(settings: Settings, session_clock: SettableClock) -> Iterator[Runtime]:
    """What the app is built with, as the server builds it, but with a settable clock."""
    built = Runtime.build(settings, clock=session_clock, serving=True)
    yield built
    built.close()


@pytest.fixture(scope="session")
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


@pytest.fixture()
def clock(session_clock: SettableClock) -> SettableClock:
    session_clock.set(SettableClock().now())
    return session_clock


@pytest.fixture()
def database(app: Flask, runtime: Runtime, clock: SettableClock) -> Iterator[Database]:
    """The app's database, emptied before each test (default categories kept)."""
    db = runtime.database
    with db.engine.begin() as connection:
        if not db.is_sqlite:
            # The audit log's triggers refuse every DELETE; tests start afresh all the same.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
        connection.execute(
            Category.__table__.insert(),
            [{"id": key, "label": label, "active": True, "position": i}
             for i, (key, label) in enumerate(DEFAULT_CATEGORIES, start=1)],
        )
    app.extensions["speakup.limiter"].reset()  # every test starts with fresh counters
    yield db


@pytest.fixture()
def session(database: Database) -> Iterator[Session]:
    """A session for the test's own reads (commands open their own write blocks)."""
    with database.session(write=False) as s:
        yield s


@pytest.fixture()
def keys(runtime: Runtime) -> Keys:
    return runtime.keys


@pytest.fixture()
def passwords(runtime: Runtime) -> Passwords:
    return runtime.passwords


@pytest.fixture()
def client(app: Flask, database: Database) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def hospital(database: Database, clock: SettableClock, passwords: Passwords) -> Org:
    site = org.create_unit(database, clock=clock, name="St Elsewhere", code="SITE")
    medicine = org.create_unit(database, clock=clock, name="Medicine", code="MED",
                               parent_id=site.id)
    ward = org.create_unit(database, clock=clock, name="Ward 7", code="W7", parent_id=medicine.id)
    people = {
        "admin": ("admin@example.org", "Ada Admin", ["admin"], None),
        "officer": ("safety@example.org", "Sam Safety", ["safety_officer"], None),
        "site_leader": ("director@example.org", "Dee Director", ["leader"], site.id),
        "ward_leader": ("sister@example.org", "Wendy Ward", ["leader", "staff"], ward.id),
        "nurse": ("nurse@example.org", "Nora Nurse", ["staff"], ward.id),
    }
    ids = {}
    for key, (email, name, roles, unit) in people.items():
        user = org.create_user(database, clock=clock, passwords=passwords, data=org.NewUser(
            email=email, name=name, password=PASSWORD, roles=roles, unit_id=unit))
        ids[key] = user.id
    org.add_leader(database, clock=clock, unit_id=site.id, user_id=ids["site_leader"])
    org.add_leader(database, clock=clock, unit_id=ward.id, user_id=ids["ward_leader"])
    return Org(site=site.id, medicine=medicine.id, ward=ward.id,
               emails={k: v[0] for k, v in people.items()}, **ids)


@pytest.fixture()
def login(client: FlaskClient, hospital: Org) -> Login:
    """``login("nurse")`` -> headers with a fresh access token for that person."""

    def _login(who: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/login",
                               json={"email": hospital.emails[who], "password": PASSWORD})
        assert response.status_code == 200, response.json
        return {"Authorization": f"Bearer {response.json['access_token']}"}

    return _login
