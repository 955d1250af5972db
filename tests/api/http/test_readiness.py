"""A database that hangs, is read-only or is not migrated: /readyz says so within two seconds,
and requests get a 503 problem with Retry-After within a few, never a worker-long hang."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import make_url

from speakup import create_app, migrate
from speakup.db import Database
from speakup.services import org
from speakup.services.core.clock import SystemClock
from speakup.settings import Settings
from tests.support import assert_problem, report_body

SECRET = "test-secret-" * 4


def make_app(url: str, instance: Path) -> Flask:
    return create_app(Settings(env="test", database_url=url, secret_key=SECRET,
                               instance_path=instance, argon2_time_cost=1,
                               argon2_memory_kib=8))


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture()
def stalling_server() -> Iterator[int]:
    """A loopback "PostgreSQL" that lets anyone in (no TLS, no password), then never answers
    a query: a wedged server or connection pooler."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def handshake(connection: socket.socket) -> None:
        while True:
            length = int.from_bytes(connection.recv(4), "big")
            body = connection.recv(length - 4)
            if body[:4] in (SSL_REQUEST, GSS_REQUEST):
                connection.sendall(b"N")
                continue
            # AuthenticationOk, then ReadyForQuery (idle)
            connection.sendall(b"R" + (8).to_bytes(4, "big") + (0).to_bytes(4, "big")
                               + b"Z" + (5).to_bytes(4, "big") + b"I")
            return

    def serve() -> None:
        while not stop.is_set():
            try:
                connection = listener.accept()[0]
            except TimeoutError:
                continue
            held.append(connection)
            handshake(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


SSL_REQUEST = (80877103).to_bytes(4, "big")
GSS_REQUEST = (80877104).to_bytes(4, "big")


def test_readyz_answers_503_within_2s_when_postgresql_accepts_and_never_answers(
    silent_server: int, tmp_path: Path
):
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/x", tmp_path)
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert time.monotonic() - started < 2.0
    body = assert_problem(response, 503)
    assert "not reachable" in body["detail"]
    assert int(response.headers["Retry-After"]) > 0
    app.extensions["speakup"].close()


def test_readyz_answers_503_within_2s_when_postgresql_hangs_after_the_handshake(
    stalling_server: int, tmp_path: Path
):
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{stalling_server}/x", tmp_path)
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert time.monotonic() - started < 2.0
    assert "not reachable" in assert_problem(response, 503)["detail"]
    app.extensions["speakup"].close()


def test_a_report_gets_503_within_seconds_when_postgresql_never_answers(
    silent_server: int, tmp_path: Path
):
    app = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/x", tmp_path)
    started = time.monotonic()
    response = app.test_client().post("/api/v1/reports", json=report_body("u-1"))
    assert time.monotonic() - started < 5.0
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    app.extensions["speakup"].close()


def test_the_readiness_probe_keeps_its_deadline_under_gevent(silent_server: int):
    """gevent's workers patch select and sockets; the probe's waits must still end on time."""
    pytest.importorskip("gevent")
    script = f"""
from gevent import monkey; monkey.patch_all()
import time, gevent
from speakup.db import Database
from speakup import readiness
ticks = []
ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.1)) for _ in range(100)])
started = time.monotonic()
result = readiness.check(Database("postgresql+psycopg://postgres@127.0.0.1:{silent_server}/x"))
elapsed = time.monotonic() - started
assert result is readiness.UNREACHABLE, result
assert elapsed < 2.0, elapsed
assert len(ticks) >= 5, ticks  # other greenlets ran while the probe waited
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)


# --- SQLite: read-only, made read-only, not migrated ----------------------------------------


@pytest.fixture()
def sqlite_file(tmp_path: Path) -> tuple[Path, str]:
    """A migrated SQLite file of its own (whatever database the suite runs on), with a unit."""
    path = tmp_path / "own.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    database = Database(url)
    unit = org.create_unit(database, clock=SystemClock(), name="Ward 1", code="W1")
    database.dispose()
    return path, unit.id


def test_readyz_on_a_read_only_sqlite_database_says_so_and_writes_get_503(
    sqlite_file: tuple[Path, str], tmp_path: Path
):
    path, unit_id = sqlite_file
    app = make_app(f"sqlite:///file:{path}?mode=ro&uri=true", tmp_path)
    client = app.test_client()
    body = assert_problem(client.get("/readyz"), 503)
    assert "read-only" in body["detail"]
    response = client.post("/api/v1/reports", json=report_body(unit_id))
    assert_problem(response, 503)
    assert response.headers["Retry-After"]
    assert client.get("/api/v1/categories").status_code == 200  # reading still works
    app.extensions["speakup"].close()


def _make_read_only(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o444)
        return
    # Root ignores permission bits; an immutable file refuses even root.
    chattr = shutil.which("chattr")
    done = chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True)
    if not done or done.returncode != 0:
        pytest.skip("running as root where chattr +i is not available")


def _make_writable(path: Path) -> None:
    if os.geteuid() == 0 and (chattr := shutil.which("chattr")):
        subprocess.run([chattr, "-i", str(path)], check=False)
    path.chmod(0o644)


def test_readyz_notices_a_sqlite_file_made_read_only_while_running(
    sqlite_file: tuple[Path, str], tmp_path: Path
):
    path, unit_id = sqlite_file
    app = make_app(f"sqlite:///{path}", tmp_path)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/v1/reports", json=report_body(unit_id)).status_code == 201
    _make_read_only(path)
    try:
        response = client.get("/readyz")
        body = assert_problem(response, 503)
        assert "read-only" in body["detail"] and response.headers["Retry-After"]
    finally:
        _make_writable(path)
    assert client.get("/readyz").status_code == 200
    app.extensions["speakup"].close()


def test_readyz_on_an_unmigrated_sqlite_file_says_run_the_migrations(tmp_path: Path):
    empty = tmp_path / "empty.db"
    empty.touch()
    app = make_app(f"sqlite:///{empty}", tmp_path)
    body = assert_problem(app.test_client().get("/readyz"), 503)
    assert "speakup db upgrade" in body["detail"]
    app.extensions["speakup"].close()


def test_readyz_never_creates_a_missing_sqlite_file(tmp_path: Path):
    missing = tmp_path / "missing.db"
    app = make_app(f"sqlite:///{missing}", tmp_path)
    assert_problem(app.test_client().get("/readyz"), 503)
    assert not missing.exists()
    app.extensions["speakup"].close()


# --- PostgreSQL: read-only and not migrated (when the suite runs on PostgreSQL) --------------


def _postgres_url(database: Database, options: str) -> str:
    if database.is_sqlite:
        pytest.skip("needs SPEAKUP_TEST_DATABASE_URL (PostgreSQL)")
    url = make_url(database.url).update_query_dict({"options": options})
    return url.render_as_string(hide_password=False)


def test_readyz_on_a_read_only_postgresql_database_says_so_and_writes_get_503(
    database: Database, hospital, tmp_path: Path
):
    app = make_app(_postgres_url(database, "-c default_transaction_read_only=on"), tmp_path)
    client = app.test_client()
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 2.0
    body = assert_problem(response, 503)
    assert "read-only" in body["detail"] and response.headers["Retry-After"]
    response = client.post("/api/v1/reports", json=report_body(hospital.ward))
    assert_problem(response, 503)
    assert response.headers["Retry-After"]
    app.extensions["speakup"].close()


def test_readyz_on_an_unmigrated_postgresql_schema_says_run_the_migrations(
    database: Database, tmp_path: Path
):
    app = make_app(_postgres_url(database, "-c search_path=no_such_schema"), tmp_path)
    body = assert_problem(app.test_client().get("/readyz"), 503)
    assert "speakup db upgrade" in body["detail"]
    app.extensions["speakup"].close()
