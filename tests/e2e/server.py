"""Real `speakup serve` for the end-to-end tests and the benchmarks: start it on a database
of its own, wait until it is ready, call it, stop it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SPEAKUP = shutil.which("speakup", path=str(Path(sys.executable).parent)) or "speakup"
USER_AGENT = "E2E-Distinctive-Agent/4.2"
ADDRESS = "198.51.100.23"


@dataclass
class Server:
    base: str
    log: Path
    env: dict[str, str]

    def call(self, method: str, path: str, body: object | None = None,
             token: str | None = None, headers: dict[str, str] | None = None,
             timeout: float = 10) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("User-Agent", USER_AGENT)
        request.add_header("X-Forwarded-For", ADDRESS)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = subprocess.run([SPEAKUP, *args], input=stdin, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@contextmanager
def serve(database_url: str, home: Path, *options: str,
          settings: dict[str, str] | None = None) -> Iterator[Server]:
    """`speakup serve` as the README runs it (default workers) on ``database_url``, with
    ``SPEAKUP_*`` ``settings`` added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKUP_")}
    env.update(SPEAKUP_INSTANCE_PATH=str(home / "instance"), SPEAKUP_DATABASE_URL=database_url,
               SPEAKUP_RATELIMIT_INTAKE_PER_CLIENT="100000 per hour")
    env.update(settings or {})  # may override the defaults above
    run_cli(env, "db", "upgrade")
    log = home / "server.log"
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen([SPEAKUP, "serve", "--bind", f"127.0.0.1:{port}", *options],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", log, env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if server.call("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a server to stop (gunicorn finishes what it has in hand); kill it if it won't."""
    process.terminate()
    try:
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def scratch_database(base_url: str | None, home: Path) -> Iterator[str]:
    """A new, empty database beside the test database (SQLite file, or PostgreSQL)."""
    if not base_url:
        yield f"sqlite:///{home / 'slow.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"{url.database}_slow_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
