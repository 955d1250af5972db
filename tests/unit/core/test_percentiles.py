"""SQLite's percentile functions, registered on a bare connection: the figures of sorted
series, of their union, and what NULLs and single values give."""

from __future__ import annotations

import random
import sqlite3
import statistics
from array import array
from collections.abc import Iterator

import pytest

from speakup import percentiles


@pytest.fixture()
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    percentiles.register(connection)
    connection.execute("CREATE TABLE t (g INTEGER, a INTEGER, b INTEGER, c INTEGER)")
    yield connection
    connection.close()


def oracle(values: list[int]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return float(values[0]), float(values[0])
    return (float(statistics.median(values)),
            statistics.quantiles(values, n=10, method="inclusive")[8])


WHOLE = """SELECT speakup_percentiles(speakup_sorted(group_concat(a)),
    speakup_sorted(group_concat(b)), speakup_sorted(group_concat(c))) FROM t"""


def test_groups_and_their_union_match_an_independent_computation(db: sqlite3.Connection):
    rng = random.Random(7)
    rows = [(rng.randrange(5), rng.randrange(10**12), rng.choice([None, rng.randrange(10**9)]),
             rng.choice([None, None, 3])) for _ in range(2_000)]
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    grouped = db.execute("""
        WITH s AS (SELECT g, speakup_sorted(group_concat(a)) a, speakup_sorted(group_concat(b))
                   b, speakup_sorted(group_concat(c)) c FROM t GROUP BY g)
        SELECT g, speakup_percentiles(a, b, c) FROM s
        UNION ALL SELECT NULL, speakup_percentiles_merged(a, b, c) FROM s""").fetchall()
    direct = db.execute(WHOLE).fetchone()[0]
    for key, text in grouped:
        mine = [r for r in rows if key is None or r[0] == key]
        wanted = [oracle([r[i] for r in mine if r[i] is not None]) for i in (1, 2, 3)]
        for (median, p90), (want_median, want_p90) in zip(percentiles.decode(text), wanted,
                                                          strict=True):
            assert median == pytest.approx(want_median, rel=1e-12, abs=0)
            assert p90 == pytest.approx(want_p90, rel=1e-12, abs=0)
    assert grouped[-1][1] == direct  # merging the groups is the same as sorting everything


def test_no_values_and_one_value(db: sqlite3.Connection):
    assert percentiles.decode(db.execute(WHOLE).fetchone()[0]) == [
        (None, None)] * 3
    db.execute("INSERT INTO t VALUES (1, 42, NULL, 7)")
    assert percentiles.decode(db.execute(WHOLE).fetchone()[0]) == [
        (42.0, 42.0), (None, None), (7.0, 7.0)]
    merged = db.execute("SELECT speakup_percentiles_merged(NULL, NULL, NULL) FROM t").fetchone()
    assert percentiles.decode(merged[0]) == [(None, None)] * 3


def test_interpolation_is_postgresqls():
    # percentile_cont(0.9) of 1..4 is 3.7: position 2.7 between the third and fourth values.
    assert percentiles.continuous([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)
    assert percentiles.continuous([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5


def test_the_union_of_sorted_series_reads_every_rank_as_sorting_would():
    """Ranks of the merged series without merging them: any doubles (negative, zero of
    either sign, repeated, tiny and huge), in series of any length."""
    rng = random.Random(11)
    pool = [0.0, -0.0, 5e-324, -5e-324, 1.5e308, -1.5e308, 3.0, 3.0]
    series = [sorted(rng.choice(pool) if rng.random() < 0.2 else rng.uniform(-1e9, 1e9)
                     for _ in range(rng.randrange(1, 300))) for _ in range(7)]
    packed = [array("d", values).tobytes() for values in series]
    merged = percentiles.Merged()
    for part in packed:
        merged.step(part, None, part)
    union = sorted(v for values in series for v in values)
    wanted = (percentiles.continuous(union, 0.5), percentiles.continuous(union, 0.9))
    assert percentiles.decode(merged.finalize()) == [wanted, (None, None), wanted]
    whole = percentiles._Union([memoryview(p).cast("d") for p in packed])
    assert len(whole) == len(union)
    assert [whole[rank] for rank in range(len(union))] == union
