"""The composition root: everything speakup's code needs from outside, built once.

``create_app`` builds one for the API, every CLI command builds one, and the tests build one
with a settable clock.  Routes reach it through :func:`speakup.routes.common.runtime`; nothing
else is looked up by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from speakup.db import Database, Timeouts
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import Clock, SystemClock
from speakup.services.core.keys import Keys
from speakup.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Database
    clock: Clock
    keys: Keys
    passwords: Passwords

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None,
              serving: bool = False) -> Runtime:
        """The runtime for ``settings``.  ``serving`` gives the database the short timeouts
        of request handling; commands (demo, migrations, purge) keep the drivers' own."""
        timeouts = Timeouts.from_settings(settings) if serving else None
        return cls(
            settings=settings,
            database=Database(settings.database_url, timeouts=timeouts),
            clock=clock or SystemClock(),
            keys=Keys.from_secret(settings.secret_key),
            passwords=Passwords(time_cost=settings.argon2_time_cost,
                                memory_kib=settings.argon2_memory_kib,
                                parallelism=settings.argon2_parallelism),
        )

    def close(self) -> None:
        self.database.dispose()
