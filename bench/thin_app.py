"""The thinnest honest Flask + SQLAlchemy app doing the work of speakup's measured endpoints.

`make bench` (:mod:`bench.run`) serves it beside `speakup serve`, in the same run and under the
same gunicorn worker model, to say how close speakup comes to what the framework itself costs:

- ``POST /api/v1/reports``: a JSON body checked minimally, one INSERT in its own transaction
  (``BEGIN IMMEDIATE`` on SQLite), 201 with the row as JSON.  A bearer token, when sent, is
  verified and names the reporter (a named submission); without one the row is anonymous.
  Due times are computed, the reference is derived from the id (no counter).
- ``GET /api/v1/reports?limit=50``: behind a flask-jwt-extended check, the newest rows as JSON.
- ``GET /api/v1/reports/<id>``: behind a flask-jwt-extended check, one row by primary key.
- ``POST /api/v1/reports/<id>/acknowledge`` and ``.../close`` (``{"outcome", "response"}``):
  behind the same check, one UPDATE of the row in its own transaction (an acknowledgement
  only of a new report; a closing only of an open one, with the outcome checked), answered
  with the updated row; a report in the wrong state is 409.  Speakup's message, timeline and
  audit rows are its own work and not copied.

A row has the flat fields of a report in speakup's list (22, six of them times), so that both
apps turn as many values into JSON; what speakup adds from other tables (assignees, the
reporter's name, messages, timeline) is its own work and not copied.

The database is set up as speakup sets up its own: SQLite in WAL mode with
``synchronous=NORMAL``, a busy timeout and explicit ``BEGIN`` (``IMMEDIATE`` for writes);
PostgreSQL through psycopg 3.  gunicorn runs gevent workers that close each connection after
its answer, as `speakup serve` does (:mod:`bench.thin_server`).  What speakup adds on
purpose (its access log, an admission queue per worker, request deadlines) is not copied: that
is part of what the comparison measures.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    get_jwt_identity,
    verify_jwt_in_request,
)
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)

SQLITE_BUSY_TIMEOUT_MS = 5000  # speakup's default SPEAKUP_SQLITE_BUSY_TIMEOUT_MS
KINDS = ("concern", "gap", "opportunity")
UNITS = 20
ACK_WITHIN = timedelta(hours=48)
CLOSE_WITHIN = timedelta(days=30)
DESCRIPTIONS = (
    "On night shifts the infusion-pump alarms get silenced without anyone checking the pump.",
    "Hand-over between the evening and night shift skips the drug chart review for new "
    "admissions, so changes made late in the day are missed until the morning round.",
    "The bed alarm in bay 2 is not heard at the nurses' desk when the corridor doors are shut.",
    "We could save an hour a day if the pharmacy round started on the ward with most "
    "discharges rather than always at bed 1.",
)

metadata = MetaData()
reports = Table(
    "reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("reference", String(32), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("category", String(64), nullable=False),
    Column("unit_id", Integer, nullable=False),
    Column("title", String(200)),
    Column("description", Text, nullable=False),
    Column("immediate_risk", Boolean, nullable=False),
    Column("anonymous", Boolean, nullable=False),
    Column("involves_leader", Boolean, nullable=False),
    Column("wants_involvement", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    # Times are naive UTC.
    Column("created_at", DateTime, nullable=False),
    Column("ack_due_at", DateTime, nullable=False),
    Column("close_due_at", DateTime, nullable=False),
    Column("acknowledged_at", DateTime),
    Column("first_response_at", DateTime),
    Column("closed_at", DateTime),
    Column("outcome", String(20)),
    Column("reopen_count", Integer, nullable=False),
    Column("reporter_id", String(64)),
    Column("routing_reason", Text, nullable=False),
    Index("ix_reports_created_at_id", "created_at", "id"),
)

PAGE = (select(reports).order_by(reports.c.created_at.desc(), reports.c.id.desc())
        .limit(bindparam("limit")))
ONE = select(reports).where(reports.c.id == bindparam("id"))
INSERT = insert(reports)
OUTCOMES = ("actioned", "planned", "not_actioned", "referred", "duplicate")
ACKNOWLEDGE = (update(reports)
               .where(reports.c.id == bindparam("report_id"), reports.c.status == "new")
               .values(status="acknowledged", acknowledged_at=bindparam("now"))
               .returning(*reports.c))
CLOSE = (update(reports)
         .where(reports.c.id == bindparam("report_id"), reports.c.status != "closed")
         .values(status="closed", outcome=bindparam("outcome"),
                 acknowledged_at=func.coalesce(reports.c.acknowledged_at, bindparam("now")),
                 first_response_at=func.coalesce(reports.c.first_response_at,
                                                 bindparam("now")),
                 closed_at=func.coalesce(reports.c.closed_at, bindparam("now")))
         .returning(*reports.c))


# --- database --------------------------------------------------------------------------


def make_engine(url: str) -> Engine:
    """An engine configured as speakup configures its own (speakup.db)."""
    if not url.startswith("sqlite"):
        return create_engine(url)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is issued by the hook below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def new_row(data: Mapping[str, Any], *, reporter: str | None, now: datetime) -> dict[str, Any]:
    """A new report's row from checked ``data``."""
    report_id = uuid.uuid4().hex
    return {
        "id": report_id,
        "reference": f"TH-{report_id[:12]}",
        "kind": data["kind"],
        "category": data["category"],
        "unit_id": data["unit_id"],
        "title": data.get("title"),
        "description": data["description"],
        "immediate_risk": bool(data.get("immediate_risk")),
        "anonymous": reporter is None,
        "involves_leader": bool(data.get("involves_leader")),
        "wants_involvement": bool(data.get("wants_involvement")),
        "status": "new",
        "created_at": now,
        "ack_due_at": now + ACK_WITHIN,
        "close_due_at": now + CLOSE_WITHIN,
        "acknowledged_at": None,
        "first_response_at": None,
        "closed_at": None,
        "outcome": None,
        "reopen_count": 0,
        "reporter_id": reporter,
        "routing_reason": f"Routed to the leaders of unit {data['unit_id']}.",
    }


SEED_BATCH = 50_000


def seed(url: str, rows: int) -> None:
    """Create the table and add ``rows`` reports spread evenly over the past year, some
    acknowledged and closed."""
    engine = make_engine(url)
    try:
        metadata.create_all(engine)
        now = datetime.now(UTC).replace(tzinfo=None)
        step = timedelta(days=365) / max(rows, 1)
        batch = []
        for i in range(rows):
            data = {"kind": KINDS[i % len(KINDS)], "category": "patient_safety",
                    "unit_id": i % UNITS + 1, "title": f"Seeded report {i}" if i % 3 else None,
                    "description": DESCRIPTIONS[i % len(DESCRIPTIONS)]}
            row = new_row(data, reporter=None if i % 5 < 2 else f"user-{i % 97}",
                          now=now - step * (rows - i))
            if i % 4:  # three in four acknowledged, answered and closed
                row.update(status="closed", outcome="actioned",
                           acknowledged_at=row["created_at"] + timedelta(hours=5),
                           first_response_at=row["created_at"] + timedelta(hours=6),
                           closed_at=row["created_at"] + timedelta(days=9))
            batch.append(row)
            if len(batch) == SEED_BATCH or i == rows - 1:
                with engine.begin() as connection:
                    connection.execute(INSERT, batch)
                batch = []
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE reports"))
    finally:
        engine.dispose()


# --- the app ---------------------------------------------------------------------------


def _dump(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {key: value.isoformat() + "Z" if isinstance(value, datetime) else value
            for key, value in row.items()}


def _invalid(body: dict[str, Any]) -> str | None:
    """Why ``body`` is no report, or None: the least checking an honest endpoint does."""
    if body.get("kind") not in KINDS:
        return "kind: must be one of concern, gap, opportunity."
    category = body.get("category")
    if not isinstance(category, str) or not 1 <= len(category) <= 64:
        return "category: 1 to 64 characters."
    if not isinstance(body.get("unit_id"), int):
        return "unit_id: an integer."
    description = body.get("description")
    if not isinstance(description, str) or not 1 <= len(description.strip()) <= 10_000:
        return "description: 1 to 10,000 characters."
    title = body.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > 200):
        return "title: at most 200 characters."
    for flag in ("immediate_risk", "anonymous", "involves_leader", "wants_involvement"):
        if not isinstance(body.get(flag, False), bool):
            return f"{flag}: true or false."
    return None


def create_app(database_url: str, secret: str) -> Flask:
    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = secret
    JWTManager(app)
    engine = make_engine(database_url)
    writer = engine.execution_options(sqlite_begin="IMMEDIATE")

    @app.post("/api/v1/reports")
    def submit() -> tuple[dict[str, Any], int]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {"detail": "The body must be a JSON object."}, 422
        problem = _invalid(body)
        if problem is not None:
            return {"detail": problem}, 422
        reporter = None
        if not body.get("anonymous"):  # as in speakup, no token is read for an anonymous one
            verify_jwt_in_request(optional=True)
            reporter = get_jwt_identity()
        row = new_row(body, reporter=reporter, now=datetime.now(UTC).replace(tzinfo=None))
        with writer.begin() as connection:
            connection.execute(INSERT, row)
        return _dump(row), 201

    @app.get("/api/v1/reports")
    def page() -> tuple[dict[str, Any], int]:
        verify_jwt_in_request()  # what @jwt_required() does
        try:
            limit = int(request.args.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 200:
            return {"detail": "limit: 1 to 200."}, 422
        with engine.connect() as connection:
            rows = connection.execute(PAGE, {"limit": limit}).mappings().all()
        items = [_dump(row) for row in rows]
        cursor = items[-1]["id"] if len(items) == limit else None
        return {"items": items, "next_cursor": cursor}, 200

    @app.get("/api/v1/reports/<report_id>")
    def detail(report_id: str) -> tuple[dict[str, Any], int]:
        verify_jwt_in_request()
        with engine.connect() as connection:
            row = connection.execute(ONE, {"id": report_id}).mappings().first()
        if row is None:
            return {"detail": "No such report."}, 404
        return _dump(row), 200

    @app.post("/api/v1/reports/<report_id>/acknowledge")
    def acknowledge(report_id: str) -> tuple[dict[str, Any], int]:
        verify_jwt_in_request()
        return _step(ACKNOWLEDGE, {"report_id": report_id})

    @app.post("/api/v1/reports/<report_id>/close")
    def close(report_id: str) -> tuple[dict[str, Any], int]:
        verify_jwt_in_request()
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or body.get("outcome") not in OUTCOMES:
            return {"detail": "outcome: one of " + ", ".join(OUTCOMES) + "."}, 422
        response = body.get("response")
        if not isinstance(response, str) or not 1 <= len(response.strip()) <= 10_000:
            return {"detail": "response: 1 to 10,000 characters."}, 422
        return _step(CLOSE, {"report_id": report_id, "outcome": body["outcome"]})

    def _step(statement: Any, values: dict[str, Any]) -> tuple[dict[str, Any], int]:
        now = datetime.now(UTC).replace(tzinfo=None)
        with writer.begin() as connection:
            row = connection.execute(statement, {**values, "now": now}).mappings().first()
        if row is None:
            return {"detail": "No such report in a state that allows this."}, 409
        return _dump(row), 200

    return app


def access_token(secret: str, identity: str) -> str:
    """A bearer token the app accepts, valid for a day."""
    app = Flask(__name__)
    app.config["JWT_SECRET_KEY"] = secret
    JWTManager(app)
    with app.app_context():
        token: str = create_access_token(identity=identity, expires_delta=timedelta(days=1))
    return token
