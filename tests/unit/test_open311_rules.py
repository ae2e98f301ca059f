"""Open311's rules in this service's terms (domain.open311): states, services, the list partitions."""

from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.domain import open311
from chalicelib.domain.lifecycle import Status
from chalicelib.domain.public_reports import Fault


def test_every_ticket_state_is_open_or_closed_except_a_merged_duplicate_which_follows_its_case():
    states = {status: open311.request_status(status) for status in Status}
    assert {s for s, state in states.items() if state == "open"} == {
        Status.REPORTED,
        Status.TRIAGED,
        Status.ASSIGNED,
        Status.ACKNOWLEDGED,
        Status.EN_ROUTE,
        Status.ON_SITE,
        Status.REOPENED,
    }
    assert {s for s, state in states.items() if state == "closed"} == {
        Status.RESOLVED,
        Status.SIGNED_OFF,
        Status.CLOSED,
        Status.CANCELLED,
    }
    assert states[Status.MERGED] is None
    assert set(open311.STATUS_NOTES) == set(Status)  # every state has plain words


def test_one_service_per_fault_button():
    assert [s.code for s in open311.SERVICES] == list(Fault)
    assert all(s.name and s.description and s.keywords and s.group for s in open311.SERVICES)


@pytest.mark.parametrize(
    ("source", "reports", "listed"),
    [("school_report", 1, True), ("inspection", 1, False), ("inspection", 2, True), ("dispatcher", 1, False)],
)
def test_requests_are_what_schools_reported_or_joined(source, reports, listed):
    assert open311.is_request(source, reports) is listed


def test_a_category_that_is_no_service_is_listed_as_other():
    assert open311.service_code_for("flickering") == "flickering"
    assert open311.service_code_for("hardware_fault") == "other"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_a_window_touches_its_months_newest_first_in_utc():
    assert open311.months_between(utc(2026, 8, 31, 23), utc(2026, 11, 29)) == [
        "2026-11",
        "2026-10",
        "2026-09",
        "2026-08",
    ]
    assert open311.months_between(utc(2025, 12, 15), utc(2026, 1, 2)) == ["2026-01", "2025-12"]
    shanghai = dt.timezone(dt.timedelta(hours=8))
    # 1 March 03:00 in Shanghai is still February in UTC: the partitions are UTC months.
    assert open311.months_between(dt.datetime(2026, 3, 1, 3, tzinfo=shanghai), utc(2026, 3, 2)) == [
        "2026-03",
        "2026-02",
    ]
    assert open311.month_of(dt.datetime(2026, 3, 1, 3, tzinfo=shanghai)) == "2026-02"


def test_within_a_month_a_state_is_one_time_ordered_range():
    early, late = utc(2026, 11, 1, 8), utc(2026, 11, 1, 8, 0, 0, 1)
    assert open311.sort_key(open311.RequestStatus.OPEN, early) < open311.sort_key(open311.RequestStatus.OPEN, late)
    everything_closed = [open311.sort_key(open311.RequestStatus.CLOSED, utc(2026, 11, d)) for d in (1, 30)]
    assert all(key < open311.sort_key(open311.RequestStatus.OPEN, early) for key in everything_closed)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    same_instant = dt.datetime(2026, 11, 1, 16, tzinfo=shanghai)
    assert open311.sort_key(open311.RequestStatus.OPEN, same_instant) == open311.sort_key(
        open311.RequestStatus.OPEN, early
    )
