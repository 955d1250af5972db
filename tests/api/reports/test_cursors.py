"""Cursors are signed and opaque: only one this server handed out for this list is accepted;
anything else is a 422 naming ``cursor``, never a 500."""

from __future__ import annotations

import base64
import json

import pytest
from flask.testing import FlaskClient

from speakup.models import Report
from speakup.services.core import pages
from speakup.services.core.keys import Keys
from tests.support import Login, Org, assert_problem, report_body

FORGED = [
    "W1t7InQiOiAiMjAzMC0wMS0wMVQwMDowMDowMCswMDowMCJ9XSwgInoiXQ",  # [[{"t": ...}], "z"]
    "WyIyMDMwLTAxLTAxIiwgInoiXQ",  # ["2030-01-01", "z"]
    "WzUsICJ6Il0",  # [5, "z"]
]
NOT_CURSORS = [
    "",
    "%%%",
    "not a cursor!",
    "QUJD=",
    "é",
    "A" * 501,
    "A" * 20_000,
    "A" * 500,
    "_" * 64,
]


def cursor_of(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def refused(response) -> None:  # type: ignore[no-untyped-def]
    body = assert_problem(response, 422)
    # The same answer whatever was wrong: nothing tells a forger which check failed.
    assert body == {"type": "/problems/validation", "title": "Invalid input", "status": 422,
                    "detail": pages.BAD_CURSOR, "errors": {"cursor": [pages.BAD_CURSOR]}}


@pytest.fixture()
def reports(client: FlaskClient, hospital: Org) -> None:
    for i in range(5):
        assert client.post("/api/v1/reports", json=report_body(
            hospital.ward, description=f"Report {i}.")).status_code == 201


def first_cursor(client: FlaskClient, path: str, headers: dict[str, str]) -> str:
    page = client.get(f"{path}?limit=2", headers=headers).json
    cursor: str = page["next_cursor"]
    assert cursor
    return cursor


def test_the_forged_cursors_of_the_report_are_422(client, hospital: Org, login: Login):
    assert cursor_of(["2030-01-01", "z"]) == FORGED[1] and cursor_of([5, "z"]) == FORGED[2]
    officer, admin = login("officer"), login("admin")
    for cursor in FORGED:
        refused(client.get(f"/api/v1/reports?cursor={cursor}", headers=officer))
        refused(client.get(f"/api/v1/units?cursor={cursor}"))
        refused(client.get(f"/api/v1/users?cursor={cursor}", headers=admin))


@pytest.mark.parametrize("cursor", NOT_CURSORS)
def test_anything_that_is_not_a_cursor_is_422(client, hospital: Org, login: Login, cursor):
    refused(client.get("/api/v1/reports", query_string={"cursor": cursor},
                       headers=login("officer")))
    refused(client.get("/api/v1/units", query_string={"cursor": cursor}))


def test_a_cursor_with_any_byte_flipped_is_422(client, reports, login: Login):
    officer = login("officer")
    cursor = first_cursor(client, "/api/v1/reports", officer)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for position in range(len(raw)):
        for bit in (0x01, 0x80):
            flipped = bytearray(raw)
            flipped[position] ^= bit
            forged = base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
            refused(client.get("/api/v1/reports", query_string={"cursor": forged},
                               headers=officer))
    # One character changed in the text, and the cursor cut short or lengthened.
    swapped = cursor[:-1] + ("A" if cursor[-1] != "A" else "B")
    for forged in (swapped, cursor[:-1], cursor + "A", cursor + cursor):
        refused(client.get("/api/v1/reports", query_string={"cursor": forged},
                           headers=officer))


def test_a_cursor_signed_under_another_secret_is_422(client, reports, login: Login, settings):
    officer = login("officer")
    cursor = first_cursor(client, "/api/v1/reports", officer)
    scope = pages.scope([Report.created_at, Report.id], True)
    ours = Keys.from_secret(settings.secret_key).cursor
    theirs = Keys.from_secret("another-secret-" * 4).cursor
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    values = json.loads(raw[16:])
    # Re-signing the same values under our key gives the very cursor we handed out...
    assert pages.encode_cursor(ours, scope, values) == cursor
    # ...and under another server's key, nothing this server accepts.
    refused(client.get("/api/v1/reports", headers=officer,
                       query_string={"cursor": pages.encode_cursor(theirs, scope, values)}))


def test_a_cursor_of_one_list_is_refused_by_another(client, hospital: Org, login: Login):
    admin = login("admin")
    units = first_cursor(client, "/api/v1/units", {})
    refused(client.get("/api/v1/users", query_string={"cursor": units}, headers=admin))
    users = first_cursor(client, "/api/v1/users", admin)
    refused(client.get("/api/v1/units", query_string={"cursor": users}))


def test_handed_out_cursors_page_through_every_list(client, reports, login: Login):
    for path, headers, total in (("/api/v1/reports", login("officer"), 5),
                                 ("/api/v1/units", {}, 3),
                                 ("/api/v1/users", login("admin"), 5)):
        seen: list[str] = []
        page = client.get(f"{path}?limit=2", headers=headers).json
        seen += [item["id"] for item in page["items"]]
        while page["next_cursor"]:
            cursor = page["next_cursor"]
            assert len(cursor) <= 120 and set(cursor) <= set(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            page = client.get(path, query_string={"limit": 2, "cursor": cursor},
                              headers=headers).json
            seen += [item["id"] for item in page["items"]]
        assert len(seen) == len(set(seen)) == total
        # A cursor can be used again: the same page comes back.
        again = client.get(path, query_string={"limit": 2, "cursor": cursor}, headers=headers)
        assert again.json == page


def test_signed_cursors_with_values_no_column_holds_are_still_422(settings):
    key = Keys.from_secret(settings.secret_key).cursor
    columns = [Report.created_at, Report.id]
    scope = pages.scope(columns, True)
    for values in ([[1], "z"], ["2030-01-01", "z"], [5, ""], [5, "a\x00b"], [5, "x" * 65],
                   [True, "z"], [10**20, "z"], [-(10**20), "z"], [5, 5], [5], [5, "z", 1]):
        with pytest.raises(pages.Invalid):
            pages.decode_cursor(key, scope, pages.encode_cursor(key, scope, values), columns)
