"""A seeded history of a few thousand reports for the metrics tests, and an independent
computation of every figure from its rows (Python's ``statistics``, exact microseconds).

The rows are built by intake's own row builder and then given a life: acknowledgements
(some late, some never), staff updates, closings, reopenings, feedback, escalations that move
``ack_due_at`` on (the metrics must still judge against the due time the report was created
with), and active and former assignees.  A few reports sit exactly on the ``from`` and
``to`` boundaries.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from speakup.db import Database, table
from speakup.models import Feedback, Report, ReportAssignee, Unit, User
from speakup.models.reports import assignee_ids
from speakup.services import org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import Clock
from speakup.services.core.ids import new_id
from speakup.services.reports import delays, intake, workflow
from speakup.services.reports.intake import NewReport
from speakup.vocabulary import Kind, Outcome
from tests.support import PASSWORD, Org

CATEGORIES = ("patient_safety", "staff_safety_wellbeing", "bullying_harassment",
              "behaviour_attitudes", "staffing_workload", "equipment_environment",
              "process_systems", "other")
ANSWERS = ("yes", "no", "unsure")


@dataclass
class World:
    units: list[str]  # every unit of the hospital
    leaders: list[str]
    start: datetime  # the window the tests ask about by default
    end: datetime
    now: datetime


def build_world(database: Database, clock: Clock, passwords: Passwords, hospital: Org
                ) -> World:
    """Two more departments with wards under the hospital's site, and a leader for each
    ward."""
    units = [hospital.site, hospital.medicine, hospital.ward]
    leaders = [hospital.ward_leader, hospital.site_leader]
    for d, dept in enumerate(("Surgery", "Women and Children")):
        parent = org.create_unit(database, clock=clock, name=dept, code=f"D{d}",
                                 parent_id=hospital.site).id
        units.append(parent)
        for w in range(2):
            ward = org.create_unit(database, clock=clock, name=f"{dept} ward {w}",
                                   code=f"D{d}W{w}", parent_id=parent).id
            units.append(ward)
            leader = org.create_user(database, clock=clock, passwords=passwords,
                                     data=org.NewUser(email=f"lead{d}{w}@example.org",
                                                      name=f"Lee Leader {d}{w}",
                                                      password=PASSWORD, roles=["leader"],
                                                      unit_id=ward)).id
            org.add_leader(database, clock=clock, unit_id=ward, user_id=leader)
            leaders.append(leader)
    now = clock.now()
    return World(units=units, leaders=leaders, start=now - timedelta(days=200),
                 end=now - timedelta(days=10), now=now)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def generate(database: Database, world: World, *, count: int, seed: int,
             reporter: str) -> None:
    """``count`` reports created over the 300 days before now, with their lives."""
    rng = random.Random(seed)
    reports: list[dict[str, Any]] = []
    assignees: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    boundaries = [world.start, world.end, world.end - timedelta(microseconds=1),
                  world.start - timedelta(microseconds=1)]
    for i in range(count):
        if i < len(boundaries):
            created = boundaries[i]
        else:
            created = world.now - timedelta(seconds=rng.uniform(0, 300 * 86400))
        created = created.replace(microsecond=rng.randrange(1_000_000)) if i >= 4 else created
        kind = rng.choice([k.value for k in Kind])
        data = NewReport(kind=kind, category=rng.choice(CATEGORIES),
                         unit_id=rng.choice(world.units), description="Something happened.",
                         immediate_risk=rng.random() < 0.05)
        anonymous = rng.random() < 0.4
        report_id = new_id()
        rows = intake.submission_rows(
            report_id=report_id, reference=f"SU-T-{i:06d}", data=data, at=created,
            reporter_id=None if anonymous else reporter,
            receipt_hash=new_id() if anonymous else None, assignees=[], reason="test",
            escalation_unit_id=None)
        report = {**rows.report, "last_closed_at": None}
        _live(rng, report, world.now)
        delays.add(report, created)
        reports.append(report)
        chosen = rng.sample(world.leaders, rng.choice((1, 1, 2)))
        for n, leader in enumerate(chosen):
            assignees.append({"report_id": report_id, "user_id": leader,
                              "assigned_at": created, "report_created_at": created,
                              "active": not (n == 1 and rng.random() < 0.3)})
        report["assignee_ids"] = assignee_ids(
            a["user_id"] for a in assignees[-len(chosen):] if a["active"])
        if report["closed_at"] is not None and rng.random() < 0.35:
            row, change = workflow.feedback_rows(
                report_id=report_id, at=report["closed_at"], actor_id=None,
                loop_closed=rng.choice(("yes", "partly", "no")),
                would_speak_up_again=rng.choice(ANSWERS), comment=None)
            feedback.append(row)
            report.update(change.values)
    with database.engine.begin() as connection:
        connection.execute(insert(table(Report)), reports)
        connection.execute(insert(table(ReportAssignee)), assignees)
        if feedback:
            connection.execute(insert(table(Feedback)), feedback)


def _live(rng: random.Random, report: dict[str, Any], now: datetime) -> None:
    """Acknowledge, answer, close, reopen and escalate ``report`` at random times."""
    created = report["created_at"]
    ack_period = report["ack_target_at"] - created
    close_period = report["close_target_at"] - created
    fate = rng.random()
    if fate < 0.06:  # never acknowledged; an escalation moved its due time on
        if report["ack_due_at"] < now and rng.random() < 0.5:
            report["ack_due_at"] += ack_period
            report["escalation_level"] = 1
        return
    ack = created + ack_period * rng.lognormvariate(math.log(0.4), 1.0)
    if ack > now:
        return
    report.update(acknowledged_at=ack, status="acknowledged")
    if ack > report["ack_target_at"] and rng.random() < 0.7:  # escalated before the ack
        report["ack_due_at"] += ack_period * 2
        report["escalation_level"] = 1
    update = None
    if rng.random() < 0.5:
        update = ack + timedelta(seconds=rng.uniform(1, 5 * 86400))
        if update < now:
            report.update(first_response_at=update, status="in_progress")
        else:
            update = None
    if fate < 0.15:  # still open
        return
    closed = created + close_period * rng.lognormvariate(math.log(0.4), 0.8)
    closed = max(closed, ack, update or ack)
    if closed > now:
        return
    report.update(closed_at=closed, last_closed_at=closed, status="closed",
                  outcome=rng.choice([o.value for o in Outcome]),
                  first_response_at=update or closed)
    if rng.random() < 0.08:
        report.update(reopen_count=1, status="in_progress")
        if rng.random() < 0.5:
            again = closed + timedelta(days=rng.uniform(1, 20))
            if again < now:
                report.update(status="closed", last_closed_at=again)


# --- the independent computation ------------------------------------------------------


def rows(database: Database) -> tuple[list[dict[str, Any]], dict[str, list[str]],
                                      dict[str, str]]:
    """Every report as a dict, each report's active assignees, and feedback answers."""
    with database.engine.connect() as connection:
        reports = [dict(r._mapping) for r in connection.execute(select(table(Report)))]
        active: dict[str, list[str]] = defaultdict(list)
        for r in connection.execute(select(table(ReportAssignee))):
            if r.active:
                active[r.report_id].append(r.user_id)
        answers = {r.report_id: r.would_speak_up_again
                   for r in connection.execute(select(table(Feedback)))}
    for report in reports:
        for key, value in report.items():
            if isinstance(value, datetime):
                report[key] = _utc(value)
    return reports, active, answers


def names(database: Database) -> dict[str, str]:
    with database.engine.connect() as connection:
        return {**dict(connection.execute(select(Unit.id, Unit.name)).all()),
                **dict(connection.execute(select(User.id, User.name)).all())}


def _hours(report: dict[str, Any], column: str) -> float | None:
    moment = report[column]
    return None if moment is None else (moment - report["created_at"]) / timedelta(hours=1)


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    if len(values) == 1:
        return {"median": values[0], "p90": values[0]}
    # "inclusive" is linear interpolation between the closest ranks, as percentile_cont.
    return {"median": statistics.median(values),
            "p90": statistics.quantiles(values, n=10, method="inclusive")[8]}


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100 * part / whole, 1)


def expected(reports: Iterable[dict[str, Any]], answers: dict[str, str], now: datetime
             ) -> dict[str, Any]:
    """Every figure of one group, unrounded durations in hours."""
    group = list(reports)
    open_ = [r for r in group if r["status"] != "closed"]
    ack_judged = [r for r in group if r["acknowledged_at"] is not None
                  or r["ack_target_at"] < now]
    close_judged = [r for r in group if r["closed_at"] is not None
                    or r["close_target_at"] < now]
    answered = [answers[r["id"]] for r in group if r["id"] in answers]
    figures: dict[str, Any] = {
        "reports": len(group),
        "acknowledged": sum(r["acknowledged_at"] is not None for r in group),
        "closed": sum(r["closed_at"] is not None for r in group),
        "open_overdue": sum((r["acknowledged_at"] is None and r["ack_target_at"] < now)
                            or r["close_target_at"] < now for r in open_),
        "reopened": sum(r["reopen_count"] > 0 for r in group),
        "ack_within_sla_pct": _pct(sum(r["acknowledged_at"] is not None
                                       and r["acknowledged_at"] <= r["ack_target_at"]
                                       for r in ack_judged), len(ack_judged)),
        "close_within_sla_pct": _pct(sum(r["closed_at"] is not None
                                         and r["closed_at"] <= r["close_target_at"]
                                         for r in close_judged), len(close_judged)),
        "anonymous_pct": _pct(sum(r["anonymous"] for r in group), len(group)),
        "would_speak_up_again_pct": _pct(answered.count("yes"), len(answered)),
    }
    for name, column in (("ack_hours", "acknowledged_at"),
                         ("first_response_hours", "first_response_at"),
                         ("close_hours", "closed_at")):
        figures[name] = _spread([h for r in group if (h := _hours(r, column)) is not None])
    return figures


def group_key(group_by: str, active: dict[str, list[str]]
              ) -> Callable[[dict[str, Any]], list[str]]:
    """The groups a report falls into (several for leaders, one otherwise)."""
    def week(r: dict[str, Any]) -> list[str]:
        day = r["created_at"].date()
        return [(day - timedelta(days=day.weekday())).isoformat()]

    return {
        "unit": lambda r: [r["unit_id"]],
        "kind": lambda r: [r["kind"]],
        "category": lambda r: [r["category"]],
        "leader": lambda r: active.get(r["id"], []),
        "week": week,
        "month": lambda r: [r["created_at"].strftime("%Y-%m")],
    }[group_by]


def close_enough(actual: Any, wanted: Any) -> bool:
    """Durations: rounded to 0.01 h, so within half a hundredth of the exact figure;
    everything else exactly equal."""
    if isinstance(wanted, dict):
        return all(close_enough(actual[k], v) for k, v in wanted.items())
    if isinstance(wanted, float) and isinstance(actual, float) and not isinstance(wanted, bool):
        return abs(actual - wanted) <= 0.005 + 1e-9
    return bool(actual == wanted)
