"""chalicelib.entry.events: a non-HTTP entry's result, refusals and crashes, without Chalice or AWS."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from chalicelib.entry.events import EntryFailed, Event, run_entry
from chalicelib.errors import NotFound
from chalicelib.schemas import TicketIn

TICK = {"id": "evt-1", "time": "2026-11-29T06:00:00Z", "detail": {}}


class FakeChaliceEvent:
    """What Chalice hands a scheduled function: an object with to_dict() and the Lambda context."""

    def __init__(self, raw: dict[str, Any]):
        self._raw, self.context = raw, "lambda-context"

    def to_dict(self) -> dict[str, Any]:
        return self._raw


def test_the_result_is_returned_json_ready():
    seen: list[Event] = []

    def work(event: Event) -> Any:
        seen.append(event)
        return {"at": event.scheduled_time(), "count": 2}

    assert run_entry("job", FakeChaliceEvent(TICK), work) == {"at": "2026-11-29T06:00:00Z", "count": 2}
    assert (seen[0].entry, seen[0].event_id, seen[0].lambda_context) == ("job", "evt-1", "lambda-context")


@pytest.mark.parametrize(
    "time", ["", "yesterday", "2026-11-29T06:00:00", None], ids=["empty", "words", "naive", "none"]
)
def test_a_time_that_cannot_be_read_as_an_instant_is_none(time):
    assert Event("job", {"time": time}).scheduled_time() is None


def test_the_schedule_tick_is_an_aware_instant():
    assert Event("job", TICK).scheduled_time() == dt.datetime(2026, 11, 29, 6, tzinfo=dt.UTC)


def test_a_domain_error_becomes_a_logged_failure_record(caplog):
    def work(event: Event) -> Any:
        raise NotFound("ticket 't_1' does not exist")

    with caplog.at_level(logging.WARNING, logger="lampcare"):
        record = run_entry("job", TICK, work)
    assert record == {
        "ok": False,
        "entry": "job",
        "error": {"code": "not_found", "message": "ticket 't_1' does not exist", "details": []},
    }
    assert [r.getMessage() for r in caplog.records] == ["entry refused"]


def test_an_invoker_that_branches_on_failure_gets_it_raised():
    def work(event: Event) -> Any:
        raise NotFound("gone")

    with pytest.raises(EntryFailed, match="not_found: gone") as caught:
        run_entry("task", TICK, work, on_failure="raise")
    assert caught.value.record["error"]["code"] == "not_found"


def test_a_payload_is_validated_like_a_json_body_before_the_work_runs():
    ran: list[Any] = []
    event = {**TICK, "detail": {"source": "school_report", "school_id": "s_1", "category": "not_lit", "level": "2"}}
    record = run_entry("task", event, ran.append, payload=TicketIn, payload_key="detail")
    assert ran == []
    assert record["error"]["code"] == "validation_failed"
    assert {d["field"] for d in record["error"]["details"]} == {"level", "description"}


def test_a_valid_payload_reaches_the_work_as_its_model():
    detail = {"source": "school_report", "school_id": "s_1", "category": "not_lit", "description": "Dark"}
    result = run_entry(
        "task", {**TICK, "detail": detail}, lambda e: e.payload.school_id, payload=TicketIn, payload_key="detail"
    )
    assert result == "s_1"


def test_an_unexpected_error_is_logged_and_raised_for_the_runtime_to_retry(caplog):
    def work(event: Event) -> Any:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="lampcare"), pytest.raises(RuntimeError, match="boom"):
        run_entry("job", TICK, work)
    assert [r.getMessage() for r in caplog.records] == ["entry failed"]
