"""SQLite is set up for several workers on one file; times come back timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text, update

from speakup.db import Database
from speakup.models import Category


@pytest.fixture()
def sqlite_db(database: Database) -> Database:
    if not database.is_sqlite:
        pytest.skip("SQLite settings")
    return database


def test_sqlite_runs_in_wal_mode_with_busy_timeout_and_foreign_keys(sqlite_db: Database):
    with sqlite_db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_a_transaction_reads_one_snapshot_from_its_first_read(sqlite_db: Database):
    """pysqlite alone would not begin the transaction before the first write, so the second
    read below would see the other writer's change."""
    database = sqlite_db
    with database.session(write=False) as reader:
        first = reader.scalar(select(Category.label).where(Category.id == "other"))
        with database.session() as writer:
            writer.execute(update(Category).where(Category.id == "other").values(label="Changed"))
            writer.commit()
        reader.expire_all()
        again = reader.scalar(select(Category.label).where(Category.id == "other"))
        assert again == first == "Other"
    with database.session(write=False) as fresh:
        assert fresh.scalar(select(Category.label).where(Category.id == "other")) == "Changed"


def test_times_are_stored_and_read_as_utc(session, clock, hospital):
    from speakup.models import Unit

    unit = session.get(Unit, hospital.ward)
    unit.created_at = datetime(2026, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    session.commit()
    session.expire_all()
    stored = session.get(Unit, hospital.ward).created_at
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def test_naive_datetimes_are_refused(session, hospital):
    from sqlalchemy.exc import StatementError

    from speakup.models import Unit

    unit = session.get(Unit, hospital.ward)
    unit.created_at = datetime(2026, 5, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(StatementError):
        session.commit()


def test_the_apps_sqlite_engine_waits_for_the_write_lock_as_configured(sqlite_db: Database,
                                                                       settings):
    with sqlite_db.engine.connect() as connection:
        busy = connection.execute(text("PRAGMA busy_timeout")).scalar()
    assert busy == settings.sqlite_busy_timeout_ms < 30_000


def test_the_apps_postgresql_sessions_carry_the_statement_timeout(database: Database, settings):
    if database.is_sqlite:
        pytest.skip("PostgreSQL settings")
    with database.engine.connect() as connection:
        timeout = connection.execute(text("SHOW statement_timeout")).scalar()
        client = connection.connection.dbapi_connection.info.get_parameters()
    assert timeout == f"{settings.db_statement_timeout_ms // 1000}s"
    assert client["connect_timeout"] == str(settings.db_connect_timeout)
    assert client["tcp_user_timeout"] == str(settings.db_statement_timeout_ms)
    assert client["keepalives"] == "1"


def test_postgresql_connect_arguments_bound_every_wait_and_keep_the_urls_own():
    from speakup.db import Timeouts, postgres_connect_args

    timeouts = Timeouts(connect_s=3, statement_ms=5000, pool_s=3)
    args = postgres_connect_args("postgresql+psycopg://u@h/db", timeouts)
    assert args["connect_timeout"] == 3 and args["tcp_user_timeout"] == 5000
    assert args["options"] == "-c statement_timeout=5000" and args["keepalives"] == 1
    own = postgres_connect_args(
        "postgresql+psycopg://u@h/db?connect_timeout=10&options=-c%20statement_timeout%3D9000",
        timeouts)
    assert "connect_timeout" not in own  # the URL's 10 s stands
    # The URL's own statement_timeout comes last, so it wins.
    assert own["options"] == "-c statement_timeout=5000 -c statement_timeout=9000"
    assert postgres_connect_args("postgresql+psycopg://u@h/db", Timeouts()) == {}


def _backend(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_pooled_connection_dropped_while_idle_is_replaced_unnoticed(
        database_url: str, monkeypatch: pytest.MonkeyPatch):
    """A busy worker pays no ping per request; one idle long enough is checked first, so a
    connection the server dropped meanwhile (a restart, a terminated backend) costs no
    request."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL pool")
    import speakup.db

    database = Database(database_url, pool_size=1, max_overflow=0)
    try:
        first = _backend(database)
        assert _backend(database) == first  # reused at once: no ping, the same connection
        killer = Database(database_url)
        try:
            with killer.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        finally:
            killer.dispose()
        monkeypatch.setattr(speakup.db, "IDLE_PING_S", 0.0)  # it has been idle "long"
        replacement = _backend(database)
        assert replacement != first
    finally:
        database.dispose()
