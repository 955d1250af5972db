"""The one transaction boundary: ``with database.write()`` commits at its end, rolls back on
any exception, and nothing inside it commits on its own."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from speakup.db import CommitInsideBlock, Database
from speakup.models import Unit
from speakup.services.core.clock import SettableClock


def units(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Unit)) or 0


def test_the_block_commits_when_it_ends(database: Database, session: Session,
                                        clock: SettableClock):
    with database.write() as writing:
        writing.add(Unit(name="Ward 1", code="W1", active=True, created_at=clock.now()))
    assert units(session) == 1


def test_an_exception_inside_leaves_nothing_written(database: Database, session: Session,
                                                    clock: SettableClock):
    with pytest.raises(ZeroDivisionError), database.write() as writing:
        writing.add(Unit(name="Ward 1", code="W1", active=True, created_at=clock.now()))
        writing.flush()
        _ = 1 / 0
    assert units(session) == 0


def test_a_helper_that_commits_fails_and_nothing_is_written(database: Database,
                                                            session: Session,
                                                            clock: SettableClock):
    def helper(writing: Session) -> None:
        writing.add(Unit(name="Ward 1", code="W1", active=True, created_at=clock.now()))
        writing.commit()  # not the helper's to do

    with pytest.raises(CommitInsideBlock), database.write() as writing:
        helper(writing)
    assert units(session) == 0
