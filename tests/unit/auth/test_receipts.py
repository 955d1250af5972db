"""Receipt keys: random enough, never stored in plain text, and every wrong key fails alike."""

from __future__ import annotations

import math
import re

from sqlalchemy import select

from speakup.db import Base, Database
from speakup.services.auth import receipts
from speakup.services.auth.followup import redeem
from speakup.services.core.errors import Unauthorized
from speakup.services.reports import intake
from tests.support import Org

FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$")


def test_ten_thousand_keys_are_unique_well_formed_and_carry_at_least_128_bits():
    keys = [receipts.generate() for _ in range(10_000)]
    assert len(set(keys)) == 10_000
    assert all(FORMAT.match(key) for key in keys)
    assert receipts.KEY_CHARS * math.log2(len(receipts.ALPHABET)) >= 128
    # Every position uses the whole alphabet: no fixed or biased characters.
    for position in (0, 5, 17, 38):
        assert len({key[position] for key in keys}) == len(receipts.ALPHABET)


def test_keys_are_stored_only_as_keyed_hashes(clock, keys, hospital: Org, database):
    shown = []
    for _ in range(200):
        result = intake.submit(
            database, clock=clock, keys=keys, reporter=None,
            data=intake.NewReport(kind="concern", category="other", unit_id=hospital.ward,
                                  description="anonymous"),
        )
        assert result.receipt_key is not None
        shown.append(result.receipt_key)
    assert len(set(shown)) == 200
    with database.engine.connect() as connection:
        text = "\n".join(
            str(row) for table in Base.metadata.sorted_tables
            for row in connection.execute(select(table))
        ).upper()
    for key in shown:
        assert key not in text and receipts.normalise(key) not in text
    for key in shown[:20]:
        assert receipts.digest(keys.receipt, key).upper() in text


def test_keys_open_their_report_however_they_are_typed(
        database: Database, session, clock, keys, hospital: Org):
    result = intake.submit(
        database, clock=clock, keys=keys, reporter=None,
        data=intake.NewReport(kind="gap", category="other", unit_id=hospital.ward,
                              description="handover gap"),
    )
    key = result.receipt_key
    assert key is not None
    for typed in (key, key.lower(), key.replace("-", ""), key.replace("-", " "),
                  f"  {key}\n", key.replace("0", "O").replace("1", "I")):
        assert redeem(session, keys=keys, receipt_key=typed) == result.report_id


def test_wrong_and_malformed_keys_fail_the_same_way(session, keys, hospital: Org):
    failures = []
    for bad in (receipts.generate(), "hello", "", "x" * 200, "0000-0000"):
        try:
            redeem(session, keys=keys, receipt_key=bad)
        except Unauthorized as error:
            failures.append((type(error), error.status, error.type, error.title, error.detail))
        else:
            raise AssertionError(f"{bad!r} opened a report")
    assert len(set(failures)) == 1


def test_derived_keys_depend_on_the_server_key_and_the_seed():
    a = receipts.derive(b"k" * 32, "seed")
    assert a == receipts.derive(b"k" * 32, "seed")
    assert a != receipts.derive(b"j" * 32, "seed")
    assert a != receipts.derive(b"k" * 32, "seed2")
    assert FORMAT.match(a)
