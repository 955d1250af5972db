"""How long after its creation a report was acknowledged, first answered and first closed,
kept on the report in whole microseconds (``ack_after_us``, ``first_response_after_us``,
``close_after_us``).

The response-time metrics take their percentiles over these numbers: reading them costs the
database nothing, where working the durations out from two timestamps per report was most of
a metrics query's time at a million reports.  They are exact, so both databases sort the
same integers.  Every writer of ``acknowledged_at``, ``first_response_at`` and ``closed_at``
sets the matching delay in the same statement: workflow steps through :func:`add`,
improvement updates through :class:`MicrosSinceCreated`.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

DELAYS = {"acknowledged_at": "ack_after_us", "first_response_at": "first_response_after_us",
          "closed_at": "close_after_us"}
MICROSECOND = timedelta(microseconds=1)


def micros(created_at: datetime, moment: datetime) -> int:
    """Whole microseconds from ``created_at`` to ``moment``."""
    return (moment - created_at) // MICROSECOND


def add(values: MutableMapping[str, Any], created_at: datetime,
        at: datetime | None = None) -> None:
    """Add to a report's changed ``values`` the delay of each event time among them.  With
    ``at``, that is when every one of them happened (a bulk writer's ``values`` hold the
    times in the form it sends, not as datetimes)."""
    for moment, delay in DELAYS.items():
        if values.get(moment) is not None:
            values[delay] = micros(created_at, values[moment] if at is None else at)


class MicrosSinceCreated(FunctionElement[Any]):
    """SQL: whole microseconds from the report's ``created_at`` to the given time (both of
    the ``reports`` table in the statement), for bulk updates."""

    inherit_cache = True


@compiles(MicrosSinceCreated, "sqlite")
def _sqlite(element: MicrosSinceCreated, compiler: Any, **kw: Any) -> str:
    moment, created = (compiler.process(c, **kw) for c in element.clauses)
    # SQLite's date functions stop at milliseconds: whole seconds, plus the stored text's
    # six digits of fraction (speakup always writes all six).
    return (f"((unixepoch({moment}) - unixepoch({created})) * 1000000 "
            f"+ (CAST(substr({moment}, 21, 6) AS INTEGER) "
            f"- CAST(substr({created}, 21, 6) AS INTEGER)))")


@compiles(MicrosSinceCreated)
def _default(element: MicrosSinceCreated, compiler: Any, **kw: Any) -> str:
    moment, created = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(extract(epoch from ({moment} - {created})) * 1000000 AS BIGINT)"
