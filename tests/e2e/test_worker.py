"""`speakup worker` as a real process: killed with SIGKILL mid-batch it loses no event, and
SIGTERM lets it finish the batch in hand; two workers on PostgreSQL never deliver one event
at the same time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from speakup.db import Database, table
from speakup.models import Delivery, DeliveryAttempt, OutboxEvent
from speakup.runtime import Runtime
from speakup.services.core.clock import SettableClock
from speakup.services.core.ids import new_id
from speakup.services.notify.delivery import Options
from speakup.settings import Settings
from speakup.worker import Worker
from tests.api.notify.receivers import Receiver, serving
from tests.e2e.server import SPEAKUP
from tests.support import Login, Org, report_body

SECRET = "a-shared-secret-of-some-length"


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextmanager
def worker_process(settings: Settings, home: Path, log: str, *options: str
                   ) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKUP_")}
    env.update(SPEAKUP_DATABASE_URL=settings.database_url,
               SPEAKUP_SECRET_KEY=settings.secret_key, SPEAKUP_INSTANCE_PATH=str(home))
    with (home / log).open("w") as out:
        process = subprocess.Popen(
            [SPEAKUP, "worker", "--poll", "0.05", "--escalate-every", "86400", *options],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def submit_with_webhook(client: FlaskClient, hospital: Org, login: Login,
                        clock: SettableClock, url: str) -> None:
    clock.set(datetime.now(UTC))  # the worker runs on the real clock
    assert client.post("/api/v1/webhooks", headers=login("admin"),
                       json={"url": url, "secret": SECRET, "events": ["report.routed"]}
                       ).status_code == 201
    assert client.post("/api/v1/reports", json=report_body(hospital.ward),
                       headers=login("nurse")).status_code == 201


def test_a_worker_killed_mid_batch_loses_no_event(
        client: FlaskClient, hospital: Org, login: Login, clock: SettableClock,
        settings: Settings, session: Session, tmp_path: Path):
    # The first request hangs (the worker is killed while it waits); the next is accepted.
    with serving(Receiver(answer=lambda n: None if n == 1 else 204)) as receiver:
        submit_with_webhook(client, hospital, login, clock, receiver.url)
        options = ("--lease", "2", "--timeout", "30")
        with worker_process(settings, tmp_path, "first.log", *options) as first:
            wait_for(lambda: len(receiver.received) == 1, 30, "the first delivery")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        with worker_process(settings, tmp_path, "second.log", *options) as second:
            wait_for(lambda: len(receiver.received) == 2, 30, "the delivery after the lease")
            wait_for(lambda: _states(session) == ["delivered"], 10, "the delivery's record")
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
    first_body, second_body = (json.loads(r.body) for r in receiver.received)
    assert first_body["id"] == second_body["id"], "a duplicate carries the same event id"
    assert first_body == second_body
    session.rollback()
    attempts = session.scalars(select(DeliveryAttempt)).all()
    assert [(a.attempt, a.state) for a in attempts] == [(1, "delivered")]


def test_sigterm_finishes_the_batch_in_hand(
        client: FlaskClient, hospital: Org, login: Login, clock: SettableClock,
        settings: Settings, session: Session, tmp_path: Path):
    with serving(Receiver(delay=1.5)) as receiver:
        submit_with_webhook(client, hospital, login, clock, receiver.url)
        with worker_process(settings, tmp_path, "worker.log") as running:
            wait_for(lambda: len(receiver.received) == 1, 30, "the delivery to start")
            running.send_signal(signal.SIGTERM)  # while the receiver takes its time
            assert running.wait(15) == 0
            log = (tmp_path / "worker.log").read_text()
    assert receiver.received[0].ended, "the worker waited for the answer"
    assert _states(session) == ["delivered"], log
    assert "stopped; delivered 1" in log


def _states(session: Session) -> list[str]:
    session.rollback()
    return list(session.scalars(select(Delivery.state)))


def test_two_workers_never_deliver_the_same_event_at_the_same_time(
        client: FlaskClient, hospital: Org, login: Login, clock: SettableClock,
        runtime: Runtime, database: Database, session: Session):
    if database.is_sqlite:
        pytest.skip("PostgreSQL: several workers share one database there")
    with serving(Receiver(delay=0.005)) as receiver:
        submit_with_webhook(client, hospital, login, clock, receiver.url)
        report_id = session.scalars(select(OutboxEvent.report_id)).one()
        with database.engine.begin() as connection:
            connection.execute(insert(table(OutboxEvent)), [
                {"id": new_id(), "type": "report.routed", "occurred_at": clock.now(),
                 "report_id": report_id, "status": "new", "notify_user_ids": [],
                 "notify_assignees": False, "dispatched": False} for _ in range(199)])
        runtimes = [Runtime.build(runtime.settings, clock=clock) for _ in range(2)]
        workers = [Worker(built, Options(batch=10, concurrency=2, timeout=10),
                          escalate_every=10**9) for built in runtimes]
        start = threading.Barrier(2)

        def run(work: Worker) -> None:
            start.wait()
            idle = 0
            while idle < 3:
                idle = 0 if work.round().busy else idle + 1

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for built in runtimes:
            built.close()
    ids = [json.loads(r.body)["id"] for r in receiver.received]
    assert len(ids) == 200 and len(set(ids)) == 200, "each event delivered once, by one worker"
    assert _states(session) == ["delivered"] * 200
