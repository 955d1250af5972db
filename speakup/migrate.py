"""Alembic, driven from code: ``speakup db upgrade`` and the readiness check use this."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_HERE = Path(__file__).resolve().parent


def migrations_path() -> Path:
    """``migrations/`` of the source tree, or the copy packed into a wheel."""
    for candidate in (_HERE.parent / "migrations", _HERE / "_migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("speakup's migrations folder is missing from this installation")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    # A literal % in a URL (an escaped password) would break ConfigParser interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


@cache
def head_revision() -> str | None:
    return ScriptDirectory(str(migrations_path())).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
