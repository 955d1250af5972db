"""The gevent admission in front of the app: a body that never arrives and an app that never
answers each cost a bounded wait and end in a problem, never a held worker."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import gevent

from speakup.serving import Admission


class Trickle(io.RawIOBase):
    """A request body that arrives far too slowly."""

    def read(self, size: int = -1) -> bytes:
        gevent.sleep(60)
        return b""


def call(admission: Admission, **environ: Any) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        seen.update(status=status, headers=dict(headers))

    body = b"".join(admission({"PATH_INFO": "/api/v1/reports", "REQUEST_METHOD": "POST",
                               "wsgi.input": io.BytesIO(b""), **environ}, start_response))
    return seen["status"], seen["headers"], body


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("201 Created", [("Content-Type", "application/json")])
    return [environ["wsgi.input"].read()]


def test_the_app_gets_the_whole_body_read_beforehand():
    admission = Admission(echo, max_body=1024, body_timeout=1)
    status, headers, body = call(admission, CONTENT_LENGTH="7",
                                 **{"wsgi.input": io.BytesIO(b'{"a":1}')})
    assert status == "201 Created" and body == b'{"a":1}'


def test_a_body_that_does_not_arrive_is_408():
    admission = Admission(echo, max_body=1024, body_timeout=0.2)
    started = time.monotonic()
    status, headers, body = call(admission, CONTENT_LENGTH="60", **{"wsgi.input": Trickle()})
    assert time.monotonic() - started < 2
    assert status.startswith("408") and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["status"] == 408


def test_an_app_that_never_answers_is_503_with_retry_after():
    def stuck(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        gevent.sleep(60)  # a database that accepted the query and went silent
        return []

    admission = Admission(stuck, max_body=1024, body_timeout=1, request_timeout=0.2)
    started = time.monotonic()
    status, headers, body = call(admission)
    assert time.monotonic() - started < 2
    assert status.startswith("503") and headers["Retry-After"] == "5"
    assert json.loads(body)["type"] == "/problems/unavailable"
    # Given up on, the stuck requests hold no slot: the next ones are admitted at once.
    for _ in range(3):
        assert call(admission)[0].startswith("503")
    admission.app = echo
    started = time.monotonic()
    assert call(admission)[0] == "201 Created"
    assert time.monotonic() - started < 0.2


def test_health_and_readiness_never_queue_behind_the_app():
    def stuck(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] in ("/healthz", "/readyz"):
            start_response("200 OK", [])
            return [b"ok"]
        gevent.sleep(60)
        return []

    admission = Admission(stuck, max_body=1024, body_timeout=1, request_timeout=5)
    busy = [gevent.spawn(call, admission) for _ in range(4)]  # every slot taken, more waiting
    gevent.sleep(0.05)
    for path in ("/healthz", "/readyz"):
        started = time.monotonic()
        assert call(admission, PATH_INFO=path, REQUEST_METHOD="GET")[0] == "200 OK"
        assert time.monotonic() - started < 0.5
    gevent.killall(busy)
