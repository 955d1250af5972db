"""`make bench`, part two: speakup at a million reports.

For SQLite, and for PostgreSQL when a URL is given, on scratch databases:

1. load ``speakup demo --reports N`` (default 1,000,000) and say how long it took;
2. in-process (the Flask app, no HTTP server): the response-time metrics over the last year
   for ``group_by=unit``, ``month`` and ``leader`` as a safety officer, median of 5 after a
   warm-up, side by side with the best single hand-written SQL statement for the same
   figures on the same connection pool (:func:`hand_written`), as a ratio; then the huddle
   of the site (the largest subtree) and of Ward 7;
3. over HTTP with wrk, beside the thin app on as many rows (bench/run.py's machinery): the
   inbox page and a named submission, with the gunicorn workers' RSS;
4. one `speakup escalate` pass and a `speakup worker` running for a while over that history:
   their peak RSS.

Prints the figures and writes them into ``bench/results.md`` under "At a million reports"
(after the section bench/run.py wrote; an earlier such section is replaced).

    python -m bench.scale [--postgres URL] [--reports 1000000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from bench.run import (
    INBOX,
    NAMED,
    RESULTS,
    Figures,
    drive,
    scratch_pair,
    speakup,
    thin,
)
from speakup import create_app
from speakup.db import make_engine
from speakup.settings import Settings
from tests.e2e.server import SPEAKUP

REPEAT = 5
GROUPINGS = ("unit", "month", "leader")
OFFICER = "safety@demo.speakup.test"
PASSWORD = "speak-up-safely"  # noqa: S105 - published with `speakup demo`
HEADING = "## At a million reports"
WORKER_SECONDS = 20


@dataclass
class Result:
    database: str
    reports: int
    load_s: float = 0.0
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)  # ours, hand (s)
    statements: dict[str, int] = field(default_factory=dict)
    huddle: dict[str, float] = field(default_factory=dict)  # median s
    http: dict[str, tuple[Figures, Figures]] = field(default_factory=dict)  # speakup, thin
    thin_load_s: float = 0.0
    rss_mb: dict[str, float] = field(default_factory=dict)


# --- the hand-written statement ------------------------------------------------------


def _aggregates(sqlite: bool) -> str:
    yes = "r.anonymous" if not sqlite else "r.anonymous = 1"
    counts = f"""
        count(*), count(r.acknowledged_at), count(r.closed_at),
        count(*) FILTER (WHERE r.status <> 'closed' AND ((r.acknowledged_at IS NULL
            AND r.ack_target_at < :now) OR r.close_target_at < :now)),
        count(*) FILTER (WHERE r.reopen_count > 0),
        count(*) FILTER (WHERE r.acknowledged_at <= r.ack_target_at),
        count(*) FILTER (WHERE r.acknowledged_at IS NOT NULL OR r.ack_target_at < :now),
        count(*) FILTER (WHERE r.closed_at <= r.close_target_at),
        count(*) FILTER (WHERE r.closed_at IS NOT NULL OR r.close_target_at < :now),
        count(*) FILTER (WHERE {yes}), count(r.would_speak_up_again),
        count(*) FILTER (WHERE r.would_speak_up_again = 'yes')"""
    spans = ["r.ack_after_us", "r.first_response_after_us", "r.close_after_us"]
    if sqlite:  # speakup's functions (speakup.percentiles), the fastest exact way there
        series = ", ".join(f"speakup_sorted(group_concat({s}))" for s in spans)
        return counts + f", speakup_percentiles({series})"
    return counts + "".join(
        f", percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY {s}::float8)"
        for s in spans)


def hand_written(group_by: str, sqlite: bool) -> str:
    """One statement for the groups with their labels and the overall row (UNION ALL),
    written as a person who knows the schema would write it."""
    # On PostgreSQL by the period's first moment (a timestamp sorts faster than text).
    week = ("date(r.created_at, '-6 days', 'weekday 1')" if sqlite else
            "date_trunc('week', r.created_at AT TIME ZONE 'UTC')")
    month = ("substr(r.created_at, 1, 7)" if sqlite else
             "date_trunc('month', r.created_at AT TIME ZONE 'UTC')")
    key, label, join = {
        "unit": ("r.unit_id", "u.name", "JOIN units u ON u.id = r.unit_id"),
        # Each report names its active assignees (assignee_ids, ids with spaces between).
        "leader": ("a.value", "p.name",
                   ("JOIN json_each('[\"' || replace(r.assignee_ids, ' ', '\",\"') || '\"]') a"
                    if sqlite else
                    "CROSS JOIN unnest(string_to_array(r.assignee_ids, ' ')) a(value)")
                   + " JOIN users p ON p.id = a.value"),
        "month": (month, month if sqlite else f"to_char({month}, 'YYYY-MM')", ""),
        "week": (week, week if sqlite else f"to_char({week}, 'YYYY-MM-DD')", ""),
    }[group_by]
    grouped = key if group_by in ("month", "week") else f"{key}, {label}"
    where = "WHERE r.created_at >= :start AND r.created_at < :end"
    # A year is most of the table: SQLite would otherwise walk the creation-time index and
    # fetch each row; the index of a unit's reports holds every column read here.
    reports = "reports r INDEXED BY ix_reports_unit_id_created_at" if sqlite else "reports r"
    return (f"SELECT {key} AS key, {label} AS label, {_aggregates(sqlite)} "  # noqa: S608
            f"FROM {reports} {join} {where} GROUP BY {grouped} "
            f"UNION ALL SELECT NULL, NULL, {_aggregates(sqlite)} FROM {reports} {where}")


# --- timing ----------------------------------------------------------------------------


def median_seconds(call: Callable[[], Any], repeat: int = REPEAT) -> float:
    call()  # warm-up: caches, the first compilation
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def in_process(url: str, result: Result, home: Path) -> None:
    """Metrics beside the hand-written statement, and the huddle, through the app."""
    settings = Settings.from_env({"SPEAKUP_DATABASE_URL": url,
                                  "SPEAKUP_INSTANCE_PATH": str(home / "instance"),
                                  "SPEAKUP_DB_STATEMENT_TIMEOUT_MS": "60000"})
    app = create_app(settings)
    client = app.test_client()
    signed_in: Any = client.post("/api/v1/auth/login",
                                 json={"email": OFFICER, "password": PASSWORD}).json
    token = signed_in["access_token"]
    officer = {"Authorization": f"Bearer {token}"}
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    window = f"from={start:%Y-%m-%dT%H:%M:%S}Z&to={now:%Y-%m-%dT%H:%M:%S}Z"
    engine = make_engine(url)
    sqlite = url.startswith("sqlite")

    def fmt(moment: datetime) -> Any:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment

    params = {"start": fmt(start.replace(microsecond=0)),
              "end": fmt(now.replace(microsecond=0)), "now": fmt(now)}
    counted: list[str] = []
    app_engine = app.extensions["speakup"].database.engine
    event.listen(app_engine, "before_cursor_execute", lambda *a: counted.append(""))
    try:
        with engine.connect() as connection:
            for group_by in GROUPINGS:
                def ours(group_by: str = group_by) -> None:
                    response = client.get(f"/api/v1/metrics/response-times?group_by="
                                          f"{group_by}&{window}", headers=officer)
                    assert response.status_code == 200, response.get_data(True)

                statement = text(hand_written(group_by, sqlite))

                def hand(statement: Any = statement) -> None:
                    connection.execute(statement, params).all()

                hand_s = median_seconds(hand)
                ours_s = median_seconds(ours)
                counted.clear()
                ours()
                result.statements[group_by] = len(counted)
                result.metrics[group_by] = (ours_s, hand_s)
                print(f"{result.database:<10} metrics group_by={group_by:<7} speakup "
                      f"{ours_s:6.2f} s  hand-written {hand_s:6.2f} s  "
                      f"ratio {ours_s / hand_s:4.2f}", flush=True)
            units = {code: uid for uid, code in connection.execute(
                text("SELECT id, code FROM units WHERE code IN ('DEMO-SITE', 'DEMO-MED-W7')"))}
    finally:
        engine.dispose()
    for code, label in (("DEMO-SITE", "site"), ("DEMO-MED-W7", "Ward 7")):
        def huddle(unit_id: str = units[code]) -> None:
            response = client.get(f"/api/v1/units/{unit_id}/huddle", headers=officer)
            assert response.status_code == 200, response.get_data(True)

        result.huddle[label] = median_seconds(huddle, 20)
        print(f"{result.database:<10} huddle of the {label}: "
              f"{result.huddle[label] * 1000:.0f} ms", flush=True)


def peak_rss_mb(args: list[str], env: dict[str, str], seconds: float | None) -> float:
    """Run ``speakup args``; stop it with SIGTERM after ``seconds`` (None: let it end);
    its peak RSS.  Read from /proc (VmHWM) while it runs: the rusage of a child counts the
    RSS of the parent it was forked from, which here holds a whole app."""
    process = subprocess.Popen([SPEAKUP, *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    status = Path(f"/proc/{process.pid}/status")
    deadline = None if seconds is None else time.monotonic() + seconds
    peak_kb = 0
    while process.poll() is None:
        try:
            match = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        except OSError:  # it has just ended
            break
        if match:
            peak_kb = max(peak_kb, int(match.group(1)))
        if deadline is not None and time.monotonic() >= deadline:
            process.send_signal(signal.SIGTERM)
            deadline = None
        time.sleep(0.05)
    if process.wait() != 0:
        sys.exit(f"bench: speakup {' '.join(args)} failed")
    return peak_kb / 1024


def one_database(label: str, base: str | None, reports: int, seconds: int) -> Result:
    result = Result(label, reports)
    with tempfile.TemporaryDirectory(prefix="speakup-scale-") as name, ExitStack() as stack:
        folder = Path(name)
        speakup_url, thin_url = scratch_pair(stack, base, folder, "scale")
        print(f"{label}: loading {reports:,} demo reports", flush=True)
        ours = stack.enter_context(speakup(speakup_url, folder / "speakup", reports))
        result.load_s = ours.seed_seconds
        print(f"{label}: loaded in {result.load_s:.0f} s", flush=True)
        in_process(speakup_url, result, folder)
        theirs = stack.enter_context(thin(thin_url, folder / "thin", reports))
        result.thin_load_s = theirs.seed_seconds
        for scenario in (INBOX, NAMED):
            figures = tuple(drive(target, scenario, seconds, folder) for target in (ours, theirs))
            result.http[scenario] = (figures[0], figures[1])
            print(f"{label:<10} {scenario:<17} speakup {figures[0].rate:,.0f} req/s, thin "
                  f"{figures[1].rate:,.0f} req/s, ratio {figures[0].rate / figures[1].rate:.2f}"
                  f", worker RSS {figures[0].rss_mb:.0f} MB", flush=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKUP_")}
        env.update(SPEAKUP_DATABASE_URL=speakup_url,
                   SPEAKUP_INSTANCE_PATH=str(folder / "speakup" / "instance"))
        result.rss_mb["speakup escalate (one pass)"] = peak_rss_mb(["escalate"], env, None)
        result.rss_mb[f"speakup worker ({WORKER_SECONDS} s)"] = peak_rss_mb(
            ["worker", "--escalate-every", "5"], env, WORKER_SECONDS)
        result.rss_mb["gunicorn worker (largest, after the HTTP figures)"] = max(
            f[0].rss_mb for f in result.http.values())
        for what, mb in result.rss_mb.items():
            print(f"{label:<10} peak RSS of {what}: {mb:.0f} MB", flush=True)
    return result


# --- the report ------------------------------------------------------------------------


def markdown(results: list[Result], started: datetime) -> str:
    lines = [HEADING, "",
             f"Written by `python -m bench.scale` (part of `make bench`) on "
             f"{started:%Y-%m-%d %H:%M} UTC; see bench/scale.py.", "",
             "Loading the demo history (`speakup demo --reports N`, progress bar and all):", ""]
    lines += [f"- {r.database}: {r.reports:,} reports in {r.load_s:.0f} s "
              f"({r.reports / r.load_s:,.0f} reports/s)" for r in results]
    lines += ["", "Response-time metrics over one year, as a safety officer in-process (auth "
              "included), beside the best single hand-written SQL statement for the same "
              f"figures; median of {REPEAT} after a warm-up:", "",
              "| database | group_by | speakup s | hand-written s | speakup / hand-written "
              "| statements per request |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in results:
        for group_by, (ours, hand) in r.metrics.items():
            lines.append(f"| {r.database} | {group_by} | {ours:.2f} | {hand:.2f} | "
                         f"{ours / hand:.2f} | {r.statements[group_by]} |")
    lines += ["", "The huddle (`GET /units/{id}/huddle`), in-process, median of 20:", "",
              "| database | unit | ms |", "| --- | --- | ---: |"]
    for r in results:
        for unit, seconds in r.huddle.items():
            lines.append(f"| {r.database} | {unit} | {seconds * 1000:.0f} |")
    lines += ["", "Over HTTP with wrk (as in the table above), both apps on as many reports "
              "(the thin app's rows took "
              + ", ".join(f"{r.thin_load_s:.0f} s on {r.database}" for r in results) + "):",
              "", "| database | scenario | speakup req/s | p50 ms | thin req/s | p50 ms "
              "| speakup / thin |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        for scenario, (s, t) in r.http.items():
            ratio = f"{s.rate / t.rate:.2f}" if not (s.failures or t.failures) else \
                f"({s.rate / t.rate:.2f}) not counted: non-2xx answers"
            lines.append(f"| {r.database} | {scenario} | {s.rate:,.0f} | {s.p50_ms:.1f} | "
                         f"{t.rate:,.0f} | {t.p50_ms:.1f} | {ratio} |")
    lines += ["", "Peak memory (RSS):", "", "| database | process | MB |",
              "| --- | --- | ---: |"]
    for r in results:
        for what, mb in r.rss_mb.items():
            lines.append(f"| {r.database} | {what} | {mb:.0f} |")
    return "\n".join(lines) + "\n"


def write(section: str) -> None:
    existing = RESULTS.read_text() if RESULTS.exists() else ""
    kept = existing.split(HEADING)[0].rstrip("\n")
    RESULTS.write_text((kept + "\n\n" if kept else "") + section)


def main() -> None:
    parser = argparse.ArgumentParser(description="speakup at a million reports.")
    parser.add_argument("--postgres", metavar="URL",
                        default=os.environ.get("SPEAKUP_BENCH_DATABASE_URL") or None,
                        help="a PostgreSQL server to create scratch databases on "
                             "(default: $SPEAKUP_BENCH_DATABASE_URL)")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10,
                        help="how long wrk drives each figure (default: 10)")
    parser.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()
    if not 1_000 <= args.reports <= 10_000_000:
        parser.error("--reports must be between 1,000 and 10,000,000")
    if args.postgres_only and not args.postgres:
        parser.error("--postgres-only needs --postgres")
    started = datetime.now(UTC)
    results = [] if args.postgres_only else [
        one_database("SQLite", None, args.reports, args.seconds)]
    if args.postgres:
        results.append(one_database("PostgreSQL", args.postgres, args.reports, args.seconds))
    section = markdown(results, started)
    write(section)
    print()
    print(section)
    print(f"wrote {RESULTS.name} ({HEADING[3:]})")


if __name__ == "__main__":
    main()
