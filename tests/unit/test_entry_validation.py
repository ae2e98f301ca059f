"""chalicelib.entry.validation without AWS or HTTP: what any entry point's input is refused for."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.entry.failures import MAX_DETAILS
from chalicelib.entry.validation import check_size, parse_json, parse_payload, parse_query
from chalicelib.errors import InvalidQuery, MalformedInput, PayloadTooLarge, ValidationFailed
from chalicelib.schemas import ContractIn, SchoolIn, TicketIn, TicketListQuery, TransitionIn

TICKET = {"source": "school_report", "school_id": "s_1", "category": "not_lit", "description": "Dark"}
LEVEL_TERMS = {"response_minutes": 5, "onsite_minutes": 10}


def refusal(model: Any, body: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        parse_json(json.dumps(body).encode(), model)
    return caught.value


def fields(exc: ValidationFailed) -> dict[str, str]:
    return {p.field: p.problem for p in exc.details}


def test_a_valid_body_is_parsed_with_iso_dates_and_enum_values():
    ticket = parse_json(json.dumps({**TICKET, "level": 4}).encode(), TicketIn)
    assert (ticket.category.value, ticket.level) == ("not_lit", 4)


@pytest.mark.parametrize("value", [True, "4", 4.5])
def test_a_number_field_takes_only_a_json_number(value):
    assert fields(refusal(TicketIn, {**TICKET, "level": value})) == {"level": "Input should be a valid integer"}


def test_a_whole_number_is_read_where_a_decimal_is_declared():
    body = {"contract_id": "c_1", "code": "S1", "name": "n", "address": "a", "latitude": 31, "longitude": 121}
    assert parse_json(json.dumps(body).encode(), SchoolIn).latitude == 31.0


def test_unknown_fields_are_found_at_every_level_the_models_declare():
    body = {
        "code": "P1",
        "name": "x",
        "top": 1,
        "policy": {"levels": {str(n): {**LEVEL_TERMS, "deep": 1} for n in (1, 2, 3, 4)}, "mid": 1},
    }
    assert fields(refusal(ContractIn, body)) == {
        "top": "unknown field",
        "policy.mid": "unknown field",
        **{f"policy.levels.{n}.deep": "unknown field" for n in (1, 2, 3, 4)},
    }


def test_unknown_fields_in_list_items_are_named_by_index():
    body = {
        "contract_id": "c_1",
        "code": "S1",
        "name": "n",
        "address": "a",
        "latitude": 1,
        "longitude": 1,
        "contacts": [{"name": "A"}, {"name": "B", "fax": "1"}],
    }
    assert fields(refusal(SchoolIn, body)) == {"contacts.1.fax": "unknown field"}


def test_unknown_fields_are_reported_with_the_declared_fields_problems():
    exc = refusal(TicketIn, {"source": "school_report", "zz": 1})
    assert fields(exc) == {
        "school_id": "Field required",
        "category": "Field required",
        "description": "Field required",
        "zz": "unknown field",
    }


def test_many_unknown_fields_list_the_first_20_in_sent_order_and_count_the_rest():
    names = [f"f{n:05d}" for n in range(10_000)]
    exc = refusal(TicketIn, {**TICKET, **dict.fromkeys(names, 0)})
    assert [p.field for p in exc.details] == names[:MAX_DETAILS]
    assert exc.extra == {"more_details": 10_000 - MAX_DETAILS}


def test_problems_of_the_declared_fields_are_capped_too():
    contacts = [{"name": ""} for _ in range(25)]
    body = {"contract_id": "c_1", "code": "S1", "name": "n", "address": "a", "latitude": 1, "longitude": 1}
    exc = refusal(SchoolIn, {**body, "contacts": contacts[:20], "hazards": [""] * 10})
    assert len(exc.details) == MAX_DETAILS
    assert exc.extra == {"more_details": 30 - MAX_DETAILS}


def test_a_ticket_change_is_validated_as_its_action_and_names_plain_fields():
    change = parse_json(b'{"action": "assign", "version": 2, "assignee_id": "eng-1"}', TransitionIn)
    assert (change.root.action, change.root.version) == ("assign", 2)
    exc = refusal(TransitionIn, {"action": "assign", "version": "2", "assignee": "eng-1"})
    assert fields(exc) == {
        "version": "Input should be a valid integer",
        "assignee_id": "required for assign",
        "assignee": "unknown field",
    }


@pytest.mark.parametrize(
    ("raw", "problem"),
    [(b"", "missing"), (b"   ", "missing"), (b"{nope", "not valid JSON"), (b"[" * 100_000, "not valid JSON")],
    ids=["empty", "blank", "garbage", "too-deep"],
)
def test_unreadable_input_is_malformed_not_invalid(raw, problem):
    with pytest.raises(MalformedInput) as caught:
        parse_json(raw, TicketIn)
    assert [(p.field, p.problem) for p in caught.value.details] == [("(body)", problem)]


def test_json_that_is_not_an_object_is_a_problem_of_the_root():
    assert fields(refusal(TicketIn, [1, 2])) == {"(root)": "Input should be an object"}


def test_an_event_payload_follows_the_rules_of_a_json_body():
    assert parse_payload({**TICKET, "level": 2}, TicketIn).level == 2
    with pytest.raises(ValidationFailed) as caught:
        parse_payload({**TICKET, "level": "2", "extra": 1}, TicketIn)
    assert fields(caught.value) == {"level": "Input should be a valid integer", "extra": "unknown field"}


def test_a_payload_that_is_not_json_is_malformed():
    with pytest.raises(MalformedInput):
        parse_payload({"when": object()}, TicketIn)


def test_query_strings_are_text_and_read_leniently():
    query = parse_query({"level": "3", "limit": "20"}, TicketListQuery)
    assert (query.level, query.limit) == (3, 20)


def test_a_bad_query_names_each_parameter_with_the_query_prefix():
    with pytest.raises(InvalidQuery) as caught:
        parse_query({"limit": "0", "sort": "desc"}, TicketListQuery)
    assert {p.field for p in caught.value.details} == {"query.limit", "query.sort"}


def test_the_size_is_checked_before_anything_is_read():
    check_size(b"x" * 10, 10)
    with pytest.raises(PayloadTooLarge, match="larger than 10 bytes"):
        check_size(b"x" * 11, 10)
