"""The demo shares the service's rules: the same submission through intake (with a settable
clock) and through the demo's bulk writer gives equal rows, ids aside."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup import demo
from speakup.db import Database, table
from speakup.demo.bulk import Wire
from speakup.demo.history import History, Rows
from speakup.demo.world import Place, load_world
from speakup.models import Report, ReportAssignee, ReportEvent, User
from speakup.services.core.clock import SettableClock
from speakup.services.core.keys import Keys
from speakup.services.reports import intake
from speakup.settings import Settings

MOMENT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
IDS = {"id", "reference", "report_id", "receipt_hash"}


def rows_of(session: Session, report_id: str) -> dict[str, Any]:
    """Every row the report wrote, ids aside (events in timeline order)."""
    def plain(model: Any, where: Any, order: Any = None) -> list[dict[str, Any]]:
        stmt = select(table(model)).where(where)
        if order is not None:
            stmt = stmt.order_by(*order)
        return [{k: v for k, v in row._mapping.items() if k not in IDS}
                for row in session.execute(stmt)]

    report = plain(Report, Report.id == report_id)
    assert len(report) == 1
    return {
        "report": report[0],
        "assignees": sorted(plain(ReportAssignee, ReportAssignee.report_id == report_id),
                            key=lambda r: r["user_id"]),
        "events": plain(ReportEvent, ReportEvent.report_id == report_id,
                        (ReportEvent.at, ReportEvent.id)),
    }


def place_named(places: list[Place], name: str) -> Place:
    return next(p for p in places if p.name.startswith(name))


@pytest.mark.parametrize("unit", ["Ward 7", "ED Minors"])  # own leaders; routed up the tree
@pytest.mark.parametrize("anonymous", [False, True])
@pytest.mark.parametrize("involves_leader", [False, True])
def test_service_and_demo_write_equal_rows(
    database: Database, settings: Settings, clock: SettableClock, keys: Keys,
    session: Session, unit: str, anonymous: bool, involves_leader: bool,
) -> None:
    demo.seed(database, settings=settings, reports=0, clock=clock)
    clock.set(MOMENT)
    with database.session() as writing:
        wire = Wire(writing.get_bind().dialect)
        world = load_world(writing, wire, random.Random(7))
        place = place_named(world.places, unit)
        reporter_id = None if anonymous else world.reporters[0]
        data = intake.NewReport(
            kind="concern", category="patient_safety", unit_id=place.id,
            title="Pump alarms", description="Alarms silenced at night.",
            immediate_risk=True, anonymous=anonymous, involves_leader=involves_leader,
            wants_involvement=True,
        )
        history = History(world, wire, keys, MOMENT.replace(tzinfo=None), random.Random(7))
        rows = Rows()
        # The demo computes in naive UTC, as its bulk path does.
        through_demo = history.submit(rows, created=MOMENT.replace(tzinfo=None),
                                      reference="SU-2026-999999", place=place, data=data,
                                      reporter_id=reporter_id)["id"]
        rows.insert(writing, wire)
        writing.commit()
    reporter = None if anonymous else session.get(User, reporter_id)
    through_service = intake.submit(database, clock=clock, keys=keys, data=data,
                                    reporter=reporter).report_id
    session.rollback()
    by_service, by_demo = rows_of(session, through_service), rows_of(session, through_demo)
    assert by_service == by_demo
    assert by_service["assignees"], "the report went to somebody"
    assert [e["type"] for e in by_service["events"]] == ["submitted", "routed"]
