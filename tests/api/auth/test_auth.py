"""Sign-in, refresh, sign-out and /me through HTTP: tokens form a session, every token error is
an RFC 9457 problem, and passwords are only ever stored as argon2id hashes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import argon2
import jwt as pyjwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import select

from speakup import create_app
from speakup.db import Base, Database
from speakup.models import User
from speakup.services.auth.passwords import Passwords
from speakup.services.core.clock import SettableClock
from speakup.settings import Settings
from tests.support import PASSWORD, Login, Org, assert_problem

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(LOGIN, json={"email": email, "password": password})
    assert response.status_code == 200, response.get_data(True)
    body: dict[str, Any] = response.json
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response: Any) -> dict[str, Any]:
    """A 401 problem in our shape, never flask-jwt-extended's ``{"msg": ...}``."""
    body = assert_problem(response, 401)
    assert "msg" not in body
    assert body["detail"]
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    return body


def stored_user(database: Database, email: str) -> User:
    with database.session(write=False) as s:
        user = s.scalar(select(User).where(User.email == email))
        assert user is not None
        return user


def set_active(database: Database, user_id: str, active: bool) -> None:
    """Flip ``active`` straight in the database (as a script would), leaving sessions alone."""
    with database.session() as s:
        user = s.get(User, user_id)
        assert user is not None
        user.active = active
        s.commit()


@pytest.fixture()
def second_app(settings: Settings, clock: SettableClock, client: FlaskClient) -> Iterator[Flask]:
    """Another app on the same database: stands in for another gunicorn worker."""
    other = create_app(settings, clock=clock)
    yield other
    other.extensions["speakup"].close()


# --- login -----------------------------------------------------------------------------


def test_login_returns_access_and_refresh_token_of_bearer_type(client, hospital: Org):
    response = client.post(LOGIN, json={"email": hospital.emails["nurse"], "password": PASSWORD})

    assert response.status_code == 200
    body = response.json
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["access_token"] and body["refresh_token"]
    assert body["access_token"] != body["refresh_token"]


def test_login_tokens_carry_the_user_and_one_shared_session(app: Flask, client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])

    with app.app_context():
        access = decode_token(tokens["access_token"])
        refresh = decode_token(tokens["refresh_token"])
    assert access["sub"] == refresh["sub"] == hospital.nurse
    assert access["type"] == "access" and refresh["type"] == "refresh"
    assert access["sid"] == refresh["sid"]
    assert access["exp"] - access["iat"] == 15 * 60


def test_login_accepts_email_in_any_case_and_with_surrounding_spaces(client, hospital: Org):
    response = client.post(LOGIN, json={"email": "  NURSE@Example.ORG ", "password": PASSWORD})

    assert response.status_code == 200
    me = client.get(ME, headers=bearer(response.json["access_token"]))
    assert me.json["id"] == hospital.nurse


def test_wrong_password_and_unknown_email_fail_with_identical_401(client, hospital: Org):
    wrong_password = client.post(LOGIN, json={"email": hospital.emails["nurse"],
                                              "password": "not the password"})
    unknown_email = client.post(LOGIN, json={"email": "nobody@example.org",
                                             "password": PASSWORD})

    assert_problem(wrong_password, 401)
    assert_problem(unknown_email, 401)
    assert wrong_password.json == unknown_email.json
    assert wrong_password.headers.get("WWW-Authenticate") == unknown_email.headers.get(
        "WWW-Authenticate")
    assert "access_token" not in wrong_password.json


def test_inactive_user_cannot_log_in_and_fails_like_a_wrong_password(
    client, hospital: Org, database: Database
):
    set_active(database, hospital.nurse, False)

    inactive = client.post(LOGIN, json={"email": hospital.emails["nurse"], "password": PASSWORD})
    unknown = client.post(LOGIN, json={"email": "nobody@example.org", "password": PASSWORD})

    assert_problem(inactive, 401)
    assert inactive.json == unknown.json


def test_login_with_invalid_json_is_400_problem(client, hospital: Org):
    response = client.post(LOGIN, data='{"email": "nurse@example.org",',
                           content_type="application/json")

    body = assert_problem(response, 400)
    assert "access_token" not in body


@pytest.mark.parametrize("raw", ["[]", '"nurse@example.org"', "null", "42"])
def test_login_with_json_that_is_not_an_object_is_422(client, hospital: Org, raw: str):
    response = client.post(LOGIN, data=raw, content_type="application/json")

    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nurse@example.org"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": 42, "password": PASSWORD}, "email"),
        ({"email": "nurse@example.org", "password": ["x"]}, "password"),
        ({"email": "", "password": PASSWORD}, "email"),
        ({"email": "nurse@example.org", "password": ""}, "password"),
    ],
)
def test_login_with_missing_or_mistyped_field_is_422_naming_the_field(
    client, hospital: Org, body: dict[str, Any], field: str
):
    response = client.post(LOGIN, json=body)

    problem = assert_problem(response, 422)
    assert field in problem["errors"]


def test_login_with_empty_body_is_422_naming_both_fields(client, hospital: Org):
    response = client.post(LOGIN, data="", content_type="application/json")

    problem = assert_problem(response, 422)
    assert {"email", "password"} <= set(problem["errors"])


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("email=nurse%40example.org&password=x", "application/x-www-form-urlencoded"),
        ('{"email": "nurse@example.org", "password": "x"}', "text/plain"),
    ],
)
def test_login_with_a_body_that_is_not_json_is_415(client, hospital: Org, data, content_type):
    response = client.post(LOGIN, data=data, content_type=content_type)

    assert_problem(response, 415)


def test_login_with_unknown_field_is_422(client, hospital: Org):
    response = client.post(LOGIN, json={"email": hospital.emails["nurse"], "password": PASSWORD,
                                        "role": "admin"})

    problem = assert_problem(response, 422)
    assert "role" in problem["errors"]


def test_login_with_body_over_64_kib_is_413(client, hospital: Org):
    response = client.post(LOGIN, json={"email": hospital.emails["nurse"],
                                        "password": "x" * (65 * 1024)})

    assert_problem(response, 413)


# --- refresh ---------------------------------------------------------------------------


def test_refresh_with_refresh_token_gives_a_new_working_pair(client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])

    response = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))

    assert response.status_code == 200
    assert set(response.json) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert response.json["token_type"] == "Bearer"
    assert response.json["expires_in"] == 15 * 60
    assert response.json["refresh_token"] != tokens["refresh_token"]
    me = client.get(ME, headers=bearer(response.json["access_token"]))
    assert me.status_code == 200
    assert me.json["id"] == hospital.nurse
    again = client.post(REFRESH, headers=bearer(response.json["refresh_token"]))
    assert again.status_code == 200
    # The access token from sign-in is not replaced: it simply runs out.
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200


def test_a_refresh_token_is_spent_by_use_and_replaying_it_ends_the_session(
    client, hospital: Org
):
    """Rotation: each refresh token works once.  A second use means two parties hold it (a
    copy was stolen, or a client retried), so the whole session ends, newer tokens too."""
    tokens = sign_in(client, hospital.emails["nurse"])
    newer = client.post(REFRESH, headers=bearer(tokens["refresh_token"])).json

    replay = assert_unauthorized(client.post(REFRESH, headers=bearer(tokens["refresh_token"])))

    assert "used before" in replay["detail"]
    assert_unauthorized(client.get(ME, headers=bearer(newer["access_token"])))
    assert_unauthorized(client.post(REFRESH, headers=bearer(newer["refresh_token"])))
    assert_unauthorized(client.get(ME, headers=bearer(tokens["access_token"])))


def test_replaying_a_refresh_token_ends_only_its_own_session(client, hospital: Org):
    phone = sign_in(client, hospital.emails["nurse"])
    desktop = sign_in(client, hospital.emails["nurse"])
    client.post(REFRESH, headers=bearer(phone["refresh_token"]))

    assert_unauthorized(client.post(REFRESH, headers=bearer(phone["refresh_token"])))

    assert client.get(ME, headers=bearer(desktop["access_token"])).status_code == 200
    assert client.post(REFRESH, headers=bearer(desktop["refresh_token"])).status_code == 200


def test_rotated_tokens_keep_the_session_and_its_end(app: Flask, client, hospital: Org,
                                                      clock: SettableClock):
    tokens = sign_in(client, hospital.emails["nurse"])
    clock.advance(days=3)
    newer = client.post(REFRESH, headers=bearer(tokens["refresh_token"])).json

    with app.app_context():
        first = decode_token(tokens["refresh_token"])
        second = decode_token(newer["refresh_token"])
        access = decode_token(newer["access_token"])
    assert second["sid"] == access["sid"] == first["sid"]
    assert second["sx"] == access["sx"] == first["sx"]
    assert second["jti"] != first["jti"]
    # Three days of the fourteen are gone; the new refresh token lasts only the eleven left.
    assert second["exp"] - second["iat"] == pytest.approx(11 * 24 * 3600, abs=5)


def test_refreshed_access_token_belongs_to_the_same_session(app: Flask, client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])
    fresh = client.post(REFRESH, headers=bearer(tokens["refresh_token"])).json["access_token"]

    with app.app_context():
        assert decode_token(fresh)["sid"] == decode_token(tokens["access_token"])["sid"]
    assert client.post(LOGOUT, headers=bearer(fresh)).status_code == 204
    assert_unauthorized(client.get(ME, headers=bearer(tokens["access_token"])))
    assert_unauthorized(client.post(REFRESH, headers=bearer(tokens["refresh_token"])))


def test_refresh_with_access_token_is_401(client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])

    assert_unauthorized(client.post(REFRESH, headers=bearer(tokens["access_token"])))


def test_refresh_token_cannot_be_used_as_access_token(client, hospital: Org):
    tokens = sign_in(client, hospital.emails["admin"])

    assert_unauthorized(client.get(ME, headers=bearer(tokens["refresh_token"])))
    assert_unauthorized(client.get("/api/v1/users", headers=bearer(tokens["refresh_token"])))


def test_refresh_without_token_is_401(client, hospital: Org):
    assert_unauthorized(client.post(REFRESH))


def test_refresh_stops_working_when_the_session_lifetime_has_passed(
    client, hospital: Org, clock: SettableClock
):
    tokens = sign_in(client, hospital.emails["nurse"])

    clock.advance(days=13, hours=23)
    refreshed = client.post(REFRESH, headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    clock.advance(hours=2)
    # Rotation never stretches the session: the newest refresh token ends with it.
    body = assert_unauthorized(client.post(REFRESH,
                                           headers=bearer(refreshed.json["refresh_token"])))
    assert "ended" in body["detail"]
    assert_unauthorized(client.get(ME, headers=bearer(refreshed.json["access_token"])))


def test_refresh_for_a_deactivated_user_is_401(client, hospital: Org, database: Database):
    tokens = sign_in(client, hospital.emails["nurse"])
    set_active(database, hospital.nurse, False)

    assert_unauthorized(client.post(REFRESH, headers=bearer(tokens["refresh_token"])))


# --- logout ----------------------------------------------------------------------------


def test_logout_with_access_token_revokes_access_and_refresh_token(client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200

    response = client.post(LOGOUT, headers=bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_unauthorized(client.get(ME, headers=bearer(tokens["access_token"])))
    assert_unauthorized(client.post(REFRESH, headers=bearer(tokens["refresh_token"])))


def test_logout_with_refresh_token_also_ends_the_session(client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])

    response = client.post(LOGOUT, headers=bearer(tokens["refresh_token"]))

    assert response.status_code == 204
    assert_unauthorized(client.get(ME, headers=bearer(tokens["access_token"])))
    assert_unauthorized(client.post(REFRESH, headers=bearer(tokens["refresh_token"])))


def test_logout_twice_with_the_same_token_is_401(client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])
    assert client.post(LOGOUT, headers=bearer(tokens["access_token"])).status_code == 204

    assert_unauthorized(client.post(LOGOUT, headers=bearer(tokens["access_token"])))


def test_logout_without_token_is_401(client, hospital: Org):
    assert_unauthorized(client.post(LOGOUT))


def test_logout_ends_only_its_own_session(client, hospital: Org):
    phone = sign_in(client, hospital.emails["nurse"])
    desktop = sign_in(client, hospital.emails["nurse"])

    assert client.post(LOGOUT, headers=bearer(phone["access_token"])).status_code == 204

    assert_unauthorized(client.get(ME, headers=bearer(phone["access_token"])))
    assert client.get(ME, headers=bearer(desktop["access_token"])).status_code == 200
    assert client.post(REFRESH, headers=bearer(desktop["refresh_token"])).status_code == 200


def test_logout_on_one_app_instance_revokes_tokens_on_another(
    client, second_app: Flask, hospital: Org
):
    other = second_app.test_client()
    tokens = sign_in(client, hospital.emails["nurse"])
    assert other.get(ME, headers=bearer(tokens["access_token"])).status_code == 200

    assert client.post(LOGOUT, headers=bearer(tokens["access_token"])).status_code == 204

    assert_unauthorized(other.get(ME, headers=bearer(tokens["access_token"])))
    assert_unauthorized(other.post(REFRESH, headers=bearer(tokens["refresh_token"])))


def test_logout_on_the_other_instance_revokes_tokens_here(
    client, second_app: Flask, hospital: Org
):
    other = second_app.test_client()
    tokens = sign_in(client, hospital.emails["admin"])

    assert other.post(LOGOUT, headers=bearer(tokens["refresh_token"])).status_code == 204

    assert_unauthorized(client.get("/api/v1/users", headers=bearer(tokens["access_token"])))
    assert_unauthorized(client.post(REFRESH, headers=bearer(tokens["refresh_token"])))


# --- /me -------------------------------------------------------------------------------


def test_me_shows_the_user_roles_and_units_led(client, hospital: Org, login: Login):
    response = client.get(ME, headers=login("ward_leader"))

    assert response.status_code == 200
    assert response.json == {
        "id": hospital.ward_leader,
        "email": "sister@example.org",
        "name": "Wendy Ward",
        "roles": ["leader", "staff"],
        "unit_id": hospital.ward,
        "active": True,
        "leads_unit_ids": [hospital.ward],
    }


def test_me_for_a_user_who_leads_nothing_has_empty_leads_unit_ids(
    client, hospital: Org, login: Login
):
    nurse = client.get(ME, headers=login("nurse")).json
    admin = client.get(ME, headers=login("admin")).json

    assert nurse["leads_unit_ids"] == [] and nurse["roles"] == ["staff"]
    assert admin["leads_unit_ids"] == [] and admin["roles"] == ["admin"]
    assert admin["unit_id"] is None
    assert "password" not in admin and "password_hash" not in admin


def test_me_lists_every_unit_a_leader_leads(client, hospital: Org, login: Login):
    admin = login("admin")
    added = client.post(f"/api/v1/units/{hospital.medicine}/leaders",
                        json={"user_id": hospital.site_leader}, headers=admin)
    assert added.status_code == 201

    led = client.get(ME, headers=login("site_leader")).json["leads_unit_ids"]

    assert sorted(led) == sorted([hospital.site, hospital.medicine])


# --- bad tokens ------------------------------------------------------------------------


def test_missing_token_is_401_problem(client, hospital: Org):
    body = assert_unauthorized(client.get(ME))

    assert body["type"] == "/problems/unauthorized"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Basic bnVyc2U6cGFzc3dvcmQ=", "garbage"],
)
def test_garbage_authorization_header_is_401_problem(client, hospital: Org, authorization):
    assert_unauthorized(client.get(ME, headers={"Authorization": authorization}))


def test_token_signed_with_another_key_is_401_problem(app: Flask, client, hospital: Org):
    tokens = sign_in(client, hospital.emails["admin"])
    with app.app_context():
        claims = decode_token(tokens["access_token"])
    forged = pyjwt.encode(claims, "some-other-secret-that-is-long-enough", algorithm="HS256")

    assert_unauthorized(client.get("/api/v1/users", headers=bearer(forged)))


def test_unsigned_token_is_401_problem(app: Flask, client, hospital: Org):
    tokens = sign_in(client, hospital.emails["admin"])
    with app.app_context():
        claims = decode_token(tokens["access_token"])
    unsigned = pyjwt.encode(claims, None, algorithm="none")

    assert_unauthorized(client.get("/api/v1/users", headers=bearer(unsigned)))


def test_expired_access_token_is_401_problem(app: Flask, client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])
    with app.app_context():
        sid = decode_token(tokens["access_token"])["sid"]
        expired = create_access_token(identity=hospital.nurse, additional_claims={"sid": sid},
                                      expires_delta=timedelta(minutes=-1))

    body = assert_unauthorized(client.get(ME, headers=bearer(expired)))
    assert "expired" in body["detail"]
    # The session itself is still live: the same claims with a valid expiry work.
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200


def test_expired_refresh_token_is_401_problem(app: Flask, client, hospital: Org):
    tokens = sign_in(client, hospital.emails["nurse"])
    with app.app_context():
        sid = decode_token(tokens["refresh_token"])["sid"]
        expired = create_refresh_token(identity=hospital.nurse, additional_claims={"sid": sid},
                                       expires_delta=timedelta(seconds=-1))

    assert_unauthorized(client.post(REFRESH, headers=bearer(expired)))


def test_token_not_bound_to_a_session_is_401(app: Flask, client, hospital: Org):
    with app.app_context():
        sessionless = create_access_token(identity=hospital.admin)
        refresh = create_refresh_token(identity=hospital.admin)

    assert_unauthorized(client.get("/api/v1/users", headers=bearer(sessionless)))
    assert_unauthorized(client.post(REFRESH, headers=bearer(refresh)))
    assert_unauthorized(client.post(LOGOUT, headers=bearer(sessionless)))


# A session ending 2026-03-10 (the test clock starts on 2026-03-02).
SESSION_CLAIMS = {"sid": "s" * 26, "ep": 0, "sx": 1_773_100_800}


@pytest.mark.parametrize(
    "claims",
    [
        {"sid": None}, {"sid": ""}, {"sid": ["a", "list"]}, {"sid": 42}, {"sid": "s" * 65},
        {"ep": None}, {"ep": "0"}, {"ep": True}, {"ep": 1},
        {"sx": None}, {"sx": "1773100800"}, {"sx": 1_773_100_800.5}, {"sx": 10**30},
        {"sx": -1}, {"sx": 1_000_000_000}, {"sx": 1_773_100_800 + 15 * 24 * 3600},
    ],
    ids=lambda claims: repr(claims)[:40],
)
def test_token_with_missing_or_malformed_session_claims_is_401_never_500(
    app: Flask, client, hospital: Org, claims: dict[str, Any]
):
    """Tokens are signed by us, so this needs the key; still, no shape of claims may crash."""
    merged = {k: v for k, v in {**SESSION_CLAIMS, **claims}.items() if v is not None}
    with app.app_context():
        access = create_access_token(identity=hospital.admin, additional_claims=merged)
        refresh = create_refresh_token(identity=hospital.admin, additional_claims=merged)

    assert_unauthorized(client.get("/api/v1/users", headers=bearer(access)))
    assert_unauthorized(client.post(REFRESH, headers=bearer(refresh)))
    assert_unauthorized(client.post(LOGOUT, headers=bearer(refresh)))


def test_well_formed_session_claims_are_accepted(app: Flask, client, hospital: Org):
    """The counterpart of the test above: the claims it breaks are the ones that matter."""
    with app.app_context():
        access = create_access_token(identity=hospital.admin,
                                     additional_claims=SESSION_CLAIMS)
    assert client.get("/api/v1/users", headers=bearer(access)).status_code == 200


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "e30.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA", "x" * 5000],
)
def test_refresh_and_logout_with_a_garbage_token_are_401(client, hospital: Org, token: str):
    assert_unauthorized(client.post(REFRESH, headers=bearer(token)))
    assert_unauthorized(client.post(LOGOUT, headers=bearer(token)))


def test_refresh_with_a_forged_refresh_token_is_401(app: Flask, client, hospital: Org):
    tokens = sign_in(client, hospital.emails["admin"])
    with app.app_context():
        claims = decode_token(tokens["refresh_token"])
    forged = pyjwt.encode({**claims, "sx": claims["sx"] + 10**6},
                          "some-other-secret-that-is-long-enough", algorithm="HS256")
    unsigned = pyjwt.encode(claims, None, algorithm="none")

    assert_unauthorized(client.post(REFRESH, headers=bearer(forged)))
    assert_unauthorized(client.post(REFRESH, headers=bearer(unsigned)))
    # Neither spent the real token.
    assert client.post(REFRESH, headers=bearer(tokens["refresh_token"])).status_code == 200


def test_refresh_token_without_a_token_id_is_401(app: Flask, client, hospital: Org):
    tokens = sign_in(client, hospital.emails["admin"])
    with app.app_context():
        claims = decode_token(tokens["refresh_token"])
    claims.pop("jti")
    no_jti = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")

    assert_unauthorized(client.post(REFRESH, headers=bearer(no_jti)))


def test_follow_up_token_cannot_refresh(client, hospital: Org):
    report = client.post("/api/v1/reports", json={
        "kind": "gap", "category": "other", "unit_id": hospital.ward,
        "description": "Hand-over gap."}).json
    followup = client.post("/api/v1/followup", json={"receipt_key": report["receipt_key"]}).json

    assert_unauthorized(client.post(REFRESH, headers=bearer(followup["access_token"])))


def test_token_of_an_older_session_epoch_is_401(app: Flask, client, hospital: Org):
    """A token issued before the user's sessions were all ended carries the old epoch."""
    tokens = sign_in(client, hospital.emails["admin"])
    with app.app_context():
        claims = decode_token(tokens["access_token"])
        stale = create_access_token(identity=hospital.admin,
                                    additional_claims={**SESSION_CLAIMS, "sid": claims["sid"],
                                                       "ep": claims["ep"] - 1})

    body = assert_unauthorized(client.get("/api/v1/users", headers=bearer(stale)))
    assert body["detail"] == "This session has ended; sign in again."


def test_password_change_ends_every_session_and_its_refresh_tokens(
    client, hospital: Org, login: Login
):
    phone = sign_in(client, hospital.emails["nurse"])
    desktop = sign_in(client, hospital.emails["nurse"])

    changed = client.patch(f"/api/v1/users/{hospital.nurse}",
                           json={"password": "a brand new passphrase"}, headers=login("admin"))
    assert changed.status_code == 200

    for tokens in (phone, desktop):
        assert_unauthorized(client.get(ME, headers=bearer(tokens["access_token"])))
        assert_unauthorized(client.post(REFRESH, headers=bearer(tokens["refresh_token"])))
    fresh = sign_in(client, hospital.emails["nurse"], "a brand new passphrase")
    assert client.get(ME, headers=bearer(fresh["access_token"])).status_code == 200
    assert client.post(REFRESH, headers=bearer(fresh["refresh_token"])).status_code == 200


def test_token_of_a_user_deactivated_by_an_admin_is_401(client, hospital: Org, login: Login):
    nurse = login("nurse")
    assert client.get(ME, headers=nurse).status_code == 200

    deactivated = client.patch(f"/api/v1/users/{hospital.nurse}", json={"active": False},
                               headers=login("admin"))
    assert deactivated.status_code == 200

    assert_unauthorized(client.get(ME, headers=nurse))


def test_token_of_a_user_deactivated_in_the_database_is_401_although_session_is_live(
    client, hospital: Org, login: Login, database: Database
):
    nurse = login("nurse")
    set_active(database, hospital.nurse, False)

    assert_unauthorized(client.get(ME, headers=nurse))
    set_active(database, hospital.nurse, True)
    assert client.get(ME, headers=nurse).status_code == 200


def test_unknown_route_under_api_is_a_problem_not_html(client, hospital: Org):
    response = client.get("/api/v1/no-such-thing")

    assert_problem(response, 404)


# --- password storage ------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_hashes(client, hospital: Org, database: Database):
    for email in hospital.emails.values():
        stored = stored_user(database, email).password_hash
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored


def test_password_of_a_user_created_by_api_is_never_stored_in_plain_text(
    client, hospital: Org, login: Login, database: Database
):
    secret = "a very particular passphrase 7781"
    created = client.post("/api/v1/users", headers=login("admin"), json={
        "email": "new@example.org", "name": "New Starter", "password": secret,
        "roles": ["staff"], "unit_id": hospital.ward})
    assert created.status_code == 201
    assert secret not in created.get_data(as_text=True)

    stored = stored_user(database, "new@example.org").password_hash
    assert stored.startswith("$argon2id$")
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                assert not any(secret in str(value) for value in row), table.name
    assert sign_in(client, "new@example.org", secret)["access_token"]


def test_login_upgrades_a_hash_made_with_outdated_parameters(
    client, hospital: Org, database: Database, passwords: Passwords
):
    old = argon2.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1,
                                type=argon2.Type.ID).hash(PASSWORD)
    with database.session() as s:
        user = s.get(User, hospital.nurse)
        assert user is not None
        user.password_hash = old
        s.commit()
    assert passwords.needs_rehash(old)

    sign_in(client, hospital.emails["nurse"])

    upgraded = stored_user(database, hospital.emails["nurse"]).password_hash
    assert upgraded != old
    assert upgraded.startswith("$argon2id$")
    assert not passwords.needs_rehash(upgraded)
    assert passwords.verify(upgraded, PASSWORD)


@pytest.fixture()
def lock_probe(app, monkeypatch) -> list[bool]:
    """Records, each time a password is hashed or verified, whether another connection could
    take SQLite's write lock at that moment."""
    import sqlite3

    database = app.extensions["speakup"].database
    if not database.is_sqlite:
        pytest.skip("SQLite's write lock")
    path = database.engine.url.database
    passwords = app.extensions["speakup"].passwords
    writable: list[bool] = []

    def probe() -> None:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            writable.append(True)
        except sqlite3.OperationalError:
            writable.append(False)
        finally:
            other.close()

    for name in ("verify", "hash"):
        original = getattr(passwords, name)

        def probed(*args, _original=original):
            probe()
            return _original(*args)

        monkeypatch.setattr(passwords, name, probed)
    return writable


def test_password_work_never_holds_the_sqlite_write_lock(
    client, hospital, login: Login, lock_probe
):
    """argon2 is slow on purpose; if it ran inside a writing transaction, every other writer
    (an anonymous report included) would queue behind each login attempt or password change."""
    good = client.post("/api/v1/auth/login",
                       json={"email": hospital.emails["nurse"], "password": PASSWORD})
    bad = client.post("/api/v1/auth/login",
                      json={"email": hospital.emails["nurse"], "password": "wrong one"})
    assert good.status_code == 200 and bad.status_code == 401
    admin = login("admin")
    created = client.post("/api/v1/users", headers=admin, json={
        "email": "new@example.org", "name": "New", "password": "long enough pw",
        "roles": ["staff"]})
    changed = client.patch(f"/api/v1/users/{hospital.nurse}", headers=admin,
                           json={"password": "another long one"})
    assert created.status_code == 201 and changed.status_code == 200
    assert lock_probe and all(lock_probe), lock_probe


def test_a_password_changed_during_sign_in_wins(app, client, hospital, monkeypatch):
    """The password is checked outside the write transaction; an admin's reset landing in
    between must not be undone, nor the old password let in."""
    from speakup.services import org

    passwords = app.extensions["speakup"].passwords
    original = passwords.verify

    def verify_then_reset(stored, password):
        result = original(stored, password)
        runtime = app.extensions["speakup"]
        org.update_user(runtime.database, hospital.nurse, clock=runtime.clock,
                        passwords=passwords, password="reset by admin")
        return result

    monkeypatch.setattr(passwords, "verify", verify_then_reset)
    response = client.post("/api/v1/auth/login",
                           json={"email": hospital.emails["nurse"], "password": PASSWORD})
    assert_problem(response, 401)
    monkeypatch.setattr(passwords, "verify", original)
    assert client.post("/api/v1/auth/login", json={
        "email": hospital.emails["nurse"], "password": "reset by admin"}).status_code == 200


def test_sign_in_and_follow_up_work_while_another_writer_holds_the_lock(
    app, client, hospital, monkeypatch
):
    """Neither writes anything, so neither may queue for SQLite's write lock.  (A refresh
    does write: it spends its refresh token, one short insert.)"""
    import sqlite3

    from speakup import db as db_module

    database = app.extensions["speakup"].database
    if not database.is_sqlite:
        pytest.skip("SQLite's write lock")
    report = client.post("/api/v1/reports", json={
        "kind": "gap", "category": "other", "unit_id": hospital.ward,
        "description": "Hand-over gap."}).json
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 0)
    database.dispose()  # new connections, without a busy timeout: waiting would fail at once
    holder = sqlite3.connect(database.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        signed_in = client.post(LOGIN, json={"email": hospital.emails["nurse"],
                                             "password": PASSWORD})
        followed = client.post("/api/v1/followup", json={"receipt_key": report["receipt_key"]})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        database.dispose()
    assert signed_in.status_code == 200, signed_in.json
    assert followed.status_code == 200, followed.json
