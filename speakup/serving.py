"""speakup under gunicorn: gevent workers that slow clients cannot exhaust, and logs that
identify no client.

Worker model (measured; see the README): each worker is a gevent worker, so a connection that
sends its request slowly, or nothing at all, costs a greenlet rather than a worker.  gunicorn
bounds the wait for a request's head by ``keepalive``; :class:`Admission` reads the whole body
under a deadline *before* the application runs (a client that stalls mid-body gets a 408), and
then lets only a few requests per worker run the application at once, so that database work is
not interleaved across dozens of half-finished requests.

The access log has no client address, user agent, referrer, header or response size, and names
a matched route by its template (``/api/v1/reports/<report_id>``), never the ids in it; other
paths are logged with control characters escaped.  gunicorn's error log would name the
client's address on a malformed request (``Invalid request from ip=...``); its logger scrubs
addresses out of every message.  Errors gunicorn answers itself are problem+json too.
"""

from __future__ import annotations

import io
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from gevent.lock import BoundedSemaphore
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker
from gunicorn.workers.sync import SyncWorker as SyncWorkerBase

from speakup.app import ROUTE_KEY
from speakup.problems import PROBLEM, problem
from speakup.settings import Settings

ACCESS_LOG_FORMAT = '%(t)s "%(m)s %(U)s" %(s)s %(M)sms'
_CLIENT_ADDRESS = re.compile(r"\bip=\S+")
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\]|[^\x00-\x7f]')

# How long a client may take (seconds) to send a request's head: gunicorn's keepalive (its
# gevent worker reads every head under that deadline).  The body's deadline is a setting.
HEAD_TIMEOUT = 10
# Requests that may run the application at once in one worker.  SQLite work never yields, so
# more would only queue on the database; measured on PostgreSQL, 2 kept sync-worker throughput.
CONCURRENCY = 2
# A request the application has not answered by then gets a 503 (seconds).  The database's own
# timeouts (a few seconds) end almost every slow request long before.
REQUEST_TIMEOUT = 20
# How long writing an answer to a client may block (seconds).
SEND_TIMEOUT = 30

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def escape(text: str, limit: int = 256) -> str:
    """``text`` for a log line: control characters, quotes and non-ASCII as escapes."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                       else f"\\u{ord(m.group()):04x}", text[:limit])


def unrouted_path(path: str) -> str:
    """A path the app did not route (or never saw) for the log: under /api/ only its first
    segments, since the rest may be an id (a follow-up read answered 503 before routing);
    elsewhere escaped."""
    if path.startswith("/api/"):
        head = path.split("/")[:4]  # "", "api", "v1", resource
        path = "/".join(head) + ("/..." if path.count("/") > 3 else "")
    return escape(path)


class _ScrubAddresses(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = escape(_CLIENT_ADDRESS.sub("ip=-", message), limit=2000)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


class AddressFreeLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with client addresses removed from the error log and an access log
    built only from the atoms of :data:`ACCESS_LOG_FORMAT`."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(_ScrubAddresses())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
              ) -> dict[str, Any]:
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        path = environ.get(ROUTE_KEY) or unrouted_path(environ.get("PATH_INFO") or "-")
        return {
            "t": self.now(),
            "m": escape(environ.get("REQUEST_METHOD") or "-", limit=16),
            "U": path,
            "s": status,
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }


def _write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own error page (bad request line, oversized head, ...) as problem+json; the
    detail never echoes what the client sent."""
    detail = {
        400: "The request could not be parsed as HTTP.",
        414: "The request line is too long.",
        431: "The request's header fields are too large.",
        501: "That transfer coding is not supported.",
    }.get(status_int, "The server could not answer this request.")
    body = problem(status_int, reason, detail).get_data()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


class Worker(GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker whose own error answers are problem+json."""

    def init_process(self) -> None:
        # gunicorn's workers answer their own errors through this one function.
        gunicorn_util.write_error = _write_problem
        super().init_process()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        # gunicorn's gevent worker makes client sockets block without limit; a client that
        # never reads its answer would then hold its greenlet for good.
        client.settimeout(SEND_TIMEOUT)
        AsyncWorker.handle(self, listener, client, addr)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        # One request per connection.  A kept-alive connection stays with the worker that
        # accepted it, so under load some workers queue while others idle: measured, the
        # slowest 1% of submissions then took five times as long as with sync workers, at
        # the same throughput.  Closing after each answer lets every next request go to
        # whichever worker accepts first.  (A proxy in front keeps its clients' connections.)
        req.must_close = True
        return super().handle_request(listener_name, req, sock, addr)


class SyncWorker(SyncWorkerBase):  # type: ignore[misc]
    """gunicorn's sync worker whose own error answers are problem+json."""

    def init_process(self) -> None:
        gunicorn_util.write_error = _write_problem
        super().init_process()


class Admission:
    """Reads the body before the app runs (under a deadline), admits a few requests at a time
    into the app, and answers 503 if the app has not answered by the request deadline."""

    def __init__(self, app: WSGIApp, *, max_body: int, body_timeout: float,
                 request_timeout: float = REQUEST_TIMEOUT, concurrency: int = CONCURRENCY,
                 unqueued: Iterable[str] = ("/healthz", "/readyz")):
        self.app = app
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.request_timeout = request_timeout
        self.slots = BoundedSemaphore(concurrency)
        self.unqueued = frozenset(unqueued)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if 0 < length <= self.max_body:  # larger ones the app refuses (413) unread
            try:
                with gevent.Timeout(self.body_timeout):
                    body = environ["wsgi.input"].read(length)
            except gevent.Timeout:
                client = environ.get("gunicorn.socket")
                if client is not None:  # nothing more is read: gunicorn closes after the 408
                    client.shutdown(socket.SHUT_RD)
                detail = f"The request body did not arrive within {self.body_timeout:g} seconds."
                return problem(408, "Request Timeout", detail)(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
        if environ.get("PATH_INFO") in self.unqueued:
            return self.app(environ, start_response)
        answer: list[Any] = []
        deadline = time.monotonic() + self.request_timeout
        if self.slots.acquire(timeout=self.request_timeout):
            try:
                # The app runs in its own greenlet: a database that stops answering
                # mid-request (no driver timeout covers that) costs that greenlet, not this
                # client's answer nor, once given up on, a slot.
                runner = gevent.spawn(self._run, environ, answer)
                runner.join(timeout=max(0.0, deadline - time.monotonic()))
                if not runner.dead:
                    # Stopped where it waits, its transaction is rolled back (unless its
                    # commit was already on the way: hence "may not have been saved").
                    runner.kill(block=False)
            finally:
                self.slots.release()
        if not answer:
            return problem(503, "Service Unavailable",
                           "The request took too long and was stopped; it may not have been "
                           "saved. Retry it (with the same Idempotency-Key for a report).",
                           headers={"Retry-After": "5"})(environ, start_response)
        status, headers, chunks = answer
        start_response(status, headers)
        content: list[bytes] = chunks
        return content

    def _run(self, environ: dict[str, Any], answer: list[Any]) -> None:
        captured: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, headers]
            return lambda _data: None

        result = self.app(environ, start_response)
        try:
            chunks = [b"".join(result)]  # the app's responses are small and buffered
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        answer[:] = [*captured, chunks]


def gunicorn_options(bind: str, workers: int, *, gevent: bool = True) -> dict[str, Any]:
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "speakup.serving.Worker" if gevent else "speakup.serving.SyncWorker",
        "worker_connections": 1000,
        "keepalive": HEAD_TIMEOUT if gevent else 2,
        # Room for realistic requests (a bearer token, a cursor), early refusal beyond.
        "limit_request_line": 8190,
        "limit_request_fields": 50,
        "limit_request_field_size": 8190,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": AddressFreeLogger,
        "timeout": 30,
        "graceful_timeout": 20,
        "forwarded_allow_ips": "",
        "proc_name": "speakup",
        # gunicorn 24+ opens a control socket at one path per user; two servers would clash.
        "control_socket_disable": True,
    }


class Server(BaseApplication):  # type: ignore[misc]
    """speakup's app under gunicorn; each worker builds its own app (and engine)."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn
                self.cfg.set(key, value)

    def load(self) -> Any:
        from speakup import create_app

        app = create_app(self._settings)
        if self.cfg.worker_class_str == "speakup.serving.SyncWorker":
            return app
        return Admission(app, max_body=self._settings.max_body_bytes,
                         body_timeout=self._settings.body_timeout_seconds)
