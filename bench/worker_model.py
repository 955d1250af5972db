"""Submission throughput of `speakup serve` per gunicorn worker model, in one run.

For each database (SQLite, and PostgreSQL when a URL is given) and each worker model (gevent,
the default, and sync), start `speakup serve --workers 2`, then let wrk (Debian's package) send
named `POST /api/v1/reports` over 16 connections for 10 s.  Prints requests/s, p99 latency
and the ratio of gevent to sync in the same run.

    python -m bench.worker_model [postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.e2e.server import run_cli, scratch_database, serve

LUA = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""


def run(url: str, home: Path, worker_class: str, seconds: int) -> tuple[float, str]:
    with serve(url, home, "--workers", "2", "--worker-class", worker_class) as server:
        run_cli(server.env, "create-user", "--email", f"{worker_class}@bench.test", "--name",
                "Bench Nurse", "--role", "staff", "--role", "admin", "--password-stdin",
                stdin="bench-password-1\n")
        _, tokens = server.call("POST", "/api/v1/auth/login",
                                {"email": f"{worker_class}@bench.test",
                                 "password": "bench-password-1"})
        token = tokens["access_token"]
        _, unit = server.call("POST", "/api/v1/units",
                              {"name": f"Ward {worker_class}", "code": worker_class[:4].upper()},
                              token=token)
        body = json.dumps({"kind": "concern", "category": "patient_safety",
                           "unit_id": unit["id"],
                           "description": "The bed alarm in bay 2 is not heard at the desk."})
        script = home / f"{worker_class}.lua"
        script.write_text(LUA.format(body=body, token=token))
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s",
                              str(script), f"{server.base}/api/v1/reports"],
                             capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        p99 += f" ({errors.group(1)} non-2xx)"
    return rate, p99


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    databases = [None, *sys.argv[1:2]]
    for base in databases:
        for attempt in range(2):
            figures = {}
            for worker_class in ("sync", "gevent"):
                with tempfile.TemporaryDirectory() as folder, \
                        scratch_database(base, Path(folder)) as url:
                    figures[worker_class] = run(url, Path(folder), worker_class, 10)
            name = "postgresql" if base else "sqlite"
            (sync_rate, sync_p99), (gevent_rate, gevent_p99) = figures["sync"], figures["gevent"]
            print(f"{name} run {attempt + 1}: sync {sync_rate:.0f} req/s (p99 {sync_p99}), "
                  f"gevent {gevent_rate:.0f} req/s (p99 {gevent_p99}): "
                  f"{gevent_rate / sync_rate:.2f}x", flush=True)


if __name__ == "__main__":
    main()
