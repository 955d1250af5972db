"""Forgetting on schedule: what speakup keeps only for a while is deleted once its time is up.

:func:`purge` runs from ``speakup purge`` (cron) and is safe to run at any moment, on several
machines at once: each pass deletes only what has expired by ``now``.
"""

from __future__ import annotations

from datetime import datetime

from speakup.db import Database
from speakup.services import auth
from speakup.services.reports import intake


def purge(db: Database, *, now: datetime) -> dict[str, int]:
    """Delete everything expired by ``now``; how many rows of each kind.  One write block.
    Idempotent.

    - ``idempotency_records``: Idempotency-Keys older than a day, with their link from a key
      to a report (also deleted as new keyed submissions arrive, but not only then).
    - ``revoked_tokens``: deny-list entries for tokens that have expired anyway.
    """
    with db.write() as session:
        return {
            "idempotency_records": intake.purge_expired(session, now=now),
            "revoked_tokens": auth.purge_revoked(session, now=now),
        }
