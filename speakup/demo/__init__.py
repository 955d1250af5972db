"""The demo organisation and a realistic report history, for ``speakup demo``.

:func:`seed` creates a hospital group once (four sites, over a hundred units up to five
levels deep, leaders, safety officers, an admin and staff, all with :data:`DEMO_PASSWORD`)
and adds report history spread over the past year: routed like real submissions,
acknowledged, discussed, closed, reopened and given feedback with realistic delays (some
late, some still open past their due times, a few never acknowledged), and some answered by
improvement actions.  About 40% of the reports are anonymous, and store nothing that points
at a person.  Every row is built by the services' own row builders (see
:mod:`speakup.demo.history`).

History is written in batches, one transaction and one bulk insert per table each (see
:class:`Wire`), built in a child process while the database takes the previous batch, so a
million reports take minutes.  The data is made up: the random numbers here pick demo
content and are no security measure (ids and receipt keys still come from :mod:`secrets`).
"""

from __future__ import annotations

import random
from datetime import UTC, timedelta

from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.demo.bulk import Wire
from speakup.demo.history import History
from speakup.demo.organisation import (
    DEMO_PASSWORD,
    PEOPLE,
    SITE_CODE,
    UNITS,
    Login,
    SeedResult,
    create_organisation,
    logins,
)
from speakup.demo.progress import Progress, ProgressBar, quiet
from speakup.demo.timing import HISTORY_DAYS
from speakup.demo.world import load_world
from speakup.services.core.clock import Clock, SettableClock, SystemClock
from speakup.services.core.keys import Keys
from speakup.settings import Settings

__all__ = [
    "DEFAULT_REPORTS", "DEMO_PASSWORD", "HISTORY_DAYS", "PEOPLE", "SITE_CODE", "UNITS", "Login",
    "Progress", "ProgressBar", "SeedResult", "logins", "quiet", "seed",
]

DEFAULT_REPORTS = 300



def seed(
    database: Database,
    *,
    settings: Settings,
    reports: int | None = None,
    progress: Progress = quiet,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> SeedResult:
    """Create the demo organisation unless unit ``DEMO-SITE`` exists, then add history.

    ``reports=None`` adds :data:`DEFAULT_REPORTS` when the organisation is created now and
    none otherwise; a number adds that many on every run.  Reports are created over the
    ``HISTORY_DAYS`` before ``clock.now()`` and committed in batches (see
    :meth:`History.write`), all on one database connection; the organisation is dated a day
    before that, so everyone in it predates the history.
    ``rng`` makes the content repeatable (ids and receipt keys stay random).
    """
    clock = clock or SystemClock()
    rng = rng or random.Random()  # noqa: S311 - picks demo content, protects nothing
    founded = SettableClock(clock.now() - timedelta(days=HISTORY_DAYS + 1))
    created = create_organisation(database, settings, founded, progress)
    count = (DEFAULT_REPORTS if created else 0) if reports is None else reports
    if count:
        # One connection throughout, whatever the pool does between transactions: the
        # history's writes want its page cache (see Wire.loading) warm from batch to
        # batch.  On SQLite each transaction takes the write lock at once, as write blocks do.
        with database.engine.connect() as connection, Session(
                connection.execution_options(sqlite_begin="IMMEDIATE")) as session:
            wire = Wire(connection.dialect)
            now = clock.now().astimezone(UTC).replace(tzinfo=None)
            history = History(load_world(session, wire, rng), wire,
                              Keys.from_secret(settings.secret_key), now, rng)
            history.write(session, count, progress)
    return SeedResult(created, count, logins())


