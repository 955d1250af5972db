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

MIN_SECRET_BYTES = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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

    def __post_init__(self) -> None:
        if len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"the secret key must have at least {MIN_SECRET_BYTES} bytes")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"SPEAKUP_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")

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
        return cls(
            env=mode,
            database_url=database_url,
            secret_key=secret,
            instance_path=instance,
            access_token_minutes=_int(env, "SPEAKUP_ACCESS_TOKEN_MINUTES", 15, 1, 24 * 60),
            refresh_token_days=_int(env, "SPEAKUP_REFRESH_TOKEN_DAYS", 14, 1, 90),
            followup_token_minutes=_int(env, "SPEAKUP_FOLLOWUP_TOKEN_MINUTES", 15, 1, 24 * 60),
            max_body_bytes=_int(env, "SPEAKUP_MAX_BODY_BYTES", 64 * 1024, 1024, 1024 * 1024),
            log_level=env.get("SPEAKUP_LOG_LEVEL", "INFO").strip().upper(),
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
