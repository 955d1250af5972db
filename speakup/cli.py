"""The ``speakup`` command: serve, db upgrade, create-user, purge, escalate, worker, demo,
openapi."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from speakup.settings import ConfigError, Settings

if TYPE_CHECKING:
    from speakup.runtime import Runtime


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _runtime() -> Runtime:
    """What every command works with (the database keeps the drivers' own timeouts)."""
    from speakup.runtime import Runtime

    return Runtime.build(_settings())


@click.group()
def main() -> None:
    """speakup: make it safe to speak up, and show that somebody listened."""


# --- serve -----------------------------------------------------------------------------

@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, help="Address:port.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: 2 per core).")
@click.option("--worker-class", type=click.Choice(["gevent", "sync"]), default="gevent",
              show_default=True,
              help="gevent: slow or idle clients cost a greenlet, not a worker.  sync: one "
                   "request per worker; only behind a proxy that buffers whole requests.")
def serve(bind: str, workers: int | None, worker_class: str) -> None:
    """Run the API under gunicorn."""
    from speakup.serving import Server, gunicorn_options

    settings = _settings()  # fail fast in the master, before any worker starts
    options = gunicorn_options(bind, workers or 2 * (os.cpu_count() or 1),
                               gevent=worker_class == "gevent")
    Server(settings, options).run()


# --- db --------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply migrations (creates the SQLite file if needed)."""
    from speakup import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url)
    click.echo(f"database at revision {migrate.head_revision()}")


# --- users -----------------------------------------------------------------------------


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["staff", "leader", "safety_officer", "admin"]))
@click.option("--unit", "unit_id", default=None, help="Unit id.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (required: never on the command line).")
def create_user(email: str, name: str, roles: tuple[str, ...], unit_id: str | None,
                password_stdin: bool) -> None:
    """Create a user; the password is read from standard input."""
    from speakup.services import org
    from speakup.services.core.errors import ServiceError

    runtime = _runtime()
    password = sys.stdin.readline().rstrip("\r\n")
    if not 8 <= len(password) <= 1024:
        raise click.ClickException("the password must have 8 to 1024 characters")
    try:
        user = org.create_user(runtime.database, clock=runtime.clock,
                               passwords=runtime.passwords,
                               data=org.NewUser(email=email, name=name, password=password,
                                                roles=list(roles), unit_id=unit_id))
    except ServiceError as error:
        raise click.ClickException(error.detail) from None
    finally:
        runtime.close()
    click.echo(user.id)


# --- purge -----------------------------------------------------------------------------


@main.command()
def purge() -> None:
    """Delete what is kept only for a while (expired Idempotency-Keys, expired deny-list
    entries); run it from cron, e.g. hourly."""
    from speakup.services import retention

    runtime = _runtime()
    try:
        counts = retention.purge(runtime.database, now=runtime.clock.now())
    finally:
        runtime.close()
    for name, count in counts.items():
        click.echo(f"{name}: {count} deleted")


# --- escalation and the worker ---------------------------------------------------------


@main.command()
def escalate() -> None:
    """One escalation pass, then exit (for cron)."""
    from speakup.services.reports import escalation

    runtime = _runtime()
    try:
        done = escalation.run_pass(runtime.database, clock=runtime.clock)
    finally:
        runtime.close()
    click.echo(f"escalated {len(done)} report(s)")


@main.command()
@click.option("--poll", type=click.FloatRange(0.01, 3600), default=2.0, show_default=True,
              help="Seconds to wait when there is nothing to deliver.")
@click.option("--escalate-every", type=click.FloatRange(1, 86400), default=60.0,
              show_default=True, help="Seconds between escalation passes.")
@click.option("--batch", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Deliveries claimed at a time.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Deliveries of a batch in flight at once.")
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=5.0, show_default=True,
              help="Seconds for one webhook POST or SMTP conversation.")
@click.option("--backoff", type=click.FloatRange(0.001, 86400), default=30.0,
              show_default=True, help="Seconds before a failed delivery's second attempt; "
                                      "doubled (with jitter) for each attempt after.")
@click.option("--lease", type=click.FloatRange(0.5, 86400), default=None,
              help="Seconds a claimed batch stays this worker's before another may take it "
                   "(default: twice the batch's longest delivery time, plus 30).")
def worker(poll: float, escalate_every: float, batch: int, concurrency: int, timeout: float,
           backoff: float, lease: float | None) -> None:
    """Deliver notifications and run escalation passes until stopped (SIGTERM finishes the
    batch in hand)."""
    import logging
    import signal

    from speakup.services.notify.delivery import Options
    from speakup.worker import Worker, options_from

    logging.basicConfig(level=_settings().log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = _runtime()
    options = options_from(runtime, Options(batch=batch, concurrency=concurrency,
                                            timeout=timeout, backoff=backoff,
                                            lease_seconds=lease))
    running = Worker(runtime, options, escalate_every=escalate_every, poll=poll)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: running.stop.set())
    click.echo(f"speakup worker {os.getpid()}: delivering "
               f"(e-mail {'on' if options.smtp else 'off'})", err=True)
    try:
        total = running.run()
    finally:
        runtime.close()
    click.echo(f"speakup worker {os.getpid()}: stopped; delivered {total.delivered}, "
               f"failed {total.failed}, escalated {total.escalated}", err=True)


# --- demo ------------------------------------------------------------------------------


@main.command()
@click.option("--reports", "count", type=click.IntRange(0, 50_000_000), default=None,
              help="Reports of history to add (default: 300 when the demo organisation "
                   "is first created, none after).")
def demo(count: int | None) -> None:
    """A demo organisation, users and realistic report history."""
    from speakup import demo as demo_data

    runtime = _runtime()
    if runtime.settings.is_production:
        raise click.ClickException("speakup demo refuses to run with SPEAKUP_ENV=production")
    started = time.perf_counter()
    try:
        result = demo_data.seed(runtime.database, settings=runtime.settings, reports=count,
                                progress=_progress)
    finally:
        runtime.close()
    elapsed = time.perf_counter() - started
    if result.created_organisation:
        click.echo("Created the demo organisation.")
    if result.reports_added:
        click.echo(f"Added {result.reports_added:,} reports in {elapsed:.1f} s.")
    click.echo(f"\nDemo logins (password for all: {demo_data.DEMO_PASSWORD}):")
    for login in result.logins:
        click.echo(f"  {login.email:<32} {', '.join(login.roles)}")


def _progress(total: int, label: str) -> Any:
    return click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True,
                             show_pos=True)


# --- openapi ---------------------------------------------------------------------------


@main.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of standard output.")
def openapi(output: Path | None) -> None:
    """Write the OpenAPI document generated from the code (commit it as openapi.yaml)."""
    from speakup.spec import render

    text = render()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
