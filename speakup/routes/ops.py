"""Operations: liveness, readiness, the committed spec and the browsable docs."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Response, render_template_string, send_from_directory

from speakup import readiness
from speakup.problems import problem
from speakup.routes.common import runtime

bp = Blueprint("ops", __name__)
_PACKAGE = Path(__file__).resolve().parents[1]
# The source tree's committed file, or the copy packed into a wheel.
SPEC_FILE = next(
    (p for p in (_PACKAGE.parent / "openapi.yaml", _PACKAGE / "openapi.yaml") if p.exists()),
    _PACKAGE.parent / "openapi.yaml",
)
ASSETS = Path(swagger_ui_bundle.swagger_ui_path)

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>speakup API</title>
  <link rel="stylesheet" href="{{ url_for('ops.docs_asset', name='swagger-ui.css') }}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{{ url_for('ops.docs_asset', name='swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('ops.docs_asset', name='swagger-ui-standalone-preset.js') }}"></script>
  <script src="{{ url_for('ops.docs_init') }}"></script>
</body>
</html>
"""

DOCS_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "%s",
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
"""


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no database call)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Response | dict[str, str]:
    """Within two seconds: the database answers, carries the newest migration and takes
    writes; otherwise a 503 problem saying which of these failed."""
    not_ready = readiness.check(runtime().database)
    if not_ready is not None:
        return problem(503, "Not ready", not_ready.detail,
                       headers={"Retry-After": str(not_ready.retry_after)})
    return {"status": "ready"}


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    """The committed OpenAPI document."""
    return Response(SPEC_FILE.read_bytes(), mimetype="application/yaml")


@bp.get("/docs")
def docs() -> str:
    return render_template_string(DOCS_PAGE)


@bp.get("/docs/init.js")
def docs_init() -> Response:
    # A file rather than an inline script, so the page can keep a strict CSP.
    return Response(DOCS_INIT % "/openapi.yaml", mimetype="text/javascript")


@bp.get("/docs/assets/<path:name>")
def docs_asset(name: str) -> Response:
    return send_from_directory(ASSETS, name, max_age=3600)
