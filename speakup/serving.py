"""speakup under gunicorn, configured so that no log line identifies a client.

The access log has no client address, user agent, referrer or header; gunicorn's error log
would name the client's address on a malformed request (``Invalid request from ip=...``), so
its logger scrubs addresses out of every message.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from speakup.settings import Settings

# gunicorn's atoms: h = remote address, a = user agent, f = referer, u = user name and
# {...}i = a request header -- none of them here.
ACCESS_LOG_FORMAT = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
_CLIENT_ADDRESS = re.compile(r"\bip=\S+")


class _ScrubAddresses(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = _CLIENT_ADDRESS.sub("ip=-", message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


class AddressFreeLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with client addresses removed from the error log."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(_ScrubAddresses())


def gunicorn_options(bind: str, workers: int) -> dict[str, Any]:
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "sync",
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

        return create_app(self._settings)
