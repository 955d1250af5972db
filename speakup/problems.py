"""Every error as ``application/problem+json`` (RFC 9457), never an HTML page or a traceback.

Domain errors, marshmallow/webargs validation, werkzeug HTTP errors, flask-jwt-extended's
token errors and database outages all end here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, json
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from speakup.services.core.errors import ServiceError

PROBLEM = "application/problem+json"
log = logging.getLogger("speakup")

TYPES = {
    400: "/problems/malformed-request",
    401: "/problems/unauthorized",
    403: "/problems/forbidden",
    404: "/problems/not-found",
    405: "/problems/method-not-allowed",
    408: "/problems/request-timeout",
    409: "/problems/conflict",
    411: "/problems/length-required",
    413: "/problems/body-too-large",
    414: "/problems/uri-too-long",
    415: "/problems/unsupported-media-type",
    422: "/problems/validation",
    429: "/problems/rate-limited",
    431: "/problems/header-fields-too-large",
    500: "/problems/internal",
    503: "/problems/unavailable",
}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    type: str | None = None,
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type or TYPES.get(status, "about:blank"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = dict(errors)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def unauthorized(detail: str) -> Response:
    return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def http_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = _flatten(data.get("messages")) if "messages" in data else None
    title = error.name
    if status == 422:
        detail = "Some fields are not valid; see errors."
    elif status == 400 and errors:
        detail = "The request body is not valid JSON."
        errors = None
    elif status == 413:
        detail = "The request body is larger than this API accepts."
    else:
        detail = error.description or title
    allowed = getattr(error, "valid_methods", None)
    headers = {"Allow": ", ".join(allowed)} if allowed else None
    return problem(status, title, detail, errors=errors, headers=headers)


def _flatten(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {...}}); clients want field -> messages."""
    flat: dict[str, list[str]] = {}
    if not isinstance(messages, Mapping):
        return {"_": [str(messages)]}
    for location, fields in messages.items():
        if isinstance(fields, Mapping):
            for name, value in fields.items():
                flat[str(name)] = _messages(value)
        else:
            flat[str(location)] = _messages(fields)
    return flat


def _messages(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        out: list[str] = []
        for item in value:
            out.extend(_messages(item))
        return out
    if isinstance(value, Mapping):
        return [f"{k}: {m}" for k, v in value.items() for m in _messages(v)]
    return [str(value)]


def _is_unique_violation(error: IntegrityError) -> bool:
    if getattr(error.orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    return str(error.orig).startswith("UNIQUE constraint failed")  # SQLite


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return problem(error.status, error.title, error.detail, type=error.type,
                       errors=error.errors or None, headers=headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _database_down(error: Exception) -> Response:
        # Only the class name: never statement text or parameters.
        log.warning("database unavailable: %s", type(getattr(error, "orig", error)).__name__)
        return problem(503, "Service unavailable", "The database is not reachable just now.",
                       headers={"Retry-After": "5"})

    @app.errorhandler(InternalError)
    def _read_only(error: InternalError) -> Response:
        # A hot standby, or default_transaction_read_only: writes fail until that ends.
        if getattr(error.orig, "sqlstate", None) != "25006":  # read_only_sql_transaction
            log.error("database error: %s", type(error.orig).__name__)
            return problem(500, "Internal server error", "Something went wrong on our side.")
        log.warning("database read-only: %s", type(error.orig).__name__)
        return problem(503, "Service unavailable", "The database takes no writes just now.",
                       headers={"Retry-After": "30"})

    @app.errorhandler(IntegrityError)
    def _lost_race(error: IntegrityError) -> Response:
        # Services check uniqueness first; only a concurrent writer with the same value gets
        # here, and the answer is the same as theirs: a conflict.  Any other broken
        # constraint is a bug, and says so.
        if not _is_unique_violation(error):
            log.error("integrity error: %s", type(error.orig).__name__)
            return problem(500, "Internal server error", "Something went wrong on our side.")
        return problem(409, "Conflict", "Someone else just made the same change; reload and "
                       "try again.")

    @app.errorhandler(RecursionError)
    def _too_deep(_error: RecursionError) -> Response:
        return problem(400, "Bad Request", "The request body is nested too deeply.")

    @app.errorhandler(DataError)
    def _unstorable(_error: DataError) -> Response:
        return problem(422, "Invalid input", "A value could not be stored as given.")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return http_problem(error)
        log.error("unhandled %s", type(error).__name__, exc_info=error)
        return problem(500, "Internal server error", "Something went wrong on our side.")
