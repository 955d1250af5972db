"""The inbox at scale: one page's latency with a million reports (a script, not a test).

    python -m bench.inbox_scale --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python -m bench.inbox_scale --sqlite /tmp/speakup-scale.db --reports 200000

It makes (or, with ``--keep``, reuses) a database named ``speakup_scale`` on the server (or
the SQLite file), migrates it, fills it with ``speakup demo --reports N`` (the progress bar is
the demo's), runs ``ANALYZE``, and then asks speakup in-process (the Flask app, no HTTP) for
inbox pages as a ward leader, a department leader and a safety officer, unfiltered and with
the contract's filters, and for a page deep in the list by its cursor.  For each it prints
the median and p90 of 30 timed requests (after 5 untimed), the statements per request, and
with ``--explain`` PostgreSQL's plan of the page's main query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from bench.run import analyze
from speakup import create_app
from speakup.demo import DEMO_PASSWORD
from speakup.settings import Settings

NAME = "speakup_scale"
TIMED, UNTIMED = 30, 5
WARD_LEADER = "ward7.manager@demo.speakup.test"
DEPARTMENT_LEADER = "medicine.lead@demo.speakup.test"
OFFICER = "safety@demo.speakup.test"
SPEAKUP = str(Path(sys.executable).parent / "speakup")


def database_url(args: argparse.Namespace) -> str:
    if args.sqlite:
        return f"sqlite:///{Path(args.sqlite).resolve()}"
    url = make_url(args.postgres)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                        {"n": NAME}).first()
            if exists and not args.keep:
                connection.execute(text(f'DROP DATABASE "{NAME}" WITH (FORCE)'))
            if not exists or not args.keep:
                connection.execute(text(f'CREATE DATABASE "{NAME}"'))
    finally:
        admin.dispose()
    return url.set(database=NAME).render_as_string(hide_password=False)


def report_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            has_table = connection.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'reports'"
                if not url.startswith("sqlite") else
                "SELECT count(*) FROM sqlite_master WHERE name = 'reports'")).scalar_one()
            if not has_table:
                return 0
            return int(connection.execute(text("SELECT count(*) FROM reports")).scalar_one())
    finally:
        engine.dispose()


def fill(url: str, reports: int, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKUP_")}
    env.update(SPEAKUP_DATABASE_URL=url, SPEAKUP_INSTANCE_PATH=str(home))
    subprocess.run([SPEAKUP, "db", "upgrade"], env=env, check=True)
    started = time.monotonic()
    subprocess.run([SPEAKUP, "demo", "--reports", str(reports)], env=env, check=True)
    print(f"demo: {reports:,} reports in {time.monotonic() - started:.0f} s", flush=True)
    analyze(url)


def measure(call: Callable[[], Any]) -> tuple[float, float]:
    for _ in range(UNTIMED):
        call()
    times = []
    for _ in range(TIMED):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--postgres", metavar="URL", help="a server to make speakup_scale on")
    where.add_argument("--sqlite", metavar="FILE", help="a SQLite file")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true",
                        help="reuse the database if it has the reports already")
    parser.add_argument("--explain", action="store_true",
                        help="print PostgreSQL's plan of each page's main query")
    args = parser.parse_args()
    url = database_url(args)
    home = Path(tempfile.gettempdir()) / "speakup-scale-instance"
    home.mkdir(mode=0o700, exist_ok=True)
    have = report_count(url)
    if have < args.reports:
        if have:
            sys.exit(f"{url} has {have:,} reports; drop it (run without --keep)")
        fill(url, args.reports, home)
    settings = Settings(env="development", database_url=url,
                        secret_key="scale-" * 8, instance_path=home)
    app = create_app(settings)
    client = app.test_client()
    statements: list[str] = []
    engine = app.extensions["speakup"].database.engine
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cu, statement, params, *_a: statements.append(statement))

    def login(email: str) -> dict[str, str]:
        answer = client.post("/api/v1/auth/login",
                             json={"email": email, "password": DEMO_PASSWORD})
        body: Any = answer.json
        assert answer.status_code == 200, body
        return {"Authorization": f"Bearer {body['access_token']}"}

    ward, department, officer = login(WARD_LEADER), login(DEPARTMENT_LEADER), login(OFFICER)
    deep = "/api/v1/reports?limit=50"
    cursor = None
    for _ in range(20):  # the 21st page of the officer's list
        page: Any = client.get(deep + (f"&cursor={cursor}" if cursor else ""),
                               headers=officer).json
        cursor = page["next_cursor"]
    cases = [
        ("ward leader, first page", "/api/v1/reports?limit=50", ward),
        ("ward leader, status=new", "/api/v1/reports?limit=50&status=new", ward),
        ("ward leader, overdue=true", "/api/v1/reports?limit=50&overdue=true", ward),
        ("department leader, first page", "/api/v1/reports?limit=50", department),
        ("safety officer, first page", "/api/v1/reports?limit=50", officer),
        ("safety officer, page 21", f"{deep}&cursor={cursor}", officer),
        ("safety officer, kind=opportunity", "/api/v1/reports?limit=50&kind=opportunity",
         officer),
    ]
    print(f"\n{report_count(url):,} reports, {engine.dialect.name}")
    print(f"{'inbox page':<36} {'median ms':>10} {'p90 ms':>8} {'items':>6} {'statements':>11}")
    for name, path, headers in cases:
        answer = client.get(path, headers=headers)
        items: Any = answer.json
        assert answer.status_code == 200, items
        statements.clear()
        client.get(path, headers=headers)
        # The page's own query: the one statement with a LIMIT.
        count, main = len(statements), next(s for s in statements if "LIMIT" in s)
        median, p90 = measure(partial(client.get, path, headers=headers))
        print(f"{name:<36} {median:>10.1f} {p90:>8.1f} {len(items['items']):>6} "
              f"{count:>11}", flush=True)
        if args.explain and engine.dialect.name == "postgresql":
            explain(engine, main, path, headers, client, statements)


def explain(engine: Any, main: str, path: str, headers: dict[str, str], client: Any,
            statements: list[str]) -> None:
    """PostgreSQL's plan of the page's main query, with its parameters as sent."""
    captured: list[tuple[str, Any]] = []

    def keep(_c: Any, _cu: Any, statement: str, params: Any, *_a: Any) -> None:
        if statement == main:
            captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", keep)
    client.get(path, headers=headers)
    event.remove(engine, "before_cursor_execute", keep)
    statement, params = captured[0]
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        print("    " + "\n    ".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
