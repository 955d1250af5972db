"""One writer of report history: every timeline entry goes through history.record, inside a
command's write block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import ReportEvent
from speakup.services.core.clock import SettableClock
from speakup.services.core.keys import Keys
from speakup.services.reports import history, intake
from tests.support import Org

PACKAGE = Path(__file__).resolve().parents[3] / "speakup"


def test_history_is_written_only_inside_a_write_block(session: Session, clock: SettableClock):
    with pytest.raises(history.OutsideWriteBlock):
        history.record(session, [history.entry(report_id="r", type="submitted",
                                               at=clock.now())])


def test_an_unknown_entry_is_refused(database: Database, clock: SettableClock):
    with pytest.raises(ValueError, match="unknown timeline entry"), database.write() as s:
        history.record(s, [history.entry(report_id="r", type="shredded", at=clock.now())])


def test_intake_writes_its_timeline_through_the_one_writer(
        database: Database, session: Session, clock: SettableClock, keys: Keys, hospital: Org,
        monkeypatch: pytest.MonkeyPatch):
    written: list[str] = []
    original = history.append

    def spy(session, rows, **kwargs):
        written.extend(row["type"] for row in rows)
        return original(session, rows, **kwargs)

    monkeypatch.setattr(history, "append", spy)
    result = intake.submit(database, clock=clock, keys=keys, reporter=None,
                           data=intake.NewReport(kind="gap", category="other",
                                                 unit_id=hospital.ward, description="Gap."))
    stored = session.scalars(select(ReportEvent.type).where(
        ReportEvent.report_id == result.report_id).order_by(ReportEvent.id)).all()
    assert written == list(stored) == ["submitted", "routed"]


def test_no_other_module_writes_timeline_rows():
    """The demo's bulk path builds its rows with history.entry (the parity test holds it to
    the service's rows); nothing but history inserts them through the ORM."""
    writers = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
               if re.search(r"insert\((table\()?ReportEvent\b|(?<!class )\bReportEvent\(",
                            path.read_text())]
    assert writers == ["services/reports/history.py"]


def test_no_other_module_writes_audit_rows():
    writers = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
               if re.search(r"insert\((table\()?AuditEntry\b|(?<!class )\bAuditEntry\(",
                            path.read_text())]
    assert writers == ["services/reports/history.py"]


def test_an_entry_is_a_plain_row():
    row = history.entry(report_id="r", type="routed", at="t", details={"reason": "x"},
                        json=lambda d: f"json:{sorted(d)}")
    assert row == {"report_id": "r", "type": "routed", "at": "t", "actor_id": None,
                   "details": "json:['reason']"}


def test_no_other_module_writes_outbox_events():
    """Events are written with the change they tell of, by the one writer of history: a
    change that commits always has its event, one that fails has none."""
    writers = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
               if re.search(r"insert\((table\()?OutboxEvent\b|(?<!class )\bOutboxEvent\(",
                            path.read_text())]
    assert writers == ["services/reports/history.py"]
