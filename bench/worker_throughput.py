"""How many events per second one ``speakup worker`` delivers to a local webhook receiver.

    python -m bench.worker_throughput [--events 2000] [--postgres URL]

Makes a scratch database (a SQLite file, or ``speakup_worker_bench`` on the PostgreSQL
server given), migrates it, seeds the demo organisation, registers one webhook pointing at a
receiver on loopback (a threaded HTTP server answering 204 at once), writes ``--events``
outbox events as the workflow would, then runs one worker (the real ``speakup.worker.Worker``,
in this process) until every event is delivered, for each ``--concurrency`` given.  Prints
events per second; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, func, insert, select, text
from sqlalchemy.engine import make_url

from speakup.db import table
from speakup.models import Delivery, DeliveryAttempt, OutboxEvent, Report
from speakup.runtime import Runtime
from speakup.services.core.ids import new_id
from speakup.services.notify import webhooks
from speakup.services.notify.delivery import Options
from speakup.settings import Settings
from speakup.worker import Worker

NAME = "speakup_worker_bench"
SPEAKUP = str(Path(sys.executable).parent / "speakup")
BENCH_SECRET = "a-bench-secret-of-some-length"  # noqa: S105 - a scratch database's


class _Accept(BaseHTTPRequestHandler):
    received = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with _Accept.lock:
            _Accept.received += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 refuses connections from 8 senders at once
    daemon_threads = True


def scratch(args: argparse.Namespace, home: Path) -> str:
    if not args.postgres:
        return f"sqlite:///{home / 'bench.db'}"
    url = make_url(args.postgres).set(drivername="postgresql+psycopg")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{NAME}"'))
    admin.dispose()
    return url.set(database=NAME).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", metavar="URL", help="a server to make a scratch db on")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="speakup-worker-bench-"))
    url = scratch(args, home)
    env = {**os.environ, "SPEAKUP_DATABASE_URL": url, "SPEAKUP_INSTANCE_PATH": str(home)}
    subprocess.run([SPEAKUP, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([SPEAKUP, "demo", "--reports", "10"], env=env, check=True,
                   capture_output=True)
    server = _Server(("127.0.0.1", 0), _Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runtime = Runtime.build(Settings(database_url=url, secret_key="bench-" * 8,
                                     instance_path=home))
    db = runtime.database
    receiver = f"http://127.0.0.1:{server.server_address[1]}/"
    webhooks.create(db, clock=runtime.clock, url=receiver, secret=BENCH_SECRET)
    with db.engine.connect() as connection:
        report_id = connection.execute(select(Report.id).limit(1)).scalar_one()
    print(f"{db.engine.dialect.name}, {args.events:,} events, batch {args.batch}, one worker")
    print(f"{'concurrency':>11} {'events/s':>9} {'seconds':>8}")
    for concurrency in args.concurrency:
        with db.engine.begin() as connection:
            for model in (DeliveryAttempt, Delivery, OutboxEvent):
                connection.execute(delete(table(model)))
            now = datetime.now(UTC)
            connection.execute(insert(table(OutboxEvent)), [
                {"id": new_id(), "type": "report.message", "occurred_at": now,
                 "report_id": report_id, "status": "in_progress", "notify_user_ids": [],
                 "notify_assignees": False, "dispatched": False}
                for _ in range(args.events)])
        worker = Worker(runtime, Options(batch=args.batch, concurrency=concurrency),
                        escalate_every=10**9)
        _Accept.received = 0
        started = time.perf_counter()
        while worker.round().busy:
            pass
        elapsed = time.perf_counter() - started
        with db.engine.connect() as connection:
            delivered = connection.execute(select(func.count()).select_from(Delivery)
                                           .where(Delivery.state == "delivered")).scalar_one()
        print(f"{concurrency:>11} {delivered / elapsed:>9.0f} {elapsed:>8.2f}"
              + ("" if delivered == args.events == _Accept.received
                 else f"  (delivered {delivered}, received {_Accept.received})"), flush=True)
    runtime.close()
    server.shutdown()


if __name__ == "__main__":
    main()
