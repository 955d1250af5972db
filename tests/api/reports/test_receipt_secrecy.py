"""A copy of the database, even together with the server secret, recovers no receipt key.

The attack this pins: receipt keys shown again to an idempotent retry used to be derived from
values the database stores (the Idempotency-Key's hash and the report id), so a copy of the
instance folder recomputed every one of them.  Now they are derived from the raw
Idempotency-Key, which only the client holds.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.db import Base
from speakup.models import IdempotencyRecord, Report
from speakup.services.auth import receipts
from speakup.services.core.keys import Keys, keyed_hash
from speakup.services.reports import intake
from speakup.settings import Settings
from tests.support import Login, Org, report_body

# Ways a stored string and a report id could have been joined into a seed.
SEEDS = ("{s}:{r}", "{r}:{s}", "{s}\n{r}", "{r}\n{s}", "{s}{r}")


def test_a_full_dump_plus_the_secret_recovers_no_receipt_key(
    client: FlaskClient, session: Session, hospital: Org, login: Login, settings: Settings,
    caplog: Any,
):
    caplog.set_level(logging.DEBUG)
    issued, raw_keys = submit_a_mix(client, hospital, login)
    assert len(issued) == 9

    values = dump(session)
    strings = set(leaves(values))
    report_ids = set(session.scalars(select(Report.id)))
    keys = Keys.from_secret(settings.secret_key)
    secrets_to_try = key_material(settings.secret_key, keys)

    # Neither a receipt key nor a raw Idempotency-Key is anywhere in the dump or the log.
    everything = "\n".join(strings)
    for key in issued:
        for form in spellings(key):
            assert form not in everything and form not in caplog.text
    for raw in raw_keys:
        assert raw not in everything and raw not in caplog.text

    # Every derivation speakup has, on every stored value and every value with a report id.
    real = {receipts.normalise(k) for k in issued}
    stored_hashes = set(session.scalars(select(Report.receipt_hash).where(
        Report.receipt_hash.is_not(None))))
    assert len(stored_hashes) == len(issued)
    recovered = {c for c in candidates(strings, report_ids, keys, secrets_to_try)
                 if receipts.normalise(c) in real
                 or receipts.digest(keys.receipt, c) in stored_hashes}  # what /followup does
    assert recovered == set()

    # The search does find a key whose seed was stored: here, the raw Idempotency-Key.
    control = raw_keys[0]
    found = set(candidates({control}, report_ids, keys, secrets_to_try))
    assert any(receipts.normalise(c) in real for c in found)

    # The old derivation (from the stored key hash) and the new one fed the stored key hash
    # open nothing at /followup.
    records = session.scalars(select(IdempotencyRecord)).all()
    assert records
    for record in records[:4]:
        for guess in (receipts.derive(keys.receipt, f"{record.key_hash}:{record.report_id}"),
                      intake._replayable_receipt(keys, record.key_hash, record.report_id)):
            response = client.post("/api/v1/followup", json={"receipt_key": guess})
            assert response.status_code == 401, response.json
    # ...while a real key does.
    assert client.post("/api/v1/followup", json={"receipt_key": issued[0]}).status_code == 200


def test_a_retry_with_the_raw_key_gets_a_byte_identical_response(
    client: FlaskClient, hospital: Org, session: Session
):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = report_body(hospital.ward)
    first = client.post("/api/v1/reports", json=body, headers=headers)
    again = client.post("/api/v1/reports", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    key = first.json["receipt_key"]
    record = session.scalars(select(IdempotencyRecord)).one()
    assert "receipt_key" not in record.response and key not in json.dumps(record.response)
    assert client.post("/api/v1/followup", json={"receipt_key": key}).json["report_id"] == (
        first.json["id"])


def test_a_replay_whose_derived_key_opens_nothing_leaves_the_key_out(
    client: FlaskClient, hospital: Org, session: Session
):
    # A record written before keys were derived from the raw Idempotency-Key: a retry must
    # not be handed a key that opens nothing.
    headers = {"Idempotency-Key": secrets.token_urlsafe(24)}
    body = report_body(hospital.ward)
    first = client.post("/api/v1/reports", json=body, headers=headers)
    report = session.get(Report, first.json["id"])
    report.receipt_hash = "0" * 64
    session.commit()
    again = client.post("/api/v1/reports", json=body, headers=headers)
    assert again.status_code == 201 and again.json["id"] == first.json["id"]
    assert "receipt_key" not in again.json


# --- helpers ---------------------------------------------------------------------------


def submit_a_mix(
    client: FlaskClient, hospital: Org, login: Login
) -> tuple[list[str], list[str]]:
    """Anonymous reports with and without an Idempotency-Key (each keyed one retried), named
    ones with a key, and one sent with a token but anonymous; the receipt keys issued and
    the raw Idempotency-Keys sent."""
    nurse = login("nurse")
    issued: list[str] = []
    raw_keys: list[str] = []
    plans: list[tuple[dict[str, str], dict[str, object], bool]] = []
    for i in range(5):
        raw = str(uuid.uuid4()) if i % 2 else secrets.token_urlsafe(16)
        raw_keys.append(raw)
        plans.append(({"Idempotency-Key": raw}, {"description": f"Keyed {i}."}, True))
    for i in range(3):
        plans.append(({}, {"description": f"Unkeyed {i}."}, False))
    for i in range(2):
        raw = str(uuid.uuid4())
        raw_keys.append(raw)
        plans.append(({"Idempotency-Key": raw, **nurse}, {"description": f"Named {i}."}, True))
    raw = secrets.token_urlsafe(32)
    raw_keys.append(raw)
    plans.append(({"Idempotency-Key": raw, **nurse},
                  {"description": "Anonymous with a token.", "anonymous": True}, True))
    for headers, overrides, retry in plans:
        body = report_body(hospital.ward, **overrides)
        response = client.post("/api/v1/reports", json=body, headers=headers)
        assert response.status_code == 201, response.json
        if retry:
            again = client.post("/api/v1/reports", json=body, headers=headers)
            assert again.get_data() == response.get_data()
        if "receipt_key" in response.json:
            issued.append(response.json["receipt_key"])
    return issued, raw_keys


def dump(session: Session) -> list[Any]:
    """Every column of every row of every table."""
    values: list[Any] = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            values.extend(row)
    return values


def leaves(values: Iterable[Any]) -> Iterable[str]:
    """Each value as text, and each string inside a JSON value, and the JSON value whole."""
    for value in values:
        if value is None:
            continue
        if isinstance(value, dict | list):
            yield json.dumps(value)
            yield from leaves(value.values() if isinstance(value, dict) else value)
            if isinstance(value, dict):
                yield from leaves(value.keys())
        elif isinstance(value, datetime):
            yield value.isoformat()
        elif isinstance(value, bytes):
            yield value.hex()
        else:
            yield str(value)


def key_material(secret: str, keys: Keys) -> list[bytes]:
    """The server secret and every key derived from it, in every form it could be used."""
    material = [secret.encode()]
    for field in fields(keys):
        value = getattr(keys, field.name)
        if isinstance(value, bytes):
            material.append(value)
        else:
            material.append(value.encode())
            material.append(bytes.fromhex(value))
    return material


def candidates(
    strings: set[str], report_ids: set[str], keys: Keys, material: list[bytes]
) -> Iterable[str]:
    """Receipt-key candidates from every derivation in speakup.services.auth.receipts and keys."""
    for s in strings:
        yield s  # stored as is
        if _is_hex(s) and len(s) >= 40:
            yield receipts._encode(bytes.fromhex(s)[:receipts.KEY_BYTES])
        for key in material:
            yield receipts.derive(key, s)
            yield receipts._encode(bytes.fromhex(keyed_hash(key, s))[:receipts.KEY_BYTES])
        for r in report_ids:
            yield intake._replayable_receipt(keys, s, r)
            for key in material:
                for seed in SEEDS:
                    yield receipts.derive(key, seed.format(s=s, r=r))


def spellings(key: str) -> set[str]:
    plain = receipts.normalise(key)
    return {key, plain, plain.lower(), key.lower()}


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True
