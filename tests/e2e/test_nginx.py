"""deploy/nginx.conf as shipped, in front of real `speakup serve`: TLS, buffered requests, the
client's address passed on for rate limits, and problem+json for what nginx answers itself.
Only ports, certificate and log paths are swapped.  Needs Debian's nginx and openssl."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import free_port, serve
from tests.support import fresh_window

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists() or shutil.which("openssl") is None,
    reason="needs nginx and openssl (apt-get install nginx-light openssl)")


def configure(home: Path, upstream: int, port: int) -> Path:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(home / "key.pem"),
                    "-out", str(home / "cert.pem")], check=True, capture_output=True)
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
                     ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
                     ("/etc/ssl/speakup/fullchain.pem", str(home / "cert.pem")),
                     ("/etc/ssl/speakup/privkey.pem", str(home / "key.pem")),
                     ("/var/log/nginx/speakup-error.log", str(home / "nginx-error.log"))):
        assert old in site, old
        site = site.replace(old, new)
    (home / "speakup.conf").write_text(site)
    main = home / "nginx.conf"
    main.write_text(f"""daemon off;
pid {home / 'nginx.pid'};
error_log {home / 'nginx-error.log'} crit;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {home / 'body'};
    proxy_temp_path {home / 'proxy'};
    include {home / 'speakup.conf'};
}}
""")
    return main


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    home = tmp_path_factory.mktemp("nginx")
    settings = {"SPEAKUP_PROXY_COUNT": "1", "SPEAKUP_RATELIMIT_LOGIN_PER_CLIENT": "3 per minute"}
    with serve(f"sqlite:///{home / 'speakup.db'}", home, "--workers", "2",
               settings=settings) as server:
        upstream = int(server.base.rsplit(":", 1)[1])
        port = free_port()
        config = configure(home, upstream, port)
        process = subprocess.Popen([NGINX, "-c", str(config), "-p", str(home)],
                                   stderr=subprocess.PIPE)
        try:
            for _ in range(50):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
                    time.sleep(0.1)
            yield port, server.log
        finally:
            process.terminate()
            process.wait(timeout=10)


def https(port: int, request: bytes, *, pause_after: int | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=15) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as sock:
        if pause_after is None:
            sock.sendall(request)
        else:  # a slow phone: part of the body, a pause, then the rest
            sock.sendall(request[:pause_after])
            time.sleep(2)
            sock.sendall(request[pause_after:])
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def post(path: str, body: bytes, *, forwarded: str = "") -> bytes:
    extra = f"X-Forwarded-For: {forwarded}\r\n" if forwarded else ""
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def test_requests_pass_through_and_slow_bodies_are_buffered(proxied: tuple[int, Path]):
    port, _ = proxied
    status, headers, _ = https(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                               b"Connection: close\r\n\r\n")
    assert status == 200
    body = json.dumps({"email": "nobody@ward.test", "password": "not it"}).encode()
    status, headers, answer = https(port, post("/api/v1/auth/login", body), pause_after=120)
    assert status == 401 and headers["content-type"] == "application/problem+json"


def test_rate_limits_see_the_client_not_the_proxy_and_not_a_forged_header(
        proxied: tuple[int, Path]):
    port, log = proxied
    body = json.dumps({"email": "nobody@ward.test", "password": "not it"}).encode()
    # Every attempt claims another address; nginx replaces the header with the real one, so
    # they all count against this one client: 3 per minute in this test, counted in memory
    # by each of the 2 workers, so the 7th attempt is refused at the latest.
    fresh_window()
    answers = [https(port, post("/api/v1/auth/login", body, forwarded=f"192.0.2.{i}"))[0]
               for i in range(7)]
    assert 429 in answers, answers
    assert "192.0.2." not in log.read_text()


def test_what_nginx_answers_itself_is_problem_json(proxied: tuple[int, Path]):
    port, _ = proxied
    status, headers, body = https(port, post("/api/v1/reports", b"x" * 70_000))
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 413
    status, headers, body = https(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n"
                                  b"Host: localhost\r\n\r\n")
    assert status in (400, 414) and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == status
