"""`make bench`: speakup beside the thinnest honest Flask + SQLAlchemy app, in one run.

For SQLite, and for PostgreSQL when a URL is given (``--postgres`` or
``SPEAKUP_BENCH_DATABASE_URL``), start on scratch databases, side by side:

- `speakup serve` (gevent workers, 2 of them), seeded with `speakup demo --reports 20000`, and
  driven only over HTTP: a staff token (the demo nurse) for named submissions to Ward 7, a
  leader's token (Ward 7's manager) for the inbox page and a report on it;
- the thin app (:mod:`bench.thin_app`, served by :mod:`bench.thin_server` under the same
  worker model and count) on its own 20,000 rows.

Then let wrk (Debian's package) drive each in turn over loopback, 16 connections and 2 threads,
for a bounded time after a short warm-up: named submission, anonymous submission, inbox page
(``limit=50``), report detail.  Reads run first, so that they see the seeded 20,000 reports.
For each figure: requests/s, p50 and p99 latency, answers that were not 2xx (with socket
errors), and the largest RSS of the app's gunicorn workers right after it.  A ratio counts
only when both apps answered every request with 2xx; otherwise it is marked.  The machine's
CPU time not spent by the app's workers, wrk or PostgreSQL is measured too: when something
else ran meanwhile (another process, or the hypervisor's other guests), the results say so.
Prints the table and writes ``bench/results.md``.

    python -m bench.run [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                        [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import thin_app
from bench.thin_server import SECRET_VARIABLE
from tests.e2e.server import SPEAKUP, free_port, scratch_database, serve, stop

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"
REPORTS = 20_000
WORKERS = 2
CONNECTIONS = 16
THREADS = 2
WARMUP_SECONDS = 2
WRK_TIMEOUT = "10s"  # a slower answer counts as a socket error, not in the latencies
NAMED, ANONYMOUS, INBOX, DETAIL = ("named submission", "anonymous submission", "inbox page",
                                   "report detail")
ACKNOWLEDGE, CLOSE = "acknowledge", "close with outcome"
SCENARIOS = (NAMED, ANONYMOUS, INBOX, DETAIL, ACKNOWLEDGE, CLOSE)  # as the table lists them
# Reads first, on the seeded rows alone; the workflow steps last, each request on another of
# the reports the submissions made (a step repeated on one report would measure a no-op).
RUN_ORDER = (INBOX, DETAIL, NAMED, ANONYMOUS, ACKNOWLEDGE, CLOSE)
EACH = "{id}"  # in a Call's path: a different open report per request
REPORTER = "nurse@demo.speakup.test"
LEADER = "ward7.manager@demo.speakup.test"
LEADER_UNIT = "DEMO-MED-W7"
DEMO_PASSWORD = "speak-up-safely"  # noqa: S105 - published with `speakup demo`
REPORT = {
    "kind": "concern",
    "category": "patient_safety",
    "title": "Bed alarm not heard at the desk",
    "description": "The bed alarm in bay 2 is not heard at the nurses' desk when the "
                   "corridor doors are shut, so a fall at night can go unnoticed for minutes.",
}
ACK_BODY: dict[str, Any] = {}
CLOSE_BODY = {"outcome": "actioned",
              "response": "The alarm is now relayed to the desk; checked at every hand-over."}
# The reports a step takes, newest first: acknowledging takes new ones; closing takes the
# ones the acknowledgements left behind first.  Speakup's are the leader's (assigned to them).
WAITING = {ACKNOWLEDGE: ("status = 'new'", ""),
           CLOSE: ("status IN ('new', 'acknowledged')", "status = 'new', ")}
SPEAKUP_OPEN = """
    SELECT r.id FROM reports r JOIN report_assignees a ON a.report_id = r.id AND a.active
    WHERE a.user_id = (SELECT id FROM users WHERE email = :email) AND r.{waiting}
    ORDER BY {first}r.created_at DESC, r.id DESC
"""
THIN_OPEN = "SELECT id FROM reports WHERE {waiting} ORDER BY {first}created_at DESC, id DESC"
BUSY_MACHINE = 0.15  # cores of other work during a figure that make it noisy
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class Call:
    """One request, as wrk repeats it."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    token: str | None = None


@dataclass(frozen=True)
class Target:
    """A running server: its base URL, gunicorn master and the request of each scenario."""

    name: str
    base: str
    master: int
    calls: dict[str, Call]
    database_url: str = ""
    # The reports a workflow step may take (SQL with {waiting} and {first}, its parameters).
    open_reports: tuple[str, dict[str, Any]] = ("", {})
    seed_seconds: float = 0.0  # how long its data took to load


@dataclass(frozen=True)
class Figures:
    requests: int
    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    failures: int  # answers that were not 2xx, and socket errors
    rss_mb: float = 0.0  # the largest RSS of the gunicorn workers after the run
    # Cores kept busy meanwhile by anything but the app's workers, wrk and PostgreSQL (other
    # processes, or the hypervisor's other guests): the figures are then noisy.
    others: float = 0.0


@dataclass(frozen=True)
class Row:
    database: str
    scenario: str
    speakup: Figures
    thin: Figures

    @property
    def counts(self) -> bool:
        return self.speakup.failures == 0 and self.thin.failures == 0

    @property
    def ratio(self) -> float:
        return self.speakup.rate / self.thin.rate if self.thin.rate else 0.0


# --- HTTP ------------------------------------------------------------------------------


def request(base: str, call: Call, timeout: float = 30) -> tuple[int, Any]:
    """Send ``call`` once; the status and the decoded JSON answer."""
    data = None if call.body is None else json.dumps(call.body).encode()
    req = urllib.request.Request(base + call.path, data=data, method=call.method)  # noqa: S310
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if call.token:
        req.add_header("Authorization", f"Bearer {call.token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 - loopback
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw) if raw else None
        except ValueError:
            return error.code, raw[:200].decode(errors="replace")


def expect(base: str, call: Call, what: str) -> Any:
    """The answer to ``call``, which must be 2xx: the bench never measures an error path."""
    status, answer = request(base, call)
    if not 200 <= status < 300:
        sys.exit(f"bench: {what} ({call.method} {base}{call.path}) answered {status}: {answer}")
    return answer


def wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            request(base, Call("GET", "/"), timeout=2)
            return
        except OSError:
            pass
        if process.poll() is not None:
            sys.exit(f"bench: the thin app did not start:\n{log.read_text()}")
        if time.monotonic() > deadline:
            sys.exit(f"bench: the thin app did not answer within 30 s:\n{log.read_text()}")
        time.sleep(0.2)


# --- processes -------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def serving_master(port: int) -> int:
    """The gunicorn master among this process's children that listens on ``port``."""
    bind = f"127.0.0.1:{port}".encode()
    for pid in children(os.getpid()):
        try:
            if bind in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return pid
        except OSError:
            continue
    sys.exit(f"bench: found no server process bound to port {port}")


def busy_cpu_seconds() -> float:
    """CPU time the machine has spent so far in processes, and taken by the hypervisor
    (/proc/stat).  Interrupts are left out: they mostly carry the bench's own loopback
    traffic, which no process is charged for."""
    # cpu  user nice system idle iowait irq softirq steal ...
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (
        int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + steal) / CLOCK_TICKS


def cpu_ticks(pid: int, *, reaped: bool = False) -> int:
    """CPU time (user and system, in ticks) ``pid`` has spent so far; with ``reaped``, with
    that of its children that have ended and been waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:  # gone meanwhile
        return 0
    # Fields 14 to 17 of proc(5): utime, stime, cutime, cstime.
    return sum(int(n) for n in fields[11:15 if reaped else 13])


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU time spent so far by the processes ``pids`` and their children, also those that
    came and went meanwhile (PostgreSQL's backends and autovacuum workers)."""
    return sum(cpu_ticks(pid, reaped=True) + sum(cpu_ticks(child) for child in children(pid))
               for pid in pids) / CLOCK_TICKS


def postgres_servers() -> list[int]:
    """The main process of each PostgreSQL server on this machine (none for SQLite runs)."""
    servers = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or (entry / "comm").read_text().strip() != "postgres":
                continue
            parent = (entry / "stat").read_text().rpartition(")")[2].split()[1]
            if Path(f"/proc/{parent}/comm").read_text().strip() != "postgres":
                servers.append(int(entry.name))
        except OSError:
            continue
    return servers


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_clock(ours: list[int]) -> tuple[float, float, float, float]:
    """Seconds so far: wall clock, the machine's busy CPU, the CPU of the process trees
    ``ours`` and of this process's finished children (wrk)."""
    return (time.monotonic(), busy_cpu_seconds(), tree_cpu_seconds(ours),
            children_cpu_seconds())


def worker_rss_mb(master: int) -> float:
    """The largest VmRSS of the gunicorn workers under ``master``, in MB (MiB)."""
    largest = 0
    for pid in children(master):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            largest = max(largest, int(match.group(1)))
    return largest / 1024


# --- the two apps ----------------------------------------------------------------------


@contextmanager
def speakup(url: str, home: Path, reports: int = REPORTS) -> Iterator[Target]:
    """`speakup serve` on ``url`` with the demo organisation and ``reports`` reports."""
    home.mkdir()
    # serve() raises the intake rate limit to 100,000 per hour (per worker, as counters live
    # in each worker's memory), so that the bench measures submissions, not 429s; a 429
    # would show as a non-2xx answer.  A token's lifetime changes no work: a day outlasts
    # any --seconds.
    settings = {"SPEAKUP_ACCESS_TOKEN_MINUTES": "1440"}
    with serve(url, home, "--workers", str(WORKERS), "--worker-class", "gevent",
               settings=settings) as server:
        seed_seconds = demo(server.env, reports)
        analyze(url)
        staff, leader = (expect(server.base, Call("POST", "/api/v1/auth/login",
                                                  {"email": email, "password": DEMO_PASSWORD}),
                                "sign-in")["access_token"]
                         for email in (REPORTER, LEADER))
        units = expect(server.base, Call("GET", "/api/v1/units?limit=200"), "units")["items"]
        unit_id = next(unit["id"] for unit in units if unit["code"] == LEADER_UNIT)
        inbox = Call("GET", "/api/v1/reports?limit=50", token=leader)
        page = expect(server.base, inbox, "the inbox page")["items"]
        if len(page) != 50:
            sys.exit(f"bench: the leader's inbox page has {len(page)} reports, not 50")
        body = {**REPORT, "unit_id": unit_id}
        yield Target("speakup", server.base, serving_master(int(server.base.rpartition(":")[2])),
                     {NAMED: Call("POST", "/api/v1/reports", body, staff),
                      ANONYMOUS: Call("POST", "/api/v1/reports", body),
                      INBOX: inbox,
                      DETAIL: Call("GET", f"/api/v1/reports/{page[0]['id']}", token=leader),
                      ACKNOWLEDGE: Call("POST", f"/api/v1/reports/{EACH}/acknowledge",
                                        ACK_BODY, leader),
                      CLOSE: Call("POST", f"/api/v1/reports/{EACH}/close", CLOSE_BODY,
                                  leader)},
                     database_url=url, open_reports=(SPEAKUP_OPEN, {"email": LEADER}),
                     seed_seconds=seed_seconds)


@contextmanager
def thin(url: str, home: Path, rows: int = REPORTS) -> Iterator[Target]:
    """The thin app under gunicorn on ``url``, with ``rows`` rows."""
    home.mkdir()
    started = time.perf_counter()
    thin_app.seed(url, rows)
    seed_seconds = time.perf_counter() - started
    analyze(url)  # as for speakup
    secret = secrets.token_urlsafe(48)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = home / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.thin_server", "--database-url", url,
             "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS)],
            env={**os.environ, SECRET_VARIABLE: secret}, cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT)
    try:
        wait_until_up(base, process, log)
        staff = thin_app.access_token(secret, "staff")
        leader = thin_app.access_token(secret, "leader")
        inbox = Call("GET", "/api/v1/reports?limit=50", token=leader)
        page = expect(base, inbox, "the thin app's page")["items"]
        body = {**REPORT, "unit_id": 1}
        yield Target("thin", base, process.pid,
                     {NAMED: Call("POST", "/api/v1/reports", body, staff),
                      ANONYMOUS: Call("POST", "/api/v1/reports", body),
                      INBOX: inbox,
                      DETAIL: Call("GET", f"/api/v1/reports/{page[0]['id']}", token=leader),
                      ACKNOWLEDGE: Call("POST", f"/api/v1/reports/{EACH}/acknowledge",
                                        ACK_BODY, leader),
                      CLOSE: Call("POST", f"/api/v1/reports/{EACH}/close", CLOSE_BODY,
                                  leader)},
                     database_url=url, open_reports=(THIN_OPEN, {}), seed_seconds=seed_seconds)
    finally:
        stop(process)


def demo(env: dict[str, str], reports: int) -> float:
    """`speakup demo --reports N` with its progress bar on the terminal; the seconds it took."""
    started = time.perf_counter()
    subprocess.run([SPEAKUP, "demo", "--reports", str(reports)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def analyze(url: str) -> None:
    """After a bulk load on PostgreSQL, what autovacuum does within minutes of one: planner
    statistics, and the visibility map that lets index-only scans skip the table (without
    it the huddle and the metrics read the table).  SQLite is left as speakup leaves it."""
    if not url.startswith("postgresql"):
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("VACUUM (ANALYZE)"))
    finally:
        engine.dispose()


def postgres_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar_one()).split()[0]
    finally:
        engine.dispose()


# --- wrk -------------------------------------------------------------------------------


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(call: Call) -> str:
    lines = [f"wrk.method = {lua_string(call.method)}"]
    if call.body is not None:
        # ensure_ascii: printable ASCII only, so the Lua string needs no other escapes.
        lines.append(f"wrk.body = {lua_string(json.dumps(call.body, ensure_ascii=True))}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    if call.token:
        lines.append(f'wrk.headers["Authorization"] = {lua_string("Bearer " + call.token)}')
    return "\n".join(lines) + "\n"


def milliseconds(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if match is None:
        raise ValueError(f"not a wrk duration: {value}")
    return float(match.group(1)) * UNITS[match.group(2)]


def wrk(url: str, script: Path, seconds: int) -> Figures:
    """What one wrk run measured."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s",
               f"--timeout={WRK_TIMEOUT}", "--latency", "-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    out = result.stdout
    if result.returncode != 0 or "Requests/sec" not in out:
        sys.exit(f"bench: wrk failed ({' '.join(command)}):\n{out}{result.stderr}")

    def field(pattern: str) -> str:
        match = re.search(pattern, out)
        if match is None:
            sys.exit(f"bench: unexpected wrk output ({pattern!r} not found):\n{out}")
        return match.group(1)

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                        r"timeout (\d+)", out)
    failures = (int(non_2xx.group(1)) if non_2xx else 0) + \
        (sum(int(n) for n in sockets.groups()) if sockets else 0)
    # The latency distribution's lines, e.g. "     99%   12.34ms".
    return Figures(requests=int(field(r"(\d+) requests in")),
                   rate=float(field(r"Requests/sec:\s+([\d.]+)")),
                   p50_ms=milliseconds(field(r"(?m)^\s+50%\s+(\S+)\s*$")),
                   p99_ms=milliseconds(field(r"(?m)^\s+99%\s+(\S+)\s*$")),
                   failures=failures)


def lua_paths(paths: list[str]) -> str:
    """wrk's request() over ``paths``: each thread takes every THREADS-th one, so no two
    requests of a run share a path until the list runs out."""
    listed = ",\n".join(lua_string(p) for p in paths)
    return (f"local paths = {{\n{listed}\n}}\n"
            "local threads = 0\n"
            "function setup(thread) thread:set('first', threads); threads = threads + 1 end\n"
            "function init(args) index = first end\n"
            "function request()\n"
            "  local path = paths[(index % #paths) + 1]\n"
            f"  index = index + {THREADS}\n"
            "  return wrk.format(nil, path)\n"
            "end\n")


def open_report_ids(target: Target, scenario: str) -> list[str]:
    waiting, first = WAITING[scenario]
    sql, params = target.open_reports
    engine = create_engine(target.database_url)
    try:
        with engine.connect() as connection:
            statement = text(sql.format(waiting=waiting, first=first))
            return list(connection.execute(statement, params).scalars())
    finally:
        engine.dispose()


def drive(target: Target, scenario: str, seconds: int, folder: Path) -> Figures:
    """wrk against one scenario of ``target``: a warm-up, then the measured run."""
    call = target.calls[scenario]
    script = folder / f"{target.name}-{scenario.replace(' ', '-')}.lua"
    warmup = folder / f"{target.name}-{scenario.replace(' ', '-')}-warmup.lua"
    if EACH in call.path:
        ids = open_report_ids(target, scenario)
        if len(ids) < 100:
            sys.exit(f"bench: {target.name} has only {len(ids)} open reports for {scenario}")
        expect(target.base, replace(call, path=call.path.replace(EACH, ids[0])),
               f"{target.name}'s {scenario}")
        paths = [call.path.replace(EACH, report_id) for report_id in ids[1:]]
        cut = min(len(paths) // 5, 2000)  # the warm-up's reports are not measured again
        warmup.write_text(lua_script(call) + lua_paths(paths[:cut]))
        script.write_text(lua_script(call) + lua_paths(paths[cut:]))
        url = target.base + "/"
    else:
        expect(target.base, call, f"{target.name}'s {scenario}")
        script.write_text(lua_script(call))
        warmup = script
        url = target.base + call.path
    wrk(url, warmup, WARMUP_SECONDS)
    ours = [target.master, *postgres_servers()]
    before = cpu_clock(ours)
    figures = wrk(url, script, seconds)
    elapsed, busy, served, driven = (
        now - then for now, then in zip(cpu_clock(ours), before, strict=True))
    return replace(figures, rss_mb=worker_rss_mb(target.master),
                   others=max(0.0, busy - served - driven) / elapsed)


# --- one database ----------------------------------------------------------------------


def scratch_base(base: str, name: str) -> str:
    """``base`` pointing at database ``name``: scratch_database names its copy after it,
    so speakup's and the thin app's scratch databases differ."""
    url = make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # speakup's driver, psycopg 3
    return url.set(database=name).render_as_string(hide_password=False)


def scratch_pair(stack: ExitStack, base: str | None, folder: Path, suffix: str
                 ) -> tuple[str, str]:
    """Scratch databases for speakup and the thin app, dropped when ``stack`` closes:
    SQLite files in ``folder``, or PostgreSQL databases on the server of ``base``."""
    speakup_url, thin_url = (
        stack.enter_context(scratch_database(
            None if base is None else scratch_base(base, f"{app}_{suffix}"), folder / app))
        for app in ("speakup", "thin"))
    return speakup_url, thin_url


def bench_database(label: str, base: str | None, seconds: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="speakup-bench-") as name, ExitStack() as stack:
        folder = Path(name)
        speakup_url, thin_url = scratch_pair(stack, base, folder, "bench")
        targets = (stack.enter_context(speakup(speakup_url, folder / "speakup")),
                   stack.enter_context(thin(thin_url, folder / "thin")))
        figures: dict[tuple[str, str], Figures] = {}
        for scenario in RUN_ORDER:
            for target in targets:
                result = drive(target, scenario, seconds, folder)
                figures[target.name, scenario] = result
                print(f"{label:<10} {scenario:<21} {target.name:<7} {result.rate:>8,.0f} req/s"
                      f"  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms"
                      f"  non-2xx {result.failures:>5}  worker RSS {result.rss_mb:.0f} MB"
                      f"  other load {result.others:.2f} cores",
                      flush=True)
    return [Row(label, scenario, figures["speakup", scenario], figures["thin", scenario])
            for scenario in SCENARIOS]


# --- the report ------------------------------------------------------------------------


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    cpus = len(os.sched_getaffinity(0))  # what nproc prints
    return f"{cpus} CPUs ({model.group(1).strip() if model else 'unknown model'}), " \
           f"{platform.system()} {platform.release()}"


def commit() -> str:
    def git(*args: str) -> str:
        # --no-optional-locks: reading the tree's state must not rewrite the index.
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        # Changed tracked files, as `git describe --dirty` counts them.
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty" if dirty else "")


def wrk_version() -> str:
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    words = (result.stdout or result.stderr).split()
    return words[1] if len(words) > 1 else "unknown"


def table(rows: list[Row]) -> str:
    lines = ["| database | scenario | speakup req/s | p50 ms | p99 ms | thin req/s | p50 ms "
             "| p99 ms | speakup / thin | speakup worker RSS MB | thin worker RSS MB |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        ratio = f"{row.ratio:.2f}" if row.counts else f"({row.ratio:.2f}) not counted"
        s, t = row.speakup, row.thin
        lines.append(f"| {row.database} | {row.scenario} | {s.rate:,.0f} | {s.p50_ms:.1f} "
                     f"| {s.p99_ms:.1f} | {t.rate:,.0f} | {t.p50_ms:.1f} | {t.p99_ms:.1f} "
                     f"| {ratio} | {s.rss_mb:.0f} | {t.rss_mb:.0f} |")
    return "\n".join(lines) + "\n"


def notes(rows: list[Row]) -> list[str]:
    """What makes a figure doubtful: failed requests, other work on the machine."""
    found = []
    for row in rows:
        apps = (("speakup", row.speakup), ("the thin app", row.thin))
        for name, figures in apps:
            if figures.failures:
                found.append(f"- {row.database}, {row.scenario}: {name} answered "
                             f"{figures.failures:,} of {figures.requests:,} requests with "
                             "something other than 2xx (or a socket error).")
        busy = [f"{figures.others:.2f} cores busy while {name} was measured"
                for name, figures in apps if figures.others > BUSY_MACHINE]
        if busy:
            found.append(f"- {row.database}, {row.scenario}: other work kept "
                         f"{' and '.join(busy)}, so its figures may be understated.")
    return found


def report(rows: list[Row], *, started: datetime, revision: str, seconds: int,
           versions: str) -> str:
    doubts = notes(rows) or ["- Both apps answered every request with 2xx, and no other "
                             "work used the CPU meanwhile."]
    return "\n".join([
        "# speakup beside a thin Flask + SQLAlchemy app",
        "",
        "Written by `make bench` (`python -m bench.run`, see bench/run.py); run it again "
        "rather than editing.",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- commit: {revision}",
        f"- software: {versions}",
        f"- load: wrk, {THREADS} threads, {CONNECTIONS} connections on loopback, {seconds} s "
        f"per figure after a {WARMUP_SECONDS} s warm-up; reads ran first",
        f"- servers: gunicorn, {WORKERS} gevent workers per app, one request per connection; "
        f"speakup seeded by `speakup demo --reports {REPORTS}`, the thin app with "
        f"{REPORTS:,} rows",
        "- named submission: the demo nurse to Ward 7; inbox page: Ward 7's manager, "
        "`limit=50`; report detail: the first report on that page",
        "- worker RSS: the largest VmRSS among the app's gunicorn workers after each figure",
        "",
        table(rows),
        *doubts,
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(
        description="speakup beside a thin Flask + SQLAlchemy app: SQLite, and PostgreSQL "
                    "when a URL is given.")
    parser.add_argument("--postgres", metavar="URL",
                        default=os.environ.get("SPEAKUP_BENCH_DATABASE_URL") or None,
                        help="a PostgreSQL server to create scratch databases on, e.g. "
                             "postgresql+psycopg://postgres@127.0.0.1:5432/postgres "
                             "(default: $SPEAKUP_BENCH_DATABASE_URL)")
    parser.add_argument("--seconds", type=int, default=10,
                        help="how long wrk drives each figure (default: 10)")
    parser.add_argument("--postgres-only", action="store_true",
                        help="skip SQLite (needs --postgres); results.md then has PostgreSQL only")
    args = parser.parse_args()
    if args.postgres_only and not args.postgres:
        parser.error("--postgres-only needs --postgres")
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is missing; install Debian's package: apt-get install wrk")
    started = datetime.now(UTC)
    revision = commit()
    versions = [f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    rows = [] if args.postgres_only else bench_database("SQLite", None, args.seconds)
    if args.postgres:
        # scratch_database's administration connections go to the "postgres" database too.
        versions.append(f"PostgreSQL {postgres_version(scratch_base(args.postgres, 'postgres'))}")
        rows += bench_database("PostgreSQL", args.postgres, args.seconds)
    versions.append(f"wrk {wrk_version()}")
    markdown = report(rows, started=started, revision=revision, seconds=args.seconds,
                      versions=", ".join(versions))
    RESULTS.write_text(markdown)
    print()
    print(table(rows), end="")
    print("\n".join(notes(rows)))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
