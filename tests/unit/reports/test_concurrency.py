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
