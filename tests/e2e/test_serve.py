"""End to end through real gunicorn: `speakup serve` with 2 workers on a temporary SQLite file."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.server import ADDRESS, USER_AGENT, Server, run_cli, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("e2e")
    with serve(f"sqlite:///{home / 'e2e.db'}", home, "--workers", "2",
               settings={"SPEAKUP_BODY_TIMEOUT_SECONDS": "2"}) as running:
        yield running


def test_submit_follow_up_and_read_over_http(server: Server):
    admin_id = run_cli(server.env, "create-user", "--email", "admin@e2e.test", "--name",
                       "E2E Admin", "--role", "admin", "--role", "safety_officer",
                       "--password-stdin", stdin="e2e-password-1\n").strip()
    status, tokens = server.call("POST", "/api/v1/auth/login",
                                 {"email": "admin@e2e.test", "password": "e2e-password-1"})
    assert status == 200
    admin = tokens["access_token"]
    status, unit = server.call("POST", "/api/v1/units", {"name": "Ward 9", "code": "W9"},
                                token=admin)
    assert status == 201

    status, created = server.call("POST", "/api/v1/reports", {
        "kind": "concern", "category": "equipment_environment", "unit_id": unit["id"],
        "description": "The hoist on ward 9 has a frayed strap.", "anonymous": True,
    }, token=admin)
    assert status == 201 and created["anonymous"] is True

    status, followup = server.call("POST", "/api/v1/followup",
                                   {"receipt_key": created["receipt_key"]})
    assert status == 200 and followup["report_id"] == created["id"]
    # Several reads so that both workers answer at least once with high probability.
    for _ in range(6):
        status, seen = server.call("GET", f"/api/v1/reports/{created['id']}",
                                   token=followup["access_token"])
        assert status == 200, seen
        assert seen["reference"] == created["reference"]
        assert "reporter" not in seen
    status, staff_view = server.call("GET", f"/api/v1/reports/{created['id']}", token=admin)
    assert status == 200 and "reporter" not in staff_view
    assert staff_view["routing"]["assignees"] == [{"id": admin_id, "name": "E2E Admin"}]

    status, _ = server.call("POST", "/api/v1/auth/logout", token=admin)
    assert status == 204
    for _ in range(6):  # revoked on every worker
        assert server.call("GET", "/api/v1/me", token=admin)[0] == 401
    assert server.call("POST", "/api/v1/auth/refresh", token=tokens["refresh_token"])[0] == 401


def test_logs_carry_no_client_address_or_user_agent(server: Server):
    server.call("GET", "/healthz")
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        # A malformed header makes gunicorn log "Invalid request from ip=<address>".
        raw.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n")
        raw.recv(1024)
    time.sleep(0.5)  # let gunicorn flush its log lines
    text = server.log.read_text()
    # Both logs are on and saw the requests, so the checks below mean something.
    assert '"GET /healthz"' in text and "Invalid request from ip=-" in text, text
    for secret in ("127.0.0.1 -", "ip=127.0.0.1", ADDRESS, USER_AGENT):
        assert secret not in text


def raw(server: Server, request: bytes, *, wait: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes; the status, headers and body of the answer."""
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                re.search(rb"(?i)content-length: *(\d+)", data).group(1)  # type: ignore[union-attr]
                if re.search(rb"(?i)content-length:", data) else 0):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /api/v1/reports?cursor=" + b"A" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /api/v1/units HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"GARBAGE\r\n\r\n", 400),
    (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
])
def test_what_gunicorn_refuses_is_problem_json(server: Server, request_bytes: bytes,
                                               status: int):
    code, headers, body = raw(server, request_bytes)
    assert code == status
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"]
    assert b"AAAA" not in body and b"aaaa" not in body  # nothing of the request echoed


def test_a_body_that_never_arrives_is_408_not_a_held_worker(server: Server):
    host, port = server.base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{")
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            answer += chunk
    assert time.monotonic() - started < 6  # SPEAKUP_BODY_TIMEOUT_SECONDS=2 here
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["status"] == 408


def test_options_is_204_with_allow(server: Server):
    code, headers, body = raw(server, b"OPTIONS /api/v1/units HTTP/1.1\r\nHost: x\r\n"
                              b"Connection: close\r\n\r\n")
    assert code == 204 and body == b""
    assert set(headers["allow"].split(", ")) >= {"GET", "POST", "OPTIONS"}


def test_access_log_escapes_paths_and_names_routes_not_ids(server: Server):
    server.call("GET", "/healthz")  # a line whose shape is checked below
    forged = '[02/Dec/2026:09:99:99 +0000] "POST /api/v1/auth/login" 200 767 150ms'
    quoted = urllib.parse.quote(forged)
    for path in (f"/api/v1/reports/x%0a{quoted}", f"/nowhere/x%0d%0a{quoted}",
                 "/nowhere/nul%00byte", "/api/v1/reports/SECRET-REPORT-ID",
                 "/api/v1/reportz/SECRET-TYPO-ID"):
        server.call("GET", path)
    time.sleep(0.5)  # let gunicorn flush its log lines
    text = server.log.read_text()
    assert "\x00" not in text
    lines = text.splitlines()
    assert not any(line.startswith("[02/Dec/2026:09:99:99") for line in lines), text
    assert not any("09:99:99" in line and "\\x0a" not in line and "\\x0d" not in line
                   for line in lines), text
    assert '"GET /api/v1/reports/<report_id>" 401' in text
    assert "SECRET-REPORT-ID" not in text and "SECRET-TYPO-ID" not in text
    assert '"GET /api/v1/reportz/..." 404' in text  # unrouted API paths: no ids either
    assert "/nowhere/nul\\x00byte" in text
    # Each access line is time, request, status and duration: no response size.
    access = [line for line in lines if '"GET /healthz"' in line]
    assert access and all(re.fullmatch(r'\[[^]]+\] "GET /healthz" 200 \d+ms', line)
                          for line in access), access
