"""chalicelib.entry.failures: one error shape for every entry, at most 20 details."""

from __future__ import annotations

import logging

import pytest

from chalicelib import errors
from chalicelib.entry.failures import MAX_DETAILS, error_body, failure_body, failure_record, http_status


def problems(n: int) -> list[errors.FieldProblem]:
    return [errors.FieldProblem(f"f{i}", "bad") for i in range(n)]


def test_the_error_body_lists_at_most_20_details_and_counts_the_rest():
    body = error_body("validation_failed", "invalid", problems(131_000))["error"]
    assert len(body["details"]) == MAX_DETAILS == 20
    assert body["details"][0] == {"field": "f0", "problem": "bad"}
    assert body["more_details"] == 131_000 - 20


def test_a_count_already_known_is_added_to_what_the_cap_leaves_out():
    body = error_body("validation_failed", "invalid", problems(25), more_details=100)["error"]
    assert (len(body["details"]), body["more_details"]) == (20, 105)


def test_no_more_details_key_when_nothing_was_left_out():
    assert "more_details" not in error_body("x", "y", problems(20))["error"]


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.MalformedInput("m"), 400),
        (errors.InvalidHeader("m"), 400),
        (errors.InvalidQuery("m"), 400),
        (errors.Unauthenticated("m"), 401),
        (errors.Forbidden("m"), 403),
        (errors.NotFound("m"), 404),
        (errors.StaleVersion("m"), 409),
        (errors.IllegalTransition("m"), 409),
        (errors.PayloadTooLarge("m"), 413),
        (errors.UnsupportedMediaType("m"), 415),
        (errors.ImportRejected([]), 422),
        (errors.ValidationFailed("m"), 422),
        (errors.InvalidInput("m"), 422),
        (errors.DomainError("m"), 400),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_each_domain_error_has_its_status(exc, status):
    assert http_status(exc) == status


def test_the_failure_body_carries_the_errors_extra_fields_and_import_rows():
    stale = failure_body(errors.StaleVersion("reload", extra={"current_version": 7}))["error"]
    assert (stale["code"], stale["current_version"]) == ("stale_version", 7)
    rejected = failure_body(errors.ImportRejected([errors.RowError(3, "serial", "missing")]))["error"]
    assert rejected["rows"] == [{"row": 3, "column": "serial", "problem": "missing"}]


def test_a_non_http_entry_logs_the_failure_once_and_returns_it(caplog):
    exc = errors.ValidationFailed("the payload is invalid", details=problems(2))
    with caplog.at_level(logging.WARNING, logger="lampcare"):
        record = failure_record(exc, entry="overdue_sweep")
    assert record["ok"] is False and record["entry"] == "overdue_sweep"
    assert record["error"]["code"] == "validation_failed"
    logged = [r for r in caplog.records if r.getMessage() == "entry refused"]
    assert len(logged) == 1 and logged[0].error["code"] == "validation_failed"
