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


def test_concurrent_steps_on_one_report_take_turns(settings, database, clock, keys,
                                                   hospital: Org):
    """Eight workers acknowledge and close one report at once, each on its own engine: it is
    acknowledged once and closed once; the losers of the closing race get a clean 409."""
    from sqlalchemy import func, select

    from speakup.models import Message, ReportEvent
    from speakup.services.core.actors import Actor
    from speakup.services.core.errors import Conflict
    from speakup.services.reports import workflow

    report_id = intake.submit(database, clock=clock, keys=keys, reporter=None,
                              data=intake.NewReport(kind="gap", category="other",
                                                    unit_id=hospital.ward,
                                                    description="one report")).report_id
    officer = Actor(user_id=hospital.officer, name="Sam Safety",
                    roles=frozenset({"safety_officer"}))

    def worker(n: int) -> str:
        own = Database(settings.database_url)
        try:
            workflow.acknowledge(own, clock=clock, actor=officer, report_id=report_id,
                                 message=f"seen by worker {n}")
            try:
                workflow.close(own, clock=clock, actor=officer, report_id=report_id,
                               outcome="actioned", response=f"closed by worker {n}")
            except Conflict as refused:
                return refused.type
            return "closed"
        finally:
            own.dispose()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(8)))
    assert results.count("closed") == 1
    assert set(results) - {"closed"} == {"/problems/illegal-transition/close-from-closed"}
    with database.read() as session:
        types = session.scalars(select(ReportEvent.type).where(
            ReportEvent.report_id == report_id)).all()
        messages = session.scalar(select(func.count()).select_from(Message).where(
            Message.report_id == report_id))
    assert sorted(types) == ["acknowledged", "closed", "routed", "submitted"]
    assert messages == 2  # the first acknowledgement's message and the one closing response
