"""When demo reports were made: a year of days, busier lately and around handovers."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from speakup.demo.content import HOUR_WEIGHTS

HISTORY_DAYS = 365



DAY_SECONDS = 86_400.0
HOURS = range(24)
HOUR_CUMULATIVE = list(itertools.accumulate(HOUR_WEIGHTS))


def day_plan(count: int, now: datetime, rng: random.Random) -> list[tuple[datetime, float, int]]:
    """``(day start, seconds of the day that have passed, reports)`` for each of the last
    HISTORY_DAYS days, oldest first; the counts add up to ``count``.  More reports in recent
    months (the service caught on), fewer at weekends, some day-to-day noise."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = (now - midnight).total_seconds()
    plan = []
    for age in range(HISTORY_DAYS - 1, -1, -1):
        start = midnight - timedelta(days=age)
        span = today if age == 0 else DAY_SECONDS
        trend = 0.55 + 0.45 * (HISTORY_DAYS - 1 - age) / (HISTORY_DAYS - 1)
        weekend = 0.65 if start.weekday() >= 5 else 1.0
        plan.append((start, span, trend * weekend * rng.uniform(0.8, 1.2) * span / DAY_SECONDS))
    counts = apportion(count, [weight for _, _, weight in plan], rng)
    return [(start, span, n) for (start, span, _), n in zip(plan, counts, strict=True)]


def apportion(count: int, weights: Sequence[float], rng: random.Random) -> list[int]:
    """``count`` split in proportion to ``weights`` (the rounding remainder drawn at random)."""
    total = sum(weights)
    counts = [int(count * w / total) for w in weights]
    for index in rng.choices(range(len(weights)), weights=weights, k=count - sum(counts)):
        counts[index] += 1
    return counts


def timestamps(plan: list[tuple[datetime, float, int]], rng: random.Random) -> Iterator[datetime]:
    """Creation times in ascending order, following the hour-of-day pattern; every time lies
    within the part of its day that has passed."""
    for start, span, n in plan:
        hours = rng.choices(HOURS, cum_weights=HOUR_CUMULATIVE, k=n)
        seconds = [3600.0 * (h + rng.random()) for h in hours]
        if span < DAY_SECONDS:
            seconds = [s if s < span else rng.random() * span for s in seconds]
        seconds.sort()
        for s in seconds:
            yield start + timedelta(seconds=s)


