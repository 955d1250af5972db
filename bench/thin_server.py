"""The thin app (:mod:`bench.thin_app`) under gunicorn, with the worker model of `speakup serve`.

Like speakup.serving: gevent workers, one request per connection (a kept-alive connection
would stay with the worker that accepted it), keepalive 10 s as the head timeout, 1,000
connections per worker.  The app is imported in each worker, after gevent has patched it, as
speakup's is.  The JWT secret comes from the environment, never the command line.

    THIN_APP_SECRET=... python -m bench.thin_server --database-url URL --bind 127.0.0.1:8001
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.ggevent import GeventWorker

SECRET_VARIABLE = "THIN_APP_SECRET"  # noqa: S105 - the name of a variable, not a secret


class Worker(GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker answering one request per connection, as speakup's does."""

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        req.must_close = True
        return super().handle_request(listener_name, req, sock, addr)


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, database_url: str, secret: str, options: dict[str, Any]) -> None:
        self._database_url = database_url
        self._secret = secret
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn
                self.cfg.set(key, value)

    def load(self) -> Any:
        from bench.thin_app import create_app

        return create_app(self._database_url, self._secret)


def options(bind: str, workers: int) -> dict[str, Any]:
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "bench.thin_server.Worker",  # importable by name, also under -m
        "worker_connections": 1000,
        "keepalive": 10,
        "timeout": 30,
        "graceful_timeout": 20,
        "errorlog": "-",
        "control_socket_disable": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the bench's thin app under gunicorn.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bind", default="127.0.0.1:8001")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    secret = os.environ.get(SECRET_VARIABLE, "")
    if len(secret) < 32:
        parser.error(f"{SECRET_VARIABLE} must hold a secret of at least 32 characters")
    Server(args.database_url, secret, options(args.bind, args.workers)).run()


if __name__ == "__main__":
    main()
