"""Every error is a problem+json answer; nothing leaks a traceback or database detail."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from speakup import create_app
from speakup.settings import Settings
from tests.support import assert_problem


def test_unknown_api_path_is_a_problem_not_an_html_page(client):
    body = assert_problem(client.get("/api/v1/nothing-here"), 404)
    assert "<" not in body["detail"]


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/v1/categories")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_unexpected_errors_say_nothing_about_the_inside(settings: Settings, database):
    app = create_app(settings)

    @app.get("/api/v1/explode")
    def explode() -> str:
        raise RuntimeError("secret table layout and report text")

    response = app.test_client().get("/api/v1/explode")
    body = assert_problem(response, 500)
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["detail"]
    app.extensions["speakup"].close()


def test_database_unavailable_is_503_with_retry_after(tmp_path: Path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/missing/dir/x.db", secret_key="s" * 40,
                        instance_path=tmp_path, argon2_time_cost=1, argon2_memory_kib=8)
    app: Flask = create_app(settings)
    client = app.test_client()
    response = client.get("/api/v1/categories")
    assert_problem(response, 503)
    assert response.headers["Retry-After"]
    assert_problem(client.get("/readyz"), 503)
    assert client.get("/healthz").status_code == 200


def test_readyz_says_ready_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json == {"status": "ready"}


def test_security_headers_on_api_answers(client):
    response = client.get("/api/v1/categories")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
