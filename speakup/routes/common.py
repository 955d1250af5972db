"""What every route needs: the request's database session, the clock, and who is asking."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar, cast

import flask_smorest
from flask import Response, current_app, g
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from speakup.app import RUNTIME_KEY
from speakup.jsonbody import BodyParser
from speakup.problems import PROBLEM
from speakup.runtime import Runtime
from speakup.schemas.common import ProblemSchema
from speakup.services import auth
from speakup.services.auth import SESSION_ENDED
from speakup.services.core.actors import Actor
from speakup.services.core.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
# What any route with a JSON body can answer besides its own errors.
JSON_BODY = (400, 411, 413, 415, 422)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """flask-smorest's Blueprint, reading JSON bodies strictly: every body the parser refuses
    (a 5,000-digit number, NaN, a repeated key, deep nesting) is a 400 problem."""

    ARGUMENTS_PARSER = BodyParser()


def send(data: Any, status: int = 200) -> Response:
    """A JSON response of already JSON-ready data (a view's wire form), sent as is: the
    route's schema documents it, and a test holds the two equal."""
    response = cast(Response, current_app.json.response(data))
    response.status_code = status
    return response


def reads() -> Session:
    """The read session of this request: created on first use, closed at teardown.  Routes
    only read through it; commands open their own write block."""
    session: Session | None = g.get("db_read")
    if session is None:
        session = runtime().database.session(write=False)
        g.db_read = session
    return session


@contextmanager
def lookup() -> Iterator[Connection]:
    """A connection for a one-statement read, such as the token check: on PostgreSQL a pooled
    connection in autocommit mode, which spares the BEGIN and ROLLBACK round trips around one
    SELECT (and leaves the request's read session unopened until it is needed); on SQLite,
    where a transaction costs no round trip, the request's read session."""
    database = runtime().database
    if database.is_sqlite:
        yield reads().connection()
        return
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        yield c


def command() -> dict[str, Any]:
    """What a command is called with: the database, the clock, who is asking (``g.actor``,
    set by :func:`requires`), and the request's read session, which the command ends before
    it writes."""
    rt = runtime()
    return {"db": rt.database, "clock": rt.clock, "actor": g.actor, "reads": reads()}


def runtime() -> Runtime:
    """What the app was built with: settings, database, clock, keys, passwords."""
    value: Runtime = current_app.extensions[RUNTIME_KEY]
    return value


def actor_from_token(
    *, refresh: bool = False, any_type: bool = False, optional: bool = False
) -> Actor:
    """Verify the bearer token and build the actor from the live user (roles read now).

    The JWT blocklist loader (:func:`speakup.routes.tokens.refused`) has checked the session
    by then; here, where the user is loaded anyway, the token's session epoch is compared with
    the user's, so that ending all of a user's sessions costs no query per request.

    With ``optional`` a request without a token is the nobody actor; a bad token is still
    refused.
    """
    verify_jwt_in_request(refresh=refresh, verify_type=not any_type, optional=optional)
    claims = get_jwt()
    if not claims:
        return Actor()
    if claims.get("scope") == "followup":
        return Actor(followup_report_id=str(claims["rid"]))
    # Read by the blocklist check (speakup.routes.tokens.refused) that every token passes.
    user: auth.SignedIn | None = g.get("signed_in")
    if user is None or not user.active:
        raise Unauthorized("This account is no longer active.")
    if claims.get("ep") != user.session_epoch:
        # The user's sessions were all ended (new password, deactivation) after this token.
        raise Unauthorized(SESSION_ENDED)
    g.user = user
    return Actor(user_id=user.id, name=user.name, roles=frozenset(user.roles))


def current_user() -> auth.SignedIn:
    """The signed-in user that :func:`actor_from_token` loaded (no second read)."""
    user: auth.SignedIn | None = g.get("user")
    if user is None:
        raise Forbidden("This needs a signed-in user.")
    return user


def requires(blp: Blueprint, *roles: str, followup: bool = False) -> Callable[[F], F]:
    """Demand a valid access token (and one of ``roles``, if given); puts the actor on ``g``.

    Follow-up tokens (anonymous reporters) are accepted only where ``followup`` is True.
    """

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = actor_from_token()
            if actor.followup_report_id is not None and not followup:
                raise Forbidden("A follow-up token only opens its own report.")
            if roles and not actor.has_role(*roles):
                raise Forbidden(f"This needs the role {' or '.join(roles)}.")
            g.actor = actor
            return fn(*args, **kwargs)

        documented = blp.doc(security=BEARER)(wrapper)
        documented = problems(blp, 401)(documented)
        if roles or not followup:
            documented = problems(blp, 403)(documented)
        return documented  # type: ignore[no-any-return]

    return decorate


def problems(
    blp: Blueprint, *statuses: int, descriptions: dict[int, str] | None = None
) -> Callable[[F], F]:
    """Document the problem responses a route can give."""
    described = {
        400: "Malformed JSON",
        401: "No token, or a bad, expired or revoked one",
        403: "The caller's role may not do this",
        411: "Chunked body: send a Content-Length",
        404: "Unknown, or not visible to the caller",
        409: "Conflicts with the current state",
        413: "Body too large",
        415: "Body is not JSON",
        422: "Invalid fields",
        **(descriptions or {}),
    }

    def decorate(fn: F) -> F:
        for status in statuses:
            fn = blp.alt_response(status, schema=ProblemSchema, content_type=PROBLEM,
                                  description=described[status])(fn)
        return fn

    return decorate
