"""Slow and idle clients must not take the API down: real `speakup serve`, 200 slow connections.

A phone on weak ward Wi-Fi sends its request slowly; an attacker does it on purpose.  While 200
loopback connections sit idle, trickle a header every two seconds, or trickle a body, another
client reads /healthz and submits named reports.  Every one of its requests must be answered
(none waits for a worker to free up); the latencies are printed.  Run this file as a script to
see the figures (``python -m tests.e2e.test_slow_clients [DATABASE_URL]``).
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.server import Server, run_cli, scratch_database, serve

SLOW_CONNECTIONS = 200
MEASURE_SECONDS = 12.0
REQUEST_TIMEOUT = 5.0  # far below what a blocked worker would cost (30 s)


@dataclass
class SlowClients:
    """Keeps ``count`` slow connections open (reopening those the server closes)."""

    port: int
    count: int
    sockets: list[tuple[socket.socket, str, float]] = field(default_factory=list)
    reopened: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def _open(self, style: str) -> tuple[socket.socket, str, float]:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        if style == "head":
            sock.sendall(b"GET /api/v1/units HTTP/1.1\r\nHost: ward\r\n")
        elif style == "body":
            sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: ward\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
        sock.setblocking(False)
        return sock, style, time.monotonic() + 2

    def run(self) -> None:
        styles = ("idle", "head", "body")
        self.sockets = [self._open(styles[i % 3]) for i in range(self.count)]
        while not self.stop.wait(0.2):
            now = time.monotonic()
            for i, (sock, style, due) in enumerate(self.sockets):
                try:
                    if sock.recv(4096, socket.MSG_PEEK) == b"":
                        raise ConnectionResetError  # the server closed it: open another
                except BlockingIOError:
                    pass
                except OSError:
                    sock.close()
                    self.sockets[i] = self._open(style)
                    self.reopened += 1
                    continue
                if style != "idle" and now >= due:
                    try:
                        sock.send(b"X-Slow: 1\r\n" if style == "head" else b" ")
                    except OSError:
                        pass
                    self.sockets[i] = (sock, style, now + 2)
        for sock, _, _ in self.sockets:
            sock.close()


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def measure(server: Server) -> dict[str, list[float]]:
    """Read /healthz and submit named reports while 200 slow connections are open."""
    run_cli(server.env, "create-user", "--email", "nurse@slow.test", "--name", "Slow Nurse",
            "--role", "staff", "--role", "admin", "--password-stdin", stdin="slow-password-1\n")
    status, tokens = server.call("POST", "/api/v1/auth/login",
                                 {"email": "nurse@slow.test", "password": "slow-password-1"})
    assert status == 200, tokens
    token = tokens["access_token"]
    status, unit = server.call("POST", "/api/v1/units", {"name": "Ward 3", "code": "W3"},
                               token=token)
    assert status == 201, unit
    body = {"kind": "concern", "category": "patient_safety", "unit_id": unit["id"],
            "description": "The bed alarm in bay 2 does not sound at the nurses' station."}
    port = int(server.base.rsplit(":", 1)[1])
    slow = SlowClients(port, SLOW_CONNECTIONS)
    thread = threading.Thread(target=slow.run, daemon=True)
    thread.start()
    times: dict[str, list[float]] = {"healthz": [], "submit": []}
    try:
        time.sleep(3)  # every slow connection is open and has started trickling
        assert len(slow.sockets) == SLOW_CONNECTIONS
        end = time.monotonic() + MEASURE_SECONDS
        while time.monotonic() < end:
            started = time.perf_counter()
            status, _ = server.call("GET", "/healthz", timeout=REQUEST_TIMEOUT)
            times["healthz"].append(time.perf_counter() - started)
            assert status == 200
            started = time.perf_counter()
            status, created = server.call("POST", "/api/v1/reports", body, token=token,
                                          timeout=REQUEST_TIMEOUT)
            times["submit"].append(time.perf_counter() - started)
            assert status == 201, created
            time.sleep(0.05)
    finally:
        slow.stop.set()
        thread.join(timeout=10)
    return times


def report(label: str, times: dict[str, list[float]]) -> str:
    return "; ".join(
        f"{label} {name}: n={len(values)} median={statistics.median(values) * 1000:.0f} ms "
        f"p99={p99(values) * 1000:.0f} ms max={max(values) * 1000:.0f} ms"
        for name, values in times.items())


def test_slow_clients_do_not_starve_health_or_submissions(tmp_path: Path):
    with scratch_database(os.environ.get("SPEAKUP_TEST_DATABASE_URL"), tmp_path) as url, \
            serve(url, tmp_path) as server:
        times = measure(server)
    print("\n" + report(url.split(":", 1)[0], times))
    # Every request was answered well inside the timeout, with room to spare.
    assert len(times["submit"]) >= 10
    assert max(max(values) for values in times.values()) < REQUEST_TIMEOUT


if __name__ == "__main__":  # figures for the README and the issue notes
    import tempfile

    with tempfile.TemporaryDirectory() as folder, \
            scratch_database(sys.argv[1] if len(sys.argv) > 1 else None, Path(folder)) as url, \
            serve(url, Path(folder)) as server:
        print(report(url.split(":", 1)[0], measure(server)))
