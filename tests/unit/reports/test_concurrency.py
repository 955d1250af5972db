"""Several workers writing at once: nothing fails, nothing is numbered twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from speakup.db import Database
from speakup.services.reports import intake
from tests.support import Org

WORKERS = 4
EACH = 15


def test_concurrent_submissions_from_several_engines_all_land_with_unique_references(
    settings, database, clock, keys, hospital: Org
):
    def worker(n: int) -> list[str]:
        # One engine per thread, as each gunicorn worker has its own.
        own = Database(settings.database_url)
        references = []
        try:
            for i in range(EACH):
                result = intake.submit(
                    own, clock=clock, keys=keys, reporter=None,
                    data=intake.NewReport(kind="concern", category="other",
                                          unit_id=hospital.ward,
                                          description=f"worker {n} report {i}"),
                )
                references.append(result.response["reference"])
        finally:
            own.dispose()
        return references

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(worker, range(WORKERS)))
    references = [r for batch in results for r in batch]
    assert len(references) == WORKERS * EACH
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in references)
    assert numbers == list(range(1, WORKERS * EACH + 1))


def test_references_past_a_million_keep_every_digit(database, clock, keys, hospital: Org):
    """The number is written by the database on PostgreSQL and by Python on SQLite: both
    pad to six digits and never cut a longer number."""
    from sqlalchemy import update

    from speakup.models import ReferenceCounter
    from speakup.services.reports.references import format_reference

    year = clock.now().year
    seen = []
    for last in (41, 999_998):
        with database.write() as session:
            session.merge(ReferenceCounter(year=year, last=0))
            session.execute(update(ReferenceCounter).where(ReferenceCounter.year == year)
                            .values(last=last))
        for _ in range(2):
            result = intake.submit(database, clock=clock, keys=keys, reporter=None,
                                   data=intake.NewReport(kind="gap", category="other",
                                                         unit_id=hospital.ward,
                                                         description="numbered"))
            seen.append(result.response["reference"])
    assert seen == [format_reference(year, n) for n in (42, 43, 999_999, 1_000_000)]
    assert seen[-1] == f"SU-{year}-1000000"
