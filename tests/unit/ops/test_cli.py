"""The speakup command line, run in-process with click's runner."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from speakup.cli import main
from speakup.models import User
from speakup.serving import ACCESS_LOG_FORMAT, gunicorn_options


@pytest.fixture()
def env(settings, database, monkeypatch) -> dict[str, str]:
    """Point the CLI at the test database, with cheap password hashing."""
    monkeypatch.setenv("SPEAKUP_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SPEAKUP_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("SPEAKUP_INSTANCE_PATH", str(settings.instance_path))
    return {}


def test_create_user_reads_the_password_from_stdin(env, session):
    result = CliRunner().invoke(main, [
        "create-user", "--email", "Lead@Example.org", "--name", "Lee Lead", "--role", "leader",
        "--role", "staff", "--password-stdin"], input="a long password\n")
    assert result.exit_code == 0, result.output
    user = session.scalars(select(User).where(User.email == "lead@example.org")).one()
    assert result.output.strip() == user.id
    assert user.roles == ["leader", "staff"]
    assert user.password_hash.startswith("$argon2id$")
    assert "a long password" not in user.password_hash


def test_create_user_refuses_a_short_password_and_a_duplicate(env):
    runner = CliRunner()
    args = ["create-user", "--email", "x@example.org", "--name", "X", "--role", "staff",
            "--password-stdin"]
    short = runner.invoke(main, args, input="short\n")
    assert short.exit_code != 0 and "8 to 1024" in short.output
    assert runner.invoke(main, args, input="long enough pw\n").exit_code == 0
    again = runner.invoke(main, args, input="long enough pw\n")
    assert again.exit_code != 0 and "exists already" in again.output


def test_create_user_rejects_unknown_roles(env):
    result = CliRunner().invoke(main, ["create-user", "--email", "y@example.org", "--name", "Y",
                                       "--role", "overlord", "--password-stdin"], input="pw\n")
    assert result.exit_code == 2


def test_production_refuses_to_start_without_a_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("SPEAKUP_ENV", "production")
    monkeypatch.setenv("SPEAKUP_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SPEAKUP_SECRET_KEY", raising=False)
    monkeypatch.setenv("SPEAKUP_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1/none")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1 and "SPEAKUP_SECRET_KEY" in result.output


def test_serve_logs_no_client_address_user_agent_or_referrer():
    options = gunicorn_options("127.0.0.1:0", 2)
    assert options["access_log_format"] == ACCESS_LOG_FORMAT
    # gunicorn: h = remote address, a = user agent, f = referer, u = user name, {...}i = any
    # request header (X-Forwarded-For, Authorization...).
    for identifying in ("%(h)s", "%(a)s", "%(f)s", "%(u)s", "}i"):
        assert identifying not in ACCESS_LOG_FORMAT
    assert options["worker_class"] == "speakup.serving.Worker" and options["workers"] == 2
