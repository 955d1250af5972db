"""The Flask application: wiring of settings, database, extensions, routes and errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, request

from speakup.runtime import Runtime
from speakup.services.core.clock import Clock
from speakup.settings import Settings

API_DESCRIPTION = (
    "speakup lets healthcare staff raise a concern, a gap or an improvement opportunity in a "
    "minute, named or truly anonymous, and shows them that somebody listened.  Errors are "
    "RFC 9457 problems (`application/problem+json`)."
)
RUNTIME_KEY = "speakup"  # app.extensions[RUNTIME_KEY] is the Runtime
ROUTE_KEY = "speakup.route"  # read by speakup.serving's access log
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               runtime: Runtime | None = None) -> Flask:
    """The one place that wires speakup together, around a :class:`Runtime` (built here
    from ``settings`` unless given)."""
    from speakup import problems, ratelimits, routes
    from speakup.extensions import Api, jwt
    from speakup.jsonbody import JSONProvider
    from speakup.routes.ops import bp as ops_bp

    if runtime is None:
        runtime = Runtime.build(settings or Settings.from_env(), clock=clock, serving=True)
    settings = runtime.settings
    _configure_logging(settings)
    app = Flask("speakup", instance_path=str(settings.instance_path))
    keys = runtime.keys
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JWT_SECRET_KEY=keys.jwt,
        JWT_ALGORITHM="HS256",
        JWT_TOKEN_LOCATION=["headers"],
        JWT_COOKIE_CSRF_PROTECT=False,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=settings.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=settings.refresh_token_days),
        API_TITLE="speakup",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
        },
    )
    app.json = JSONProvider(app)  # strict reading: every body it refuses is a 400
    app.extensions[RUNTIME_KEY] = runtime

    api = Api()
    api.init_app(app)
    app.extensions["speakup.api"] = api
    jwt.init_app(app)
    _jwt_callbacks(app)
    routes.register(api)
    app.register_blueprint(ops_bp)
    problems.register(app)
    if settings.proxy_count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only the address the trusted proxies saw; no other forwarded header is believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count,  # type: ignore[method-assign]
                                x_proto=0, x_host=0, x_port=0, x_prefix=0)
    app.before_request(_check_body)
    # After the body checks: a body refused as too large or not JSON is not counted.
    app.extensions["speakup.limiter"] = ratelimits.init_app(app, settings)
    app.url_value_preprocessor(_check_path_values)
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_session)
    return app


def _check_body() -> Response | None:
    """415 for a body that is not JSON and 413 for one too large, before anything reads it."""
    from speakup.problems import problem

    if not request.path.startswith("/api/"):
        return None
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        return problem(413, "Content Too Large",
                       "The request body is larger than this API accepts.")
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # Without a length the size limit could only cut the body short; ask for one.
        return problem(411, "Length Required", "Send the body with a Content-Length header.")
    if request.content_length and not request.is_json:
        return problem(415, "Unsupported Media Type",
                       "Send the body as JSON with Content-Type: application/json.")
    return None


def _check_path_values(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An id in the path that no row could have (NUL, broken Unicode) is simply not found."""
    from werkzeug.exceptions import NotFound

    for value in (values or {}).values():
        if isinstance(value, str) and (not value.isprintable() or len(value) > 64):
            raise NotFound()


def _security_headers(response: Response) -> Response:
    if request.url_rule is not None:
        # The access log names the route, never the ids in the path.
        request.environ[ROUTE_KEY] = request.url_rule.rule
        if request.method == "OPTIONS" and response.status_code == 200:
            # Flask's automatic answer is an empty text/html 200; say just what is allowed.
            response = Response(status=204, headers={"Allow": response.headers["Allow"]})
    headers = response.headers
    headers.setdefault("Cache-Control", "no-store")
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    docs = request.path == "/docs" or request.path.startswith("/docs/")
    headers["Content-Security-Policy"] = DOCS_CSP if docs else API_CSP
    return response


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_read", None)
    if session is not None:
        session.close()


def _jwt_callbacks(app: Flask) -> None:
    from speakup.extensions import jwt
    from speakup.routes.tokens import refused

    @jwt.token_in_blocklist_loader
    def _revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        return refused(payload)

    # flask-jwt-extended would answer {"msg": ...}, and 422 for some bad tokens.
    invalid = "The bearer token is not valid here."
    jwt.unauthorized_loader(_refuse("This needs a bearer token: Authorization: Bearer <token>."))
    jwt.invalid_token_loader(_refuse(invalid))
    jwt.token_verification_failed_loader(_refuse(invalid))
    jwt.expired_token_loader(_refuse("The token has expired; refresh it or sign in again."))
    jwt.revoked_token_loader(_refuse("This session has ended; sign in again."))


def _refuse(detail: str) -> Callable[..., Response]:
    """A flask-jwt-extended error callback answering a 401 problem."""
    from speakup.problems import unauthorized

    def answer(*_details: Any) -> Response:
        return unauthorized(detail)

    return answer


def _configure_logging(settings: Settings) -> None:
    logger = logging.getLogger("speakup")
    logger.setLevel(settings.log_level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
