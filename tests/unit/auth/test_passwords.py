"""Password hashing: unknown accounts cost what known ones do, and nothing at start-up."""

import argon2

from speakup.services.auth.passwords import Passwords


def test_the_dummy_hash_has_the_real_parameters_and_matches_nothing():
    passwords = Passwords(time_cost=2, memory_kib=1024, parallelism=1)
    real = passwords.hash("correct horse battery")
    assert argon2.extract_parameters(passwords._dummy) == argon2.extract_parameters(real)
    assert passwords.verify(real, "correct horse battery")
    assert not passwords.verify(real, "wrong")
    assert not passwords.verify(None, "correct horse battery")
    assert not passwords.verify(None, "")
