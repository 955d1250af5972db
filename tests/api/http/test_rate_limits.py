"""Rate limits: sign-in per account and per client, follow-up per client and for everyone,
intake per client; 429 problem+json with Retry-After; counters that keep no address."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from speakup import create_app, ratelimits
from speakup.services.core.clock import SettableClock
from speakup.settings import ConfigError, Settings
from tests.support import PASSWORD, Org, assert_problem, fresh_window, report_body

NURSE_ADDRESS = "203.0.113.7"


def login(client: FlaskClient, email: str, password: str, address: str = NURSE_ADDRESS):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def assert_limited(response) -> int:
    body = assert_problem(response, 429)
    assert body["type"] == "/problems/rate-limited"
    retry = int(response.headers["Retry-After"])
    assert retry >= 1
    return retry


def test_ten_wrong_passwords_lock_the_account_not_the_client(client: FlaskClient, hospital: Org):
    nurse = hospital.emails["nurse"]
    for _ in range(10):
        assert login(client, nurse, "wrong password").status_code == 401
    retry = assert_limited(login(client, nurse, PASSWORD))  # even the right one now waits
    assert retry <= 15 * 60
    # Typed differently, it is still the same account.
    assert_limited(login(client, f"  {nurse.upper()} ", PASSWORD))
    # Other accounts, from the same client, are not affected.
    assert login(client, hospital.emails["admin"], PASSWORD).status_code == 200


def test_successful_sign_ins_do_not_count_against_the_account(client: FlaskClient,
                                                              hospital: Org):
    for i in range(15):
        address = f"198.51.100.{i}"
        assert login(client, hospital.emails["nurse"], PASSWORD, address).status_code == 200


def test_one_client_guessing_many_accounts_is_limited(client: FlaskClient, hospital: Org):
    fresh_window()
    for i in range(30):
        assert login(client, f"guess{i}@example.org", "password?").status_code == 401
    assert_limited(login(client, hospital.emails["nurse"], PASSWORD))
    # Another client is not.
    assert login(client, hospital.emails["nurse"], PASSWORD, "192.0.2.1").status_code == 200


def test_receipt_key_guessing_is_limited_per_client(client: FlaskClient, hospital: Org):
    created = client.post("/api/v1/reports", json=report_body(hospital.ward, anonymous=True),
                          environ_base={"REMOTE_ADDR": "192.0.2.50"}).json
    key = created["receipt_key"]
    for _ in range(12):  # the rightful reporter is never limited by using their key
        answer = client.post("/api/v1/followup", json={"receipt_key": key},
                             environ_base={"REMOTE_ADDR": NURSE_ADDRESS})
        assert answer.status_code == 200
    for i in range(10):
        wrong = client.post("/api/v1/followup", json={"receipt_key": f"guess-{i:020d}"},
                            environ_base={"REMOTE_ADDR": NURSE_ADDRESS})
        assert_problem(wrong, 401)
    assert_limited(client.post("/api/v1/followup", json={"receipt_key": key},
                               environ_base={"REMOTE_ADDR": NURSE_ADDRESS}))
    ok = client.post("/api/v1/followup", json={"receipt_key": key},
                     environ_base={"REMOTE_ADDR": "192.0.2.99"})
    assert ok.status_code == 200


@pytest.fixture()
def strict_app(settings: Settings, database, session_clock: SettableClock) -> Iterator[Flask]:
    """The app with tight limits, to reach them in a few requests."""
    tight = dataclasses.replace(settings, ratelimit_followup_global="5 per minute",
                                ratelimit_intake_per_client="3 per hour")
    application = create_app(tight, clock=session_clock)
    yield application
    application.extensions["speakup"].close()


def test_receipt_key_guessing_is_limited_for_everyone(strict_app: Flask, hospital: Org):
    fresh_window()
    client = strict_app.test_client()
    for i in range(5):  # five clients, one guess each
        wrong = client.post("/api/v1/followup", json={"receipt_key": f"guess-{i:020d}"},
                            environ_base={"REMOTE_ADDR": f"192.0.2.{i}"})
        assert_problem(wrong, 401)
    assert_limited(client.post("/api/v1/followup", json={"receipt_key": "x" * 30},
                               environ_base={"REMOTE_ADDR": "192.0.2.200"}))


def test_intake_is_limited_per_client_named_and_anonymous_alike(strict_app: Flask,
                                                                hospital: Org):
    client = strict_app.test_client()
    token = login(client, hospital.emails["nurse"], PASSWORD).json["access_token"]
    here = {"REMOTE_ADDR": "2001:db8:7:7::1"}
    assert client.post("/api/v1/reports", json=report_body(hospital.ward, anonymous=True),
                       environ_base=here).status_code == 201
    assert client.post("/api/v1/reports", json=report_body(hospital.ward),
                       headers={"Authorization": f"Bearer {token}"},
                       environ_base=here).status_code == 201
    # Another address in the same IPv6 /64 is the same client.
    assert client.post("/api/v1/reports", json=report_body(hospital.ward, anonymous=True),
                       environ_base={"REMOTE_ADDR": "2001:db8:7:7::beef"}).status_code == 201
    retry = assert_limited(client.post("/api/v1/reports",
                                       json=report_body(hospital.ward, anonymous=True),
                                       environ_base=here))
    assert retry <= 3600
    # Clients are counted in groups (a counter must not say who submitted): a client of
    # another group is not affected.
    other = next(address for i in range(1000)
                 if group(strict_app, address := f"2001:db8:7:{i:x}::1") != group(strict_app,
                                                                                  here["REMOTE_ADDR"]))
    answer = client.post("/api/v1/reports", json=report_body(hospital.ward, anonymous=True),
                         environ_base={"REMOTE_ADDR": other})
    assert answer.status_code == 201


def group(app: Flask, address: str) -> str:
    with app.test_request_context(environ_base={"REMOTE_ADDR": address}):
        return ratelimits.by_client_group()


def test_submissions_are_counted_in_groups_of_clients(strict_app: Flask):
    groups = {group(strict_app, f"10.0.{i // 250}.{i % 250}") for i in range(2000)}
    assert len(groups) == ratelimits.INTAKE_GROUPS  # a counter stands for many addresses


def test_an_email_no_encoder_takes_does_not_switch_limits_off(client: FlaskClient,
                                                              hospital: Org):
    fresh_window()
    body = b'{"email": "\\ud800@example.org", "password": "wrong password"}'
    answers = [client.post("/api/v1/auth/login", data=body,
                           content_type="application/json").status_code for _ in range(31)]
    assert answers == [422] * 30 + [429]  # every attempt counted per client, none skipped


def test_counters_hold_no_address_or_email(strict_app: Flask, hospital: Org):
    client = strict_app.test_client()
    address = "203.0.113.77"
    login(client, hospital.emails["nurse"], "wrong password", address)
    client.post("/api/v1/reports", json=report_body(hospital.ward, anonymous=True),
                environ_base={"REMOTE_ADDR": address})
    storage = strict_app.extensions["speakup.limiter"].storage
    keys = list(storage.storage) + list(storage.expirations)
    assert keys, "the counters were not where this test looks"
    for key in keys:
        assert address not in key and "203.0.113" not in key
        assert "nurse" not in key and "example.org" not in key
    # Counters for one client are unlinkable across purposes.
    pseudonyms = {key.split("/")[2] for key in storage.storage}
    assert len(pseudonyms) >= 3  # login per client, login per account, intake per client


def test_forwarded_address_is_believed_only_behind_a_configured_proxy(
        settings: Settings, database, session_clock: SettableClock, hospital: Org):
    fresh_window()
    for proxies, limited in ((0, True), (1, False)):
        app = create_app(dataclasses.replace(settings, proxy_count=proxies,
                                             ratelimit_login_per_client="2 per minute"),
                         clock=session_clock)
        client = app.test_client()
        answers = [client.post("/api/v1/auth/login", json={"email": "x@y.z", "password": "p"},
                               headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
                   for i in range(3)]
        assert (answers[-1] == 429) is limited, answers
        app.extensions["speakup"].close()


def test_a_redis_that_is_down_falls_back_to_memory(settings: Settings, database,
                                                   session_clock: SettableClock, hospital: Org):
    fresh_window()
    app = create_app(dataclasses.replace(settings, ratelimit_storage_url="redis://127.0.0.1:9/0",
                                         ratelimit_login_per_client="2 per minute"),
                     clock=session_clock)
    client = app.test_client()
    answers = [login(client, hospital.emails["nurse"], PASSWORD).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    app.extensions["speakup"].close()


@pytest.mark.parametrize("value", ["lots", "10 per fortnight", "0 per minute",
                                   "1 per minute; 2 per hour"])
def test_a_limit_setting_must_be_one_limit(value: str):
    with pytest.raises(ConfigError, match="SPEAKUP_RATELIMIT_LOGIN_PER_CLIENT"):
        Settings.from_env({"SPEAKUP_SECRET_KEY": "s" * 40, "SPEAKUP_DATABASE_URL": "sqlite://",
                           "SPEAKUP_RATELIMIT_LOGIN_PER_CLIENT": value})
