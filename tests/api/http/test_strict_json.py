"""Bodies the JSON parser refuses are 400 problems, never 500s; booleans are JSON booleans;
free text that must say something may not be blank."""

from __future__ import annotations

import json

import flask_smorest
import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import fields

import speakup.schemas.auth
import speakup.schemas.org
import speakup.schemas.reports
from speakup import jsonbody
from speakup.schemas.common import Bool, Input, QueryBool
from tests.support import Login, Org, assert_problem, report_body

# A value that is not JSON speakup reads, in place of a field's value.
REFUSED_VALUES = {
    "4,400-digit integer": "1" * 4400,
    "negative 4,400-digit integer": "-" + "1" * 4400,
    "101-digit integer": "1" * 101,
    "1e999999": "1e999999",
    "-1e999999": "-1e999999",
    "long fraction": "0." + "1" * 200,
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "deeply nested arrays": "[" * 20_000 + "]" * 20_000,
    "deeply nested objects": '{"a":' * 5000 + "1" + "}" * 5000,
    "duplicate keys inside": '{"a": 1, "a": 2}',
}


def bodies(hospital: Org) -> dict[str, str]:
    """A body template per path; ``%V`` stands for one field's value."""
    report = json.dumps(report_body(hospital.ward, title="%V"))
    return {
        "/api/v1/auth/login": '{"email": "nurse@example.org", "password": %V}',
        "/api/v1/followup": '{"receipt_key": %V}',
        "/api/v1/reports": report.replace('"%V"', "%V"),
    }


def post(client: FlaskClient, path: str, data: str | bytes, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(path, data=data, headers={"Content-Type": "application/json", **headers})


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/followup", "/api/v1/reports"])
@pytest.mark.parametrize("value", list(REFUSED_VALUES.values()), ids=list(REFUSED_VALUES))
def test_bodies_the_parser_refuses_are_400(client, hospital: Org, path, value):
    body = bodies(hospital)[path].replace("%V", value)
    problem = assert_problem(post(client, path, body), 400)
    assert problem["detail"] in {jsonbody.BAD_NUMBER, jsonbody.NOT_A_NUMBER, jsonbody.TOO_DEEP,
                                 jsonbody.DUPLICATE_KEY}
    assert "1111" not in json.dumps(problem)  # nothing of the input comes back


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/followup", "/api/v1/reports"])
def test_a_repeated_key_is_400_not_last_one_wins(client, hospital: Org, path):
    template = bodies(hospital)[path]
    first_key = template.split('"')[1]
    body = template.replace("%V", '"x"').replace("{", f'{{"{first_key}": "y", ', 1)
    problem = assert_problem(post(client, path, body), 400)
    assert problem["detail"] == jsonbody.DUPLICATE_KEY


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/followup", "/api/v1/reports"])
@pytest.mark.parametrize("body", [b'{"a": "\xff"}', b"\xef\xbb\xbf{}", b"{", b"   ", b"nul\x00"])
def test_broken_json_and_bytes_that_are_not_utf8_are_400(client, hospital: Org, path, body):
    assert_problem(post(client, path, body), 400)


def test_numbers_json_allows_still_reach_validation(client, hospital: Org, login: Login):
    # A 100-digit integer is JSON speakup reads; the field then says what is wrong with it.
    body = json.dumps(report_body(hospital.ward, anonymous=True)).replace(
        '"anonymous": true', '"anonymous": ' + "9" * 100)
    problem = assert_problem(post(client, "/api/v1/reports", body), 422)
    assert "anonymous" in problem["errors"]


@pytest.mark.parametrize("field", ["anonymous", "immediate_risk", "involves_leader",
                                   "wants_involvement"])
@pytest.mark.parametrize("value", ["true", "false", 1, 0, "yes", "on", "1", None, [], {}])
def test_report_booleans_are_json_true_or_false_only(client, hospital: Org, field, value):
    response = client.post("/api/v1/reports", json=report_body(hospital.ward, **{field: value}))
    problem = assert_problem(response, 422)
    assert field in problem["errors"]


def test_json_booleans_are_still_welcome(client, hospital: Org):
    response = client.post("/api/v1/reports", json=report_body(
        hospital.ward, anonymous=True, immediate_risk=False, involves_leader=False,
        wants_involvement=True))
    assert response.status_code == 201
    assert response.json["wants_involvement"] is True and response.json["anonymous"] is True


@pytest.mark.parametrize("value", [1, "true", "false", "yes", 0])
def test_other_body_booleans_are_strict_too(client, hospital: Org, login: Login, value):
    admin = login("admin")
    for path in (f"/api/v1/units/{hospital.ward}", f"/api/v1/users/{hospital.nurse}",
                 "/api/v1/categories/other"):
        problem = assert_problem(client.patch(path, json={"active": value}, headers=admin), 422)
        assert "active" in problem["errors"]


@pytest.mark.parametrize("value", ["1", "0", "yes", "True", "FALSE", "", "on"])
def test_query_booleans_are_the_strings_true_or_false_only(
    client, hospital: Org, login: Login, value
):
    officer = login("officer")
    problem = assert_problem(client.get("/api/v1/reports", query_string={"overdue": value},
                                        headers=officer), 422)
    assert "overdue" in problem["errors"]
    for path in ("/api/v1/units", "/api/v1/categories"):
        problem = assert_problem(client.get(path, query_string={"include_inactive": value}), 422)
        assert "include_inactive" in problem["errors"]


def test_query_true_and_false_work(client, hospital: Org, login: Login):
    officer, admin = login("officer"), login("admin")
    for value in ("true", "false"):
        assert client.get(f"/api/v1/reports?overdue={value}", headers=officer).status_code == 200
        assert client.get(f"/api/v1/units?include_inactive={value}",
                          headers=admin).status_code == 200


BLANK = ["   ", "\n\t \r\n", "\u00a0\u2003", "\u200b\u200b", " \u3000 "]


@pytest.mark.parametrize("text", BLANK)
def test_a_blank_description_is_422(client, hospital: Org, text):
    response = client.post("/api/v1/reports", json=report_body(hospital.ward, description=text))
    problem = assert_problem(response, 422)
    assert problem["errors"]["description"] == ["Must not be blank."]


@pytest.mark.parametrize("text", BLANK)
def test_blank_names_and_labels_are_422(client, hospital: Org, login: Login, text):
    admin = login("admin")
    cases = [
        ("post", "/api/v1/units", {"name": text, "code": "NEW1"}, "name"),
        ("patch", f"/api/v1/units/{hospital.ward}", {"name": text}, "name"),
        ("post", "/api/v1/users", {"email": "new@example.org", "name": text,
                                   "password": "long enough pw", "roles": ["staff"]}, "name"),
        ("patch", f"/api/v1/users/{hospital.nurse}", {"name": text}, "name"),
        ("post", "/api/v1/categories", {"id": "new_one", "label": text}, "label"),
        ("patch", "/api/v1/categories/other", {"label": text}, "label"),
    ]
    for method, path, body, field in cases:
        response = getattr(client, method)(path, json=body, headers=admin)
        problem = assert_problem(response, 422)
        assert field in problem["errors"], (path, problem)


def test_a_blank_optional_title_means_no_title(client, hospital: Org):
    response = client.post("/api/v1/reports", json=report_body(hospital.ward, title=" \t "))
    assert response.status_code == 201 and response.json["title"] is None


def test_text_with_something_to_read_is_kept_as_written(client, hospital: Org):
    response = client.post("/api/v1/reports", json=report_body(
        hospital.ward, description="  Padded, kept as written.  "))
    assert response.status_code == 201
    assert response.json["description"] == "  Padded, kept as written.  "


# --- wiring ----------------------------------------------------------------------------


def test_every_api_blueprint_reads_bodies_with_the_strict_parser(app: Flask):
    smorest = [bp for bp in app.blueprints.values() if isinstance(bp, flask_smorest.Blueprint)]
    assert smorest
    for blueprint in smorest:
        assert isinstance(blueprint.ARGUMENTS_PARSER, jsonbody.BodyParser), blueprint.name


def test_flask_get_json_is_strict_too(app: Flask):
    for body in ('{"a": 1, "a": 2}', "NaN", "1" * 4400, "[" * 20_000):
        with app.test_request_context("/", method="POST", data=body,
                                      content_type="application/json"):
            from flask import request

            assert request.get_json(silent=True) is None


def _input_schemas() -> list[type[Input]]:
    modules = (speakup.schemas.auth, speakup.schemas.org, speakup.schemas.reports)
    found = [value for module in modules for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, Input)]
    return sorted(set(found), key=lambda schema: schema.__name__)


def test_every_boolean_a_client_sends_is_strict():
    checked = 0
    for schema in _input_schemas():
        for name, field in schema._declared_fields.items():
            if isinstance(field, fields.Boolean):
                expected = QueryBool if schema.__name__.endswith("ArgsSchema") else Bool
                assert type(field) is expected, f"{schema.__name__}.{name}"
                checked += 1
    assert checked >= 8


@pytest.mark.parametrize("text", ["1" * 4400, "NaN", "-Infinity", "1e400", '{"a":1,"a":1}',
                                  "[" * 100_000, b"\xff", "[1,]", ""])
def test_loads_refuses_with_a_fixed_sentence(text):
    with pytest.raises(jsonbody.MalformedJSON) as raised:
        jsonbody.loads(text)
    assert str(raised.value) in {jsonbody.NOT_JSON, jsonbody.NOT_UTF8, jsonbody.TOO_DEEP,
                                 jsonbody.DUPLICATE_KEY, jsonbody.BAD_NUMBER,
                                 jsonbody.NOT_A_NUMBER}


def test_loads_reads_ordinary_json():
    assert jsonbody.loads(b'{"a": [1, 2.5, -3e2, true, null, "\\u00e9"]}') == {
        "a": [1, 2.5, -300.0, True, None, "é"]}
