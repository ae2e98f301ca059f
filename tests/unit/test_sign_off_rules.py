"""The sign-off code's rules (issue 11.8, D-O2): six random digits, kept hashed, 10 minutes, 5 attempts."""

from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.domain import sign_off as rules
from chalicelib.errors import Conflict

NOW = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)


def test_codes_are_six_digits_and_not_repeated():
    codes = [rules.new_code() for _ in range(2000)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(set(codes)) > 1900  # a million possibilities: repeats are rare
    assert any(c.startswith("0") for c in codes)  # leading zeros are kept


def test_a_code_is_stored_as_a_salted_hash_that_only_its_code_matches():
    salt, other_salt = rules.new_salt(), rules.new_salt()
    stored = rules.hash_code("042917", salt)
    assert "042917" not in stored and stored != rules.hash_code("042917", other_salt)
    assert rules.code_matches("042917", salt, stored)
    assert not rules.code_matches("042918", salt, stored)


def test_a_code_is_valid_for_ten_minutes():
    state = rules.CodeState(expires_at=rules.expires_at(NOW), attempts=1, used=False, counted=True)
    rules.check_attempt(state, NOW + dt.timedelta(minutes=9, seconds=59))
    with pytest.raises(rules.CodeExpired):
        rules.check_attempt(state, NOW + dt.timedelta(minutes=10))


def test_the_fifth_wrong_code_leaves_none_and_an_uncounted_attempt_is_locked():
    assert [rules.wrong_code(n).extra["attempts_left"] for n in range(1, 6)] == [4, 3, 2, 1, 0]
    at_limit = rules.CodeState(expires_at=rules.expires_at(NOW), attempts=5, used=False, counted=False)
    with pytest.raises(rules.CodeLocked):
        rules.check_attempt(at_limit, NOW)


def test_a_used_code_is_refused_before_anything_else():
    used = rules.CodeState(expires_at=NOW - dt.timedelta(hours=1), attempts=5, used=True, counted=False)
    with pytest.raises(Conflict) as refused:
        rules.check_attempt(used, NOW)
    assert "already used" in refused.value.message


def test_a_retry_is_the_same_attempt_and_another_code_is_another():
    assert rules.attempt_token("key-1", "123456") == rules.attempt_token("key-1", "123456")
    assert rules.attempt_token("key-1", "123456") != rules.attempt_token("key-1", "123457")
    assert rules.attempt_token("key-1", "123456") != rules.attempt_token("key-2", "123456")


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("008613812345678", "+8613812345678"),
        ("8613812345678", "+8613812345678"),
        ("021-5555", None),
        ("", None),
    ],
)
def test_the_number_on_record_is_put_in_the_form_sms_needs(phone, e164):
    assert rules.e164(phone) == e164


def test_the_message_names_the_repair_and_the_code_and_how_long_it_lasts():
    text = rules.sms_text("042917", "T-2026-000123", "No. 1 Primary School")
    assert "042917" in text and "T-2026-000123" in text and "10" in text
