"""Settings come from SPEAKUP_* variables; production refuses weak or missing configuration."""

from __future__ import annotations

import os
import stat

import pytest

from speakup.settings import ConfigError, Settings

STRONG = "p" * 40


def test_no_configuration_means_sqlite_in_the_instance_folder_and_a_kept_secret(tmp_path):
    env = {"SPEAKUP_INSTANCE_PATH": str(tmp_path / "inst")}
    first = Settings.from_env(env)
    second = Settings.from_env(env)
    assert first.database_url == f"sqlite:///{tmp_path / 'inst' / 'speakup.db'}"
    assert len(first.secret_key) >= 32 and first.secret_key == second.secret_key
    mode = stat.S_IMODE(os.stat(tmp_path / "inst" / "secret_key").st_mode)
    assert mode == 0o600
    assert first.env == "development" and first.access_token_minutes == 15


def test_settings_are_frozen(tmp_path):
    settings = Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(AttributeError):
        settings.database_url = "x"  # type: ignore[misc]


def test_secret_is_not_in_the_repr(tmp_path):
    settings = Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path),
                                  "SPEAKUP_SECRET_KEY": STRONG})
    assert STRONG not in repr(settings)


@pytest.mark.parametrize(
    "env",
    [
        {"SPEAKUP_ENV": "production", "SPEAKUP_DATABASE_URL": "postgresql+psycopg://x/y"},
        {"SPEAKUP_ENV": "production", "SPEAKUP_DATABASE_URL": "postgresql+psycopg://x/y",
         "SPEAKUP_SECRET_KEY": "short"},
        {"SPEAKUP_ENV": "production", "SPEAKUP_SECRET_KEY": STRONG},
        {"SPEAKUP_ENV": "staging"},
        {"SPEAKUP_SECRET_KEY": "too-short"},
        {"SPEAKUP_ACCESS_TOKEN_MINUTES": "soon"},
        {"SPEAKUP_ACCESS_TOKEN_MINUTES": "0"},
        {"SPEAKUP_MAX_BODY_BYTES": "10"},
    ],
)
def test_unusable_configuration_fails_fast(env, tmp_path):
    with pytest.raises(ConfigError):
        Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path), **env})


def test_production_with_explicit_settings_starts(tmp_path):
    settings = Settings.from_env({
        "SPEAKUP_ENV": "production", "SPEAKUP_SECRET_KEY": STRONG,
        "SPEAKUP_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/speakup",
        "SPEAKUP_INSTANCE_PATH": str(tmp_path),
    })
    assert settings.is_production and settings.secret_key == STRONG
    assert not (tmp_path / "secret_key").exists()


def test_a_damaged_instance_secret_stops_the_start(tmp_path):
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(ConfigError, match="damaged"):
        Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path)})


def test_settings_built_in_code_are_checked_too(tmp_path):
    with pytest.raises(ConfigError):
        Settings(database_url="sqlite://", secret_key="short", instance_path=tmp_path)
    with pytest.raises(ConfigError):
        Settings(database_url="sqlite://", secret_key=STRONG, log_level="LOUD")


def test_unknown_log_level_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="SPEAKUP_LOG_LEVEL"):
        Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path), "SPEAKUP_LOG_LEVEL": "loud"})


def test_only_the_secret_file_is_left_in_the_instance_folder(tmp_path):
    Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path)})
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_the_secret_is_created_without_hard_links_too(tmp_path, monkeypatch):
    def no_links(*_args):
        raise PermissionError("no hard links on this file system")

    monkeypatch.setattr(os, "link", no_links)
    first = Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path)})
    assert Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path)}).secret_key == \
        first.secret_key
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_database_timeouts_default_to_a_few_seconds_and_can_be_set(tmp_path):
    defaults = Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path)})
    assert (defaults.db_connect_timeout, defaults.db_statement_timeout_ms,
            defaults.db_pool_timeout, defaults.sqlite_busy_timeout_ms) == (3, 5000, 3, 5000)
    tuned = Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path),
                               "SPEAKUP_DB_CONNECT_TIMEOUT": "2",
                               "SPEAKUP_DB_STATEMENT_TIMEOUT_MS": "2500",
                               "SPEAKUP_DB_POOL_TIMEOUT": "1",
                               "SPEAKUP_SQLITE_BUSY_TIMEOUT_MS": "1500"})
    assert (tuned.db_connect_timeout, tuned.db_statement_timeout_ms,
            tuned.db_pool_timeout, tuned.sqlite_busy_timeout_ms) == (2, 2500, 1, 1500)
    with pytest.raises(ConfigError, match="SPEAKUP_DB_STATEMENT_TIMEOUT_MS"):
        Settings.from_env({"SPEAKUP_INSTANCE_PATH": str(tmp_path),
                           "SPEAKUP_DB_STATEMENT_TIMEOUT_MS": "0"})
