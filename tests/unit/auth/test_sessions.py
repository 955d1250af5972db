"""Sessions at the service layer, without HTTP: signing in stores nothing, the deny list keeps
ids and an hour, a refresh token is spent once, and old deny-list rows can be purged."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from speakup.db import Database
from speakup.models import RevokedToken, User
from speakup.services import auth, org
from speakup.services.auth.passwords import Passwords
from speakup.services.core.errors import Unauthorized
from tests.support import Org

MOMENT = datetime(2026, 3, 2, 9, 41, 7, 123456, tzinfo=UTC)


def denied(session: Session) -> dict[str, datetime]:
    session.rollback()  # a fresh look
    return {row.id: row.expires_at for row in session.scalars(select(RevokedToken))}


def stored_user(session: Session, user_id: str) -> User:
    session.rollback()
    user = session.get(User, user_id, populate_existing=True)
    assert user is not None
    return user


# --- signing in ------------------------------------------------------------------------


def test_confirm_sign_in_gives_the_users_epoch_and_writes_nothing(
        database: Database, session, hospital: Org):
    user = stored_user(session, hospital.nurse)
    hash_before = user.password_hash

    epoch = auth.confirm_sign_in(database, user_id=user.id, verified_hash=hash_before)

    assert epoch == user.session_epoch == 0
    assert not session.new and not session.dirty
    assert stored_user(session, hospital.nurse).password_hash == hash_before


def test_confirm_sign_in_refuses_a_password_changed_or_account_closed_meanwhile(
    database: Database, session, clock, passwords: Passwords, hospital: Org
):
    verified = stored_user(session, hospital.nurse).password_hash
    org.update_user(database, hospital.nurse, clock=clock, passwords=passwords,
                    password="changed meanwhile")
    changed = stored_user(session, hospital.nurse).password_hash

    for rehash in (None, "$argon2id$rehash-of-the-old-password"):
        with pytest.raises(Unauthorized) as caught:
            auth.confirm_sign_in(database, user_id=hospital.nurse, verified_hash=verified,
                                 password_hash=rehash)
        assert caught.value.detail == auth.LOGIN_FAILED
    assert stored_user(session, hospital.nurse).password_hash == changed  # not overwritten

    officer = stored_user(session, hospital.officer)
    org.update_user(database, officer.id, clock=clock, passwords=passwords, active=False)
    with pytest.raises(Unauthorized):
        auth.confirm_sign_in(database, user_id=officer.id, verified_hash=officer.password_hash)


def test_confirm_sign_in_stores_a_fresher_hash(database: Database, session, hospital: Org):
    verified = stored_user(session, hospital.nurse).password_hash

    epoch = auth.confirm_sign_in(database, user_id=hospital.nurse, verified_hash=verified,
                                 password_hash="$argon2id$fresher")

    assert epoch == 0
    assert stored_user(session, hospital.nurse).password_hash == "$argon2id$fresher"


def test_new_session_ids_are_random(hospital: Org):
    ids = {auth.new_session_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) >= 26 for i in ids)


# --- the deny list ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "rounded"),
    [
        (MOMENT, datetime(2026, 3, 2, 10, tzinfo=UTC)),
        (datetime(2026, 3, 2, 23, 0, 0, 1, tzinfo=UTC), datetime(2026, 3, 3, 0, tzinfo=UTC)),
        (datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC)),
    ],
)
def test_next_whole_hour_rounds_up(moment: datetime, rounded: datetime):
    assert auth.next_whole_hour(moment) == rounded


def test_ending_a_session_keeps_only_its_id_and_a_whole_hour(
        database: Database, session, hospital: Org):
    auth.end_session(database, session_id="s1", until=MOMENT)

    rows = denied(session)
    assert rows == {"s1": datetime(2026, 3, 2, 10, tzinfo=UTC)}
    assert set(RevokedToken.__table__.columns.keys()) == {"id", "expires_at"}
    assert auth.session_is_ended(session.connection(), session_id="s1")
    assert not auth.session_is_ended(session.connection(), session_id="s2")


def test_ending_a_session_twice_is_fine(database: Database, session, hospital: Org):
    auth.end_session(database, session_id="s1", until=MOMENT)
    auth.end_session(database, session_id="s1", until=MOMENT + timedelta(days=3))

    assert denied(session) == {"s1": datetime(2026, 3, 2, 10, tzinfo=UTC)}


def test_a_refresh_token_is_spent_once_and_replaying_it_ends_the_session(
    database: Database, session, hospital: Org
):
    auth.spend_refresh_token(database, token_id="jti-1", session_id="s1", until=MOMENT)
    assert not auth.session_is_ended(session.connection(), session_id="s1")
    auth.spend_refresh_token(database, token_id="jti-2", session_id="s1", until=MOMENT)

    with pytest.raises(Unauthorized) as caught:
        auth.spend_refresh_token(database, token_id="jti-1", session_id="s1", until=MOMENT)

    assert caught.value.detail == auth.REFRESH_REUSED
    session.rollback()  # a fresh snapshot: the commands wrote in their own transactions
    assert auth.session_is_ended(session.connection(), session_id="s1")
    hour = datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert denied(session) == {"jti-1": hour, "jti-2": hour, "s1": hour}


def test_two_concurrent_refreshes_with_one_token_let_exactly_one_through(
    settings, database: Database, hospital: Org
):
    rounds = 5
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def worker() -> None:
        own = Database(settings.database_url)  # a worker process of its own
        try:
            for n in range(rounds):
                barrier.wait(timeout=30)
                try:
                    auth.spend_refresh_token(own, token_id=f"jti-{n}", session_id=f"s-{n}",
                                             until=MOMENT)
                    outcome = "spent"
                except Unauthorized:
                    outcome = "replayed"
                with lock:
                    outcomes.append(outcome)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(outcomes) == ["replayed"] * rounds + ["spent"] * rounds
    with database.session(write=False) as s:
        for n in range(rounds):
            assert auth.session_is_ended(s.connection(), session_id=f"s-{n}")


def test_purge_removes_only_rows_whose_tokens_have_all_expired(
        database: Database, session, hospital: Org):
    auth.end_session(database, session_id="old", until=MOMENT)  # kept until 10:00
    auth.end_session(database, session_id="new", until=MOMENT + timedelta(hours=1))  # 11:00

    assert auth.purge_revoked(session, now=datetime(2026, 3, 2, 9, 59, tzinfo=UTC)) == 0
    assert auth.purge_revoked(session, now=datetime(2026, 3, 2, 10, tzinfo=UTC)) == 1
    session.commit()  # the caller commits

    assert set(denied(session)) == {"new"}


def test_purge_does_not_commit(database: Database, session, hospital: Org):
    auth.end_session(database, session_id="old", until=MOMENT)

    assert auth.purge_revoked(session, now=MOMENT + timedelta(days=1)) == 1
    session.rollback()

    assert set(denied(session)) == {"old"}
