"""chalicelib.entry.idempotency: the key and the request's canonical form (the store is tested
through the API in tests/functional/test_idempotency.py)."""

from __future__ import annotations

import pytest

from chalicelib.entry.idempotency import canonical, check_key
from chalicelib.entry.validation import parse_json
from chalicelib.errors import InvalidHeader
from chalicelib.schemas import TicketIn


@pytest.mark.parametrize("key", ["short", "x" * 129, "has space 123", "ünïcode-key", ""])
def test_a_key_that_is_too_short_too_long_or_odd_is_refused_naming_the_header(key):
    with pytest.raises(InvalidHeader) as caught:
        check_key(key, "Idempotency-Key")
    assert [p.field for p in caught.value.details] == ["Idempotency-Key"]


def test_a_uuid_is_a_good_key():
    assert check_key("0b6f7c1e-7a52-4a1b-9b7e-3f1d2c4e5a6b", "Idempotency-Key")


def test_the_same_request_with_other_whitespace_or_key_order_has_one_canonical_form():
    a = parse_json(
        b'{"source": "school_report", "school_id": "s_1", "category": "not_lit", "description": "x"}', TicketIn
    )
    b = parse_json(b'{"description":"x","category":"not_lit","school_id":"s_1","source":"school_report"}', TicketIn)
    assert canonical(a) == canonical(b)


def test_without_a_model_the_raw_bytes_are_the_canonical_form():
    assert canonical(None, b"row1\nrow2") == b"row1\nrow2"
