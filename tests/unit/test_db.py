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
