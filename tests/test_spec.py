"""The committed openapi.yaml is exactly what the code generates, and it is what we serve."""

from pathlib import Path

import yaml
from flask.testing import FlaskClient

from speakup.spec import spec_dict

SPEC = Path(__file__).resolve().parents[1] / "openapi.yaml"


def test_committed_spec_matches_the_code():
    committed = yaml.safe_load(SPEC.read_text())
    generated = spec_dict()
    assert committed == generated, (
        "openapi.yaml is stale: run `make openapi` (speakup openapi --output openapi.yaml) "
        "and commit it"
    )


def test_spec_covers_the_contract_paths():
    paths = yaml.safe_load(SPEC.read_text())["paths"]
    for path, method in [
        ("/api/v1/auth/login", "post"), ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"), ("/api/v1/me", "get"),
        ("/api/v1/reports", "post"), ("/api/v1/reports", "get"),
        ("/api/v1/reports/{report_id}", "get"), ("/api/v1/followup", "post"),
        ("/api/v1/units", "get"), ("/api/v1/units", "post"),
        ("/api/v1/units/{unit_id}", "patch"), ("/api/v1/units/{unit_id}/leaders", "post"),
        ("/api/v1/units/{unit_id}/leaders/{user_id}", "delete"),
        ("/api/v1/users", "post"), ("/api/v1/users/{user_id}", "patch"),
        ("/api/v1/categories", "get"), ("/api/v1/categories/{category_id}", "patch"),
    ]:
        assert method in paths[path], (method, path)


def test_errors_are_documented_as_problem_json():
    spec = yaml.safe_load(SPEC.read_text())
    submit = spec["paths"]["/api/v1/reports"]["post"]["responses"]
    for status in ("400", "413", "415", "422"):
        response = submit[status]
        if "$ref" in response:
            name = response["$ref"].rsplit("/", 1)[-1]
            response = spec["components"]["responses"][name]
        assert list(response["content"]) == ["application/problem+json"], status


def test_served_spec_is_the_committed_file(client: FlaskClient):
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.get_data() == SPEC.read_bytes()


def test_docs_page_uses_only_local_assets(client: FlaskClient):
    page = client.get("/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in page
    assert "//" not in page.replace("<!DOCTYPE", "")  # no scheme-relative or absolute URLs
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/init.js").status_code == 200
