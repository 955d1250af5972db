"""Response-time metrics: how fast leaders acknowledge, answer and close the loop.

The database computes every figure in a fixed number of statements whatever the number of
reports: the groups with the overall row (one scan where the groups split the reports:
PostgreSQL's grouping sets; on SQLite always, the groups then the overall row made from
them), and the groups' labels.  By leader, each report counts for every active assignee it
names in ``assignee_ids``.  Percentiles are PostgreSQL's
``percentile_cont`` and, on SQLite, the functions of :mod:`speakup.percentiles`, which
interpolate the same way; both take them over the delays each report keeps in whole
microseconds (:mod:`speakup.services.reports.delays`), so both databases give identical
figures.

Definitions (the contract's "Metrics"):

- durations from creation, over the reports that have the event: ``ack_hours`` to the
  acknowledgement, ``first_response_hours`` to the first reporter-visible staff message or
  closing response (``first_response_at``), ``close_hours`` to the first closing; median and
  90th percentile in hours, two decimals;
- SLA shares judge against the due times a report was created with (``ack_target_at``,
  ``close_target_at``), not the later ones escalation moves on to: of the reports
  acknowledged or past that time now, the share acknowledged by it; likewise for closing;
- ``open_overdue``: not closed now and past either of those due times (acknowledgement
  only while unacknowledged);
- percentages to one decimal, ``None`` without a denominator.

Small groups are suppressed so that a figure cannot point at a person: a group with fewer
reports than the threshold shows no figures, and when exactly one group is suppressed the
next smallest is too (or, with no other group, the overall row), so that the overall row
minus the visible groups never gives a suppressed group away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    CompoundSelect,
    Float,
    Select,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from speakup import percentiles
from speakup.db import table
from speakup.models import Category, Report, Unit, User
from speakup.services.core.errors import Invalid
from speakup.services.org.units import subtree_ids
from speakup.vocabulary import Kind, Status

GROUPINGS = ("none", "unit", "kind", "category", "leader", "week", "month")
DEFAULT_THRESHOLD = 5
DURATIONS = ("ack_hours", "first_response_hours", "close_hours")
COUNTS = ("reports", "acknowledged", "closed", "open_overdue", "reopened")
SHARES = ("ack_within_sla_pct", "close_within_sla_pct", "anonymous_pct",
          "would_speak_up_again_pct")
FIGURES = COUNTS + DURATIONS + SHARES

_R = table(Report)


@dataclass(frozen=True)
class Query:
    """What to measure: reports created in ``[start, end)``, optionally only in the subtree
    ``unit_ids``, of one ``kind`` or ``category``, grouped by ``group_by``."""

    start: datetime
    end: datetime
    group_by: str = "none"
    unit_ids: Sequence[str] | None = None
    kind: str | None = None
    category: str | None = None
    threshold: int = DEFAULT_THRESHOLD


class _Week(FunctionElement[Any]):
    """The Monday (UTC) of a time's ISO week: on SQLite as ``YYYY-MM-DD``, on PostgreSQL as
    the week's first moment (a timestamp sorts faster than its text; :func:`_shown` writes
    it out)."""

    inherit_cache = True


@compiles(_Week, "sqlite")
def _week_sqlite(element: _Week, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '-6 days', 'weekday 1')"


@compiles(_Week)
def _week_default(element: _Week, compiler: Any, **kw: Any) -> str:
    return f"date_trunc('week', {compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC')"


class _Month(FunctionElement[Any]):
    """A time's month (UTC): on SQLite as ``YYYY-MM``, on PostgreSQL as its first moment."""

    inherit_cache = True


@compiles(_Month, "sqlite")
def _month_sqlite(element: _Month, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 7)"


@compiles(_Month)
def _month_default(element: _Month, compiler: Any, **kw: Any) -> str:
    return f"date_trunc('month', {compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC')"


_FORMATS = {"week": "YYYY-MM-DD", "month": "YYYY-MM"}


def _shown(key: ColumnElement[Any], group_by: str, dialect: str) -> ColumnElement[Any]:
    """The group's key as the answer gives it: on PostgreSQL a week or month written out."""
    if dialect == "sqlite" or group_by not in _FORMATS:
        return key
    return func.to_char(key, literal_column(f"'{_FORMATS[group_by]}'"))


_DELAYS: list[ColumnElement[Any]] = [
    _R.c.ack_after_us, _R.c.first_response_after_us, _R.c.close_after_us]


def _percentile_columns(dialect: str, *, packed: bool = False) -> list[ColumnElement[Any]]:
    """The percentiles of the three delays (on SQLite one text of figures, see
    :mod:`speakup.percentiles`), or on SQLite with ``packed`` each group's three sorted
    series for :func:`_with_overall`."""
    if dialect == "sqlite":
        series = [func.speakup_sorted(func.group_concat(delay)) for delay in _DELAYS]
        if packed:
            return [s.label(f"series{i}") for i, s in enumerate(series)]
        return [func.speakup_percentiles(*series).label("spans")]
    return [_percentile_cont(delay).label(f"span{i}") for i, delay in enumerate(_DELAYS)]


def _percentile_cont(values: ColumnElement[Any]) -> ColumnElement[Any]:
    fractions: ColumnElement[Any] = literal_column(
        f"ARRAY[{', '.join(map(str, percentiles.FRACTIONS))}]::float8[]")
    return func.percentile_cont(fractions).within_group(cast(values, Float))


def _count_columns() -> list[ColumnElement[Any]]:
    r, now = _R.c, _now()
    ack_due_passed = r.ack_target_at < now
    close_due_passed = r.close_target_at < now
    count = func.count
    return [
        count().label("reports"),
        count(r.acknowledged_at).label("acknowledged"),
        count(r.closed_at).label("closed"),
        count().filter(and_(r.status != Status.CLOSED.value,
                            or_(and_(r.acknowledged_at.is_(None), ack_due_passed),
                                close_due_passed))).label("open_overdue"),
        count().filter(r.reopen_count > 0).label("reopened"),
        count().filter(r.acknowledged_at <= r.ack_target_at).label("ack_in_time"),
        count().filter(or_(r.acknowledged_at.is_not(None), ack_due_passed)).label("ack_judged"),
        count().filter(r.closed_at <= r.close_target_at).label("close_in_time"),
        count().filter(or_(r.closed_at.is_not(None), close_due_passed)).label("close_judged"),
        count().filter(r.anonymous == true()).label("anonymous"),
        count(r.would_speak_up_again).label("answers"),
        count().filter(r.would_speak_up_again == "yes").label("again"),
    ]


def _now() -> Any:
    return bindparam("now", type_=_R.c.created_at.type)


def _key(group_by: str) -> ColumnElement[Any]:
    return {"unit": _R.c.unit_id, "kind": _R.c.kind, "category": _R.c.category,
            "leader": _R.c.assignee_ids, "week": _Week(_R.c.created_at),
            "month": _Month(_R.c.created_at)}[group_by]


# On SQLite a window this long reads most of the table: a plain scan beats walking the
# creation-time index and fetching each row from it (SQLite's planner, without statistics
# on the spread of creation times, takes the index whatever the window).
WIDE = timedelta(days=120)


def _statement(query: Query, dialect: str, *, grouped: bool, whole: bool = False
               ) -> Select[Any] | CompoundSelect[Any]:
    """The figures of ``query``: overall, per group (``grouped``), or both at once in one
    scan (``whole`` too; the overall row has ``whole`` 1).

    By leader, a report counts for each of its active assignees (``assignee_ids``): on
    PostgreSQL each report is joined to the ids it holds; on SQLite the reports are grouped
    by their set of assignees, and each leader's row is made from the sets that name them
    (see :func:`_with_overall`)."""
    sqlite = dialect == "sqlite"
    columns = _count_columns() + _percentile_columns(dialect, packed=whole and sqlite)
    source: Any = _R
    key = _key(query.group_by) if grouped else None
    if grouped and query.group_by == "leader" and not sqlite:
        leaders = func.unnest(func.string_to_array(_R.c.assignee_ids, literal(" "))
                              ).table_valued("user_id").render_derived(name="leader")
        source = source.join(leaders, true())
        key = leaders.c.user_id
    created: ColumnElement[Any] = _R.c.created_at
    scan = sqlite and query.unit_ids is None and query.end - query.start >= WIDE
    if scan:
        # SQLite's way of saying "not by this index": a unary plus on the column.
        created = literal_column("+reports.created_at", type_=_R.c.created_at.type)
    conditions = [created >= query.start, created < query.end]
    if query.unit_ids is not None:
        conditions.append(_R.c.unit_id.in_(query.unit_ids))
    if query.kind is not None:
        conditions.append(_R.c.kind == query.kind)
    if query.category is not None:
        conditions.append(_R.c.category == query.category)
    statement = select(*columns).select_from(source).where(*conditions)
    if key is None:
        return statement
    # Nor group by walking a single-column index on the key, but by unit through the index
    # that holds every column read here (ix_reports_unit_id_created_at): in order, no sort.
    if scan and isinstance(key, Column) and key is not _R.c.unit_id:
        key = literal_column(f"+{key.table.name}.{key.name}", type_=key.type)
    statement = statement.add_columns(_shown(key, query.group_by, dialect).label("key"))
    if whole and sqlite:
        return _with_overall(statement.group_by(key), by_leader=query.group_by == "leader")
    if whole:  # PostgreSQL's grouping sets
        return (statement.add_columns(func.grouping(key).label("whole"))
                .group_by(func.grouping_sets(key, tuple_())))
    return statement.group_by(key)


def _with_overall(grouped: Select[Any], *, by_leader: bool = False) -> CompoundSelect[Any]:
    """SQLite's stand-in for grouping sets: the groups of ``grouped`` (made once), then the
    overall row from them: the sums of their counts and the percentiles of the union of
    their sorted series.  The reports are read once instead of twice.

    ``by_leader``: the groups are sets of assignees (``assignee_ids``, ids with spaces
    between); each leader's row is made the same way from the sets that name them."""
    groups = grouped.cte("groups").prefix_with("MATERIALIZED")
    series = [c for c in groups.c if c.name.startswith("series")]
    counts = [c for c in groups.c if c.name != "key" and c not in series]
    if by_leader:
        ids = func.json_each(literal("[\"") + func.replace(groups.c.key, " ", "\",\"")
                             + literal("\"]")).table_valued("value").alias("leader")
        parts: Select[Any] = (
            select(*[func.sum(c).label(c.name) for c in counts], ids.c.value.label("key"),
                   func.speakup_percentiles_merged(*series).label("spans"),
                   literal(0).label("whole"))
            .select_from(groups).join(ids, true()).group_by(ids.c.value))
    else:
        parts = select(*counts, groups.c.key,
                       func.speakup_percentiles(*series).label("spans"),
                       literal(0).label("whole"))
    overall = select(*[func.coalesce(func.sum(c), 0).label(c.name) for c in counts],
                     null().label("key"),
                     func.speakup_percentiles_merged(*series).label("spans"),
                     literal(1).label("whole"))
    return union_all(parts, overall)


def _one_scan(query: Query, dialect: str) -> bool:
    """Whether the groups and the overall row come from one statement: on SQLite always (by
    the sets of assignees for leaders, by unit for no grouping: a union of sorted groups is
    quicker to sort than the whole); on PostgreSQL when the groups split the reports (a
    report can have several leaders)."""
    return dialect == "sqlite" or query.group_by not in ("none", "leader")


def _rows(session: Session, query: Query, dialect: str, params: dict[str, Any]
          ) -> tuple[Any, Sequence[Any]]:
    """The overall row and the group rows (none for ``group_by=none``)."""
    if _one_scan(query, dialect):
        grouping = query if query.group_by != "none" else replace(query, group_by="unit")
        rows = session.execute(_statement(grouping, dialect, grouped=True, whole=True),
                               params).all()
        overall = next(r for r in rows if r.whole)
        return overall, [r for r in rows if not r.whole and query.group_by != "none"]
    overall = session.execute(_statement(query, dialect, grouped=False), params).one()
    if query.group_by == "none":
        return overall, []
    return overall, session.execute(_statement(query, dialect, grouped=True), params).all()


def response_times(session: Session, query: Query, *, now: datetime) -> dict[str, Any]:
    """The metrics of ``query`` as of ``now``, in the contract's shape (without the echo of
    the query, which the caller adds)."""
    dialect = session.get_bind().dialect.name
    whole, parts = _rows(session, query, dialect, {"now": now})
    overall = _figures(whole._mapping, dialect)
    groups = [{"key": row.key, **_figures(row._mapping, dialect)} for row in parts]
    if groups:
        labels = _labels(session, query.group_by, [g["key"] for g in groups])
        for group in groups:
            group["label"] = labels.get(group["key"], group["key"])
        groups.sort(key=_order(query.group_by, labels))
    return _suppress(groups, overall, query.threshold)


def _figures(row: Any, dialect: str) -> dict[str, Any]:
    """A row's figures."""
    if dialect == "sqlite":
        spans = percentiles.decode(row["spans"])
    else:
        spans = [tuple(row[f"span{i}"]) if row[f"span{i}"] is not None else (None, None)
                 for i in range(len(DURATIONS))]
    figures: dict[str, Any] = {name: row[name] for name in COUNTS}
    for name, (median, p90) in zip(DURATIONS, spans, strict=True):
        figures[name] = {"median": _hours(median), "p90": _hours(p90)}
    figures["ack_within_sla_pct"] = _share(row["ack_in_time"], row["ack_judged"])
    figures["close_within_sla_pct"] = _share(row["close_in_time"], row["close_judged"])
    figures["anonymous_pct"] = _share(row["anonymous"], row["reports"])
    figures["would_speak_up_again_pct"] = _share(row["again"], row["answers"])
    return figures


def _hours(micros: float | None) -> float | None:
    return None if micros is None else round(micros / 3_600_000_000, 2)


def _share(part: int, whole: int) -> float | None:
    return None if not whole else round(100 * part / whole, 1)


def _labels(session: Session, group_by: str, keys: list[Any]) -> dict[Any, str]:
    """What each group is called: unit and leader names, category labels; kinds, weeks and
    months name themselves."""
    if group_by == "unit":
        rows = session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(keys)))
    elif group_by == "leader":
        rows = session.execute(select(User.id, User.name).where(User.id.in_(keys)))
    elif group_by == "category":
        rows = session.execute(select(Category.id, Category.label)
                               .where(Category.id.in_(keys)))
    elif group_by == "week":
        return {key: f"Week of {key}" for key in keys}
    else:
        return {key: str(key) for key in keys}
    return {key: label for key, label in rows}


_KIND_ORDER = {kind.value: i for i, kind in enumerate(Kind)}


def _order(group_by: str, labels: dict[Any, str]) -> Any:
    if group_by == "kind":
        return lambda g: (_KIND_ORDER.get(g["key"], len(_KIND_ORDER)), g["key"])
    if group_by in ("unit", "leader", "category"):
        return lambda g: (labels.get(g["key"], "").casefold(), g["key"])
    return lambda g: g["key"]


def _suppress(groups: list[dict[str, Any]], overall: dict[str, Any],
              threshold: int) -> dict[str, Any]:
    """Hide the figures of groups below ``threshold`` reports, and one more group (or the
    overall row) when a single hidden group could otherwise be recovered by subtraction."""
    hidden = {i for i, g in enumerate(groups) if g["reports"] < threshold}
    hide_overall = overall["reports"] < threshold
    if len(hidden) == 1:
        others = sorted((g["reports"], str(g["key"]), i) for i, g in enumerate(groups)
                        if i not in hidden)
        if others:
            hidden.add(others[0][2])
        else:
            hide_overall = True
    shown = [{"key": g["key"], "label": g["label"], "suppressed": True} if i in hidden
             else {"key": g["key"], "label": g["label"], "suppressed": False,
                   **{name: g[name] for name in FIGURES}}
             for i, g in enumerate(groups)]
    total = {"suppressed": True} if hide_overall else {"suppressed": False, **overall}
    return {"groups": shown, "overall": total}


DEFAULT_SPAN = timedelta(days=90)
MAX_THRESHOLD = 1000


def measure(session: Session, *, now: datetime, minimum_threshold: int,
            start: datetime | None = None, end: datetime | None = None,
            group_by: str = "none", unit_id: str | None = None, kind: str | None = None,
            category: str | None = None, threshold: int | None = None) -> dict[str, Any]:
    """The response-time metrics a safety officer asked for, with the question echoed.

    ``end`` defaults to ``now`` and ``start`` to DEFAULT_SPAN before ``end``; ``threshold``
    to ``minimum_threshold``, below which no caller may go.  Unknown units and categories
    are refused (422), as is an empty or reversed span.
    """
    end = end or now
    start = start or end - DEFAULT_SPAN
    errors: dict[str, list[str]] = {}
    if start >= end:
        errors["from"] = ["Must be before `to`."]
    threshold = minimum_threshold if threshold is None else threshold
    if not minimum_threshold <= threshold <= MAX_THRESHOLD:
        errors["suppression_threshold"] = [
            f"Must be from {minimum_threshold} (this installation's minimum) "
            f"to {MAX_THRESHOLD}."]
    unit_ids = None
    if unit_id is not None:
        unit_ids = subtree_ids(session, unit_id)
        if not unit_ids:
            errors["unit_id"] = ["Unknown unit."]
    if category is not None and session.get(Category, category) is None:
        errors["category"] = ["Unknown category."]
    if errors:
        raise Invalid("The metrics cannot be computed for these parameters.", errors=errors)
    query = Query(start=start, end=end, group_by=group_by, unit_ids=unit_ids, kind=kind,
                  category=category, threshold=threshold)
    return {"from": start, "to": end, "group_by": group_by, "unit_id": unit_id,
            "kind": kind, "category": category, "suppression_threshold": threshold,
            **response_times(session, query, now=now)}
