"""Settings: one typed, frozen object read once from ``SPEAKUP_*`` environment variables.

With no configuration at all speakup runs on a SQLite file in an instance folder and keeps a
secret it generated once in that folder, so ``make run`` needs nothing.  ``SPEAKUP_ENV=production``
refuses to start without an explicit strong secret and an explicit database URL.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_SECRET_BYTES = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
RATE_LIMITS = (
    "ratelimit_login_per_account",
    "ratelimit_login_per_client",
    "ratelimit_followup_per_client",
    "ratelimit_followup_global",
    "ratelimit_intake_per_client",
)


class ConfigError(RuntimeError):
    """The configuration is unusable; the message says which variable to fix."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = ""
    secret_key: str = field(default="", repr=False)
    instance_path: Path = Path("instance")
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    followup_token_minutes: int = 15
    max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"
    # argon2id cost; RFC 9106's second recommended profile.  Tests lower it for speed.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 1
    # Database waits, all well under gunicorn's 30 s worker timeout: a database that hangs or
    # is locked costs a request a few seconds and a 503, not a worker.
    db_connect_timeout: int = 3  # seconds; PostgreSQL's client waits at least 2
    db_statement_timeout_ms: int = 5000  # PostgreSQL statement_timeout
    db_pool_timeout: int = 3  # seconds to wait for a free pooled connection
    sqlite_busy_timeout_ms: int = 5000  # how long a writer queues for SQLite's write lock
    # Rate limits ("N per M minutes"; README, "Rate limits").  Counters live in memory unless
    # a Redis URL is given, which makes every limit hold across workers and machines.
    ratelimit_storage_url: str = "memory://"
    ratelimit_login_per_account: str = "10 per 15 minutes"
    ratelimit_login_per_client: str = "30 per minute"
    ratelimit_followup_per_client: str = "10 per 10 minutes"
    ratelimit_followup_global: str = "300 per minute"
    ratelimit_intake_per_client: str = "30 per hour"
    # Reverse proxies in front of speakup whose X-Forwarded-For is trusted (0: none).
    proxy_count: int = 0
    # Seconds a client may take to send a request's body once its head has arrived.
    body_timeout_seconds: int = 20
    # Notifications (README, "Notifications"): e-mail goes out only when an SMTP server is
    # named; links in it point at the public URL.
    smtp_url: str = field(default="", repr=False)
    mail_from: str = "speakup@localhost"
    public_url: str = "http://127.0.0.1:8000"
    # Metrics hide groups of fewer reports than this (never below the contract's 5); a
    # request may ask for a higher threshold, not a lower one.
    metrics_suppression_threshold: int = 5

    def __post_init__(self) -> None:
        if len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"the secret key must have at least {MIN_SECRET_BYTES} bytes")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"SPEAKUP_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        for name in RATE_LIMITS:
            _check_limit(name, getattr(self, name))
        if not self.ratelimit_storage_url.startswith(("memory://", "redis://", "rediss://")):
            raise ConfigError("SPEAKUP_RATELIMIT_STORAGE_URL must be memory:// or a redis:// URL")
        if self.smtp_url:
            from speakup.services.notify.mail import BadSmtpUrl, Smtp

            try:
                Smtp.from_url(self.smtp_url)
            except BadSmtpUrl as error:
                raise ConfigError(str(error)) from None
        if not self.public_url.startswith(("http://", "https://")):
            raise ConfigError("SPEAKUP_PUBLIC_URL must be an http:// or https:// URL")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse ``SPEAKUP_*`` variables; raises :class:`ConfigError` on anything unusable."""
        env = os.environ if environ is None else environ
        mode = env.get("SPEAKUP_ENV", "development").strip().lower()
        if mode not in {"development", "production", "test"}:
            raise ConfigError("SPEAKUP_ENV must be development, production or test")
        instance = Path(env.get("SPEAKUP_INSTANCE_PATH", "instance")).resolve()
        database_url = env.get("SPEAKUP_DATABASE_URL", "").strip()
        secret = env.get("SPEAKUP_SECRET_KEY", "")
        if mode == "production":
            if not database_url:
                raise ConfigError("SPEAKUP_ENV=production requires SPEAKUP_DATABASE_URL")
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"SPEAKUP_ENV=production requires SPEAKUP_SECRET_KEY of at least "
                    f"{MIN_SECRET_BYTES} bytes (e.g. `python -c 'import secrets; "
                    f"print(secrets.token_urlsafe(48))'`)"
                )
        if not database_url:
            database_url = f"sqlite:///{instance / 'speakup.db'}"
        if not secret:
            secret = instance_secret(instance)
        elif len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"SPEAKUP_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes")
        limits: dict[str, Any] = {name: value for name in RATE_LIMITS
                                   if (value := env.get(_env_name(name), "").strip())}
        return cls(
            env=mode,
            database_url=database_url,
            secret_key=secret,
            instance_path=instance,
            access_token_minutes=_int(env, "SPEAKUP_ACCESS_TOKEN_MINUTES", 15, 1, 24 * 60),
            refresh_token_days=_int(env, "SPEAKUP_REFRESH_TOKEN_DAYS", 14, 1, 90),
            followup_token_minutes=_int(env, "SPEAKUP_FOLLOWUP_TOKEN_MINUTES", 15, 1, 24 * 60),
            max_body_bytes=_int(env, "SPEAKUP_MAX_BODY_BYTES", 64 * 1024, 1024, 1024 * 1024),
            db_connect_timeout=_int(env, "SPEAKUP_DB_CONNECT_TIMEOUT", 3, 1, 60),
            db_statement_timeout_ms=_int(env, "SPEAKUP_DB_STATEMENT_TIMEOUT_MS", 5000, 100,
                                         60_000),
            db_pool_timeout=_int(env, "SPEAKUP_DB_POOL_TIMEOUT", 3, 1, 60),
            sqlite_busy_timeout_ms=_int(env, "SPEAKUP_SQLITE_BUSY_TIMEOUT_MS", 5000, 100,
                                        60_000),
            log_level=env.get("SPEAKUP_LOG_LEVEL", "INFO").strip().upper(),
            ratelimit_storage_url=env.get("SPEAKUP_RATELIMIT_STORAGE_URL", "").strip()
            or "memory://",
            proxy_count=_int(env, "SPEAKUP_PROXY_COUNT", 0, 0, 5),
            body_timeout_seconds=_int(env, "SPEAKUP_BODY_TIMEOUT_SECONDS", 20, 1, 300),
            smtp_url=env.get("SPEAKUP_SMTP_URL", "").strip(),
            mail_from=env.get("SPEAKUP_MAIL_FROM", "").strip() or "speakup@localhost",
            public_url=env.get("SPEAKUP_PUBLIC_URL", "").strip() or "http://127.0.0.1:8000",
            metrics_suppression_threshold=_int(env, "SPEAKUP_METRICS_SUPPRESSION_THRESHOLD",
                                               5, 5, 1000),
            **limits,
        )


def instance_secret(instance: Path) -> str:
    """The secret kept in the instance folder, generated on first use (mode 0600).

    The file appears whole or not at all (written aside, then linked into place), so a
    process starting at the same moment never reads it half-written.
    """
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        _write_once(path, secrets.token_urlsafe(48) + "\n")
    value = path.read_text().strip()
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{path} is damaged (shorter than {MIN_SECRET_BYTES} bytes).  Restore it from a "
            "backup: a new secret signs everyone out and voids every receipt key."
        )
    return value


def _write_once(path: Path, text: str) -> None:
    """Create ``path`` with ``text`` (mode 0600) unless it exists; never half-written where
    the file system has hard links (written aside, then linked into place)."""
    fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(draft, path)
    except FileExistsError:
        pass  # another process was first: use theirs
    except OSError:  # no hard links here (FAT, some network mounts): exclusive create
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
    finally:
        os.unlink(draft)


def _env_name(setting: str) -> str:
    return "SPEAKUP_" + setting.upper()


def _check_limit(name: str, value: str) -> None:
    """A single limit such as "10 per 15 minutes" (limits' notation), with a whole window."""
    from limits import parse_many

    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ConfigError(f'{_env_name(name)} must be one limit such as "10 per 15 minutes"')


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return value
