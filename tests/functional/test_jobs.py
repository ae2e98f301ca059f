"""The scheduled overdue sweep, invoked as EventBridge would through chalice.test.Client.

Tickets are made and moved through the API; the job runs at a chosen minute (the event's `time`,
the schedule's tick) and must report exactly the tickets past their on-site deadline that nobody
has reached yet: a log line each, an `OverdueTickets` metric per level, and a summary.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest

from tests.functional.factories import drive, make_school, make_ticket, make_user

EVENT_SOURCE = "aws.events"


def at(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def run_sweep(client: Any, tick: str) -> Any:
    event = client.events.generate_cw_event(
        source=EVENT_SOURCE,
        detail_type="Scheduled Event",
        detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/overdue_sweep"],
        region="us-east-1",
    )
    event["time"] = tick
    return client.lambda_.invoke("overdue_sweep", event).payload


def overdue_log_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "ticket overdue"]


def emf_lines(stdout: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [line for line in lines if "OverdueTickets" in line]


@pytest.fixture
def tickets(client: Any, auth: Any) -> dict[str, dict[str, Any]]:
    """Six tickets of one school, each in the state its name says (levels: red 10 min on site,
    yellow 40 min after triage, blue 60 min)."""
    school = make_school(client, auth)["school_id"]
    make_user("eng-1", "engineer")  # drive() assigns to eng-1

    def reported(level: int) -> dict[str, Any]:
        return make_ticket(client, auth, school, level=level)

    return {
        "red_reported": reported(4),
        "en_route": drive(client, auth, reported(4), "en_route"),
        "acknowledged": drive(client, auth, reported(4), "acknowledged"),
        "on_site": drive(client, auth, reported(4), "on_site"),
        "resolved": drive(client, auth, reported(4), "resolved"),
        "blue_reported": reported(1),
    }


def test_the_sweep_reports_exactly_the_tickets_past_their_on_site_deadline_that_nobody_reached(
    client, tickets, caplog, capsys
):
    overdue = [tickets[name] for name in ("red_reported", "en_route", "acknowledged")]
    tick = max(parse(t["onsite_due"]) for t in overdue) + dt.timedelta(seconds=1)
    assert parse(tickets["blue_reported"]["onsite_due"]) > tick  # due later: not overdue yet
    assert all(parse(tickets[n]["onsite_due"]) < tick for n in ("on_site", "resolved"))  # late, but reached

    with caplog.at_level(logging.WARNING, logger="lampcare"):
        summary = run_sweep(client, at(tick))

    expected = sorted(overdue, key=lambda t: (t["onsite_due"], t["ticket_id"]))
    assert summary["tickets"] == [t["ticket_id"] for t in expected]
    assert summary["overdue"] == 3
    assert summary["checked_at"] == at(tick)
    assert summary["by_level"] == {"1": 0, "2": 2, "3": 0, "4": 1}  # triage set level 2 on the driven ones
    assert summary["by_status"] == {
        "reported": 1,
        "triaged": 0,
        "assigned": 0,
        "acknowledged": 1,
        "en_route": 1,
        "reopened": 0,
    }
    assert (summary["page_size"], summary["more_in"]) == (100, [])

    lines = overdue_log_lines(caplog)
    assert sorted(r.ticket_id for r in lines) == sorted(t["ticket_id"] for t in overdue)
    red = next(r for r in lines if r.ticket_id == tickets["red_reported"]["ticket_id"])
    assert (red.ref, red.status, red.fault_level, red.school_id) == (
        tickets["red_reported"]["ref"],
        "reported",
        4,
        tickets["red_reported"]["school_id"],
    )
    assert red.overdue_minutes == int((tick - parse(tickets["red_reported"]["onsite_due"])).total_seconds() // 60)

    metrics = emf_lines(capsys.readouterr().out)
    assert {m["level"]: m["OverdueTickets"] for m in metrics} == {"1": [0.0], "2": [2.0], "3": [0.0], "4": [1.0]}
    assert all(m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LampCare" for m in metrics)


def test_a_deadline_that_is_exactly_now_is_not_yet_overdue(client, tickets):
    red = tickets["red_reported"]
    assert red["ticket_id"] not in run_sweep(client, red["onsite_due"])["tickets"]
    just_after = at(parse(red["onsite_due"]) + dt.timedelta(microseconds=1))
    assert red["ticket_id"] in run_sweep(client, just_after)["tickets"]


def test_before_any_deadline_the_sweep_finds_nothing_and_still_reports_zero_per_level(client, tickets, capsys):
    earliest = min(parse(t["onsite_due"]) for t in tickets.values())
    capsys.readouterr()
    summary = run_sweep(client, at(earliest - dt.timedelta(minutes=1)))
    assert (summary["overdue"], summary["tickets"]) == (0, [])
    assert {m["level"]: m["OverdueTickets"] for m in emf_lines(capsys.readouterr().out)} == {
        "1": [0.0],
        "2": [0.0],
        "3": [0.0],
        "4": [0.0],
    }


def test_the_sweep_reads_with_one_query_per_status_and_never_scans(client, tickets, no_scan_guard):
    before = len(no_scan_guard.dynamodb())
    run_sweep(client, at(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)))
    assert no_scan_guard.dynamodb()[before:] == ["Query"] * 6


def test_an_event_whose_time_cannot_be_read_is_swept_as_of_now(client, tickets):
    """A hand-made invoke with a broken `time` is still a sweep, as of the moment it runs."""
    before = dt.datetime.now(dt.UTC)
    summary = run_sweep(client, "not a time")
    assert before <= parse(summary["checked_at"]) <= dt.datetime.now(dt.UTC)
