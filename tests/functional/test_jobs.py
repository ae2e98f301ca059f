"""The SLA reconciliation job (issue 10.5), invoked as EventBridge would through chalice.test.Client.

No timer runs in this world (no state machine is configured): every ticket here is a ticket whose
timer was never started. The job runs at a chosen minute (the event's `time`, the schedule's tick),
so each test says exactly how late the run is, and must write each breach and escalation the timer
would have written, once, through the timer's own conditional writes, and nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from chalicelib.services.sweeps import GRACE
from tests.functional.factories import call, drive, make_school, make_ticket, make_user, ok, transition

EVENT_SOURCE = "aws.events"
MIN = dt.timedelta(minutes=1)


def at(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def reconcile(client: Any, tick: dt.datetime | str) -> Any:
    event = client.events.generate_cw_event(
        source=EVENT_SOURCE,
        detail_type="Scheduled Event",
        detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/sla_reconciliation"],
        region="us-east-1",
    )
    event["time"] = tick if isinstance(tick, str) else at(tick)
    return client.lambda_.invoke("sla_reconciliation", event).payload


def sla(client: Any, auth: Any, ticket: dict[str, Any]) -> Any:
    return ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/sla", auth("dispatcher")))


def emf_lines(stdout: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [line for line in lines if "SlaEntriesReconciled" in line]


@pytest.fixture
def school(client: Any, auth: Any) -> str:
    make_user("eng-1", "engineer")
    return str(make_school(client, auth)["school_id"])


def red(client: Any, auth: Any, school: str) -> dict[str, Any]:
    """DOMAIN's red: response within 5 min (the hotline's), on site within 10; the ladder: line-2
    experts at the response deadline, the project lead at the on-site deadline, the technical
    manager an hour after it."""
    return make_ticket(client, auth, school, level=4)


def test_a_ticket_whose_timer_never_started_has_its_breach_recorded_and_its_roles_told_by_the_job(client, auth, school):
    ticket = red(client, auth, school)
    response_due = parse(ticket["response_due"])
    summary = reconcile(client, response_due + GRACE + MIN)

    assert (summary["tickets_due"], summary["written"], summary["breaches"]) == (1, 2, 1)  # notify + breach
    assert summary["entries"] == [f"{ticket['ticket_id']}:notify", f"{ticket['ticket_id']}:response"]
    view = sla(client, auth, ticket)
    assert (view["escalation_step"], view["tier"]) == (1, "line_2")
    (breach,) = view["breaches"]
    assert (breach["key"], breach["kind"], breach["milestone"], breach["recorded_by"]) == (
        "response",
        "breach",
        "response",
        "reconciliation",
    )
    assert parse(breach["deadline"]) == response_due and breach["roles"] == ["expert", "dispatcher"]
    assert parse(breach["recorded_at"]) == response_due + GRACE + MIN  # the job's tick: its clock
    response = next(m for m in view["milestones"] if m["milestone"] == "response")
    assert response["breached"] is True and response["met_at"] is None
    told = {n["key"]: n for n in view["notifications"]}
    assert set(told) == {
        "open.parts_manager",
        "open.project_lead",
        "open.technical_manager",
        "response.expert",
        "response.dispatcher",
    }
    # no topics in this world: each notification is stored with the reason it was not delivered
    assert {n["result"] for n in told.values()} == {"failed"}
    assert all("no SNS topic" in n["error"] for n in told.values())
    # the next thing to watch is the on-site deadline
    assert parse(view["next_due_at"]) == parse(ticket["onsite_due"])


def test_a_late_run_writes_every_entry_due_in_the_timers_order_up_the_ladder(client, auth, school):
    ticket = red(client, auth, school)
    onsite_due = parse(ticket["onsite_due"])
    summary = reconcile(client, onsite_due + 60 * MIN + GRACE)
    assert [e.split(":")[1] for e in summary["entries"]] == ["notify", "response", "onsite", "onsite.3"]
    assert (summary["breaches"], summary["escalations"], summary["by_level"]["4"]) == (2, 1, 4)
    view = sla(client, auth, ticket)
    assert (view["escalation_step"], view["tier"], view["next_due_at"]) == (3, "technical_manager", None)
    assert [(b["key"], b["escalation_step"]) for b in view["breaches"]] == [
        ("response", 1),
        ("onsite", 2),
        ("onsite.3", 3),
    ]
    assert parse(view["breaches"][2]["due_at"]) == onsite_due + 60 * MIN
    # each breach and escalation added one to the version: a change based on an earlier read is refused
    assert view and ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}", auth("dispatcher")))["version"] == 4
    code, body = transition(client, auth, ticket, "triage")
    assert code == 409 and body["error"]["code"] == "stale_version" and body["error"]["current_version"] == 4


def test_a_second_run_writes_nothing_and_tells_nobody_again(client, auth, school):
    ticket = red(client, auth, school)
    tick = parse(ticket["onsite_due"]) + GRACE + MIN
    first = reconcile(client, tick)
    before = sla(client, auth, ticket)
    second = reconcile(client, tick + MIN)
    after = sla(client, auth, ticket)
    assert first["written"] == 3 and second["written"] == 0 and second["tickets_due"] == 0
    assert after["breaches"] == before["breaches"]
    assert after["notifications"] == before["notifications"]


def test_an_entry_still_inside_the_timers_grace_is_left_to_the_timer(client, auth, school):
    ticket = red(client, auth, school)
    summary = reconcile(client, parse(ticket["response_due"]) + GRACE - dt.timedelta(milliseconds=1))
    assert summary["entries"] == [f"{ticket['ticket_id']}:notify"]  # the opening's notifications only
    assert sla(client, auth, ticket)["breaches"] == []


def test_a_milestone_met_a_moment_before_its_deadline_is_never_recorded_as_breached(client, auth, school):
    ticket = drive(client, auth, red(client, auth, school), "acknowledged")  # triage made it yellow
    view = sla(client, auth, ticket)
    response = next(m for m in view["milestones"] if m["milestone"] == "response")
    assert response["met_in_time"] is True
    summary = reconcile(client, parse(ticket["onsite_due"]) - MIN)  # response long past, on site not yet due
    assert f"{ticket['ticket_id']}:response" not in summary["entries"]
    assert sla(client, auth, ticket)["breaches"] == []


def test_a_level_change_moves_the_deadlines_the_job_watches(client, auth, school):
    ticket = make_ticket(client, auth, school, level=2)  # yellow: response within 20 min
    old_due = parse(ticket["response_due"])
    ticket = ok(transition(client, auth, ticket, "change_level", level=1))  # blue: within 30 min
    new_due = parse(ticket["response_due"])
    assert new_due == old_due + 10 * MIN
    assert sla(client, auth, ticket)["sla_version"] == 2

    at_old = reconcile(client, old_due + GRACE + MIN)
    assert not [e for e in at_old["entries"] if e.endswith(":response")]
    at_new = reconcile(client, new_due + GRACE + MIN)
    assert f"{ticket['ticket_id']}:response" in at_new["entries"]
    (breach,) = sla(client, auth, ticket)["breaches"]
    assert parse(breach["deadline"]) == new_due and breach["sla_version"] == 2


def test_a_level_change_that_keeps_the_deadlines_but_names_more_people_tells_them(client, auth):
    policy = {
        "levels": {
            "4": {"response_minutes": 5, "onsite_minutes": 10, "notify_roles": ["parts_manager", "technical_manager"]},
            "3": {"response_minutes": 20, "onsite_minutes": 40, "notify_roles": ["parts_manager", "project_lead"]},
            "2": {"response_minutes": 20, "onsite_minutes": 40, "notify_roles": ["parts_manager"]},
            "1": {"response_minutes": 30, "onsite_minutes": 60},
        }
    }
    contract = ok(
        call(client, "POST", "/contracts", auth("admin"), {"code": "SAME", "name": "n", "policy": policy}), 201
    )
    school = make_school(client, auth, contract["contract_id"])["school_id"]
    ticket = make_ticket(client, auth, school, level=2)
    ticket = ok(transition(client, auth, ticket, "triage"))  # confirmed: the same plan
    assert sla(client, auth, ticket)["sla_version"] == 1
    ticket = ok(transition(client, auth, ticket, "change_level", level=3))  # same deadlines, the project lead too
    assert sla(client, auth, ticket)["sla_version"] == 2
    reconcile(client, dt.datetime.now(dt.UTC) + GRACE + MIN)
    told = sorted(n["key"] for n in sla(client, auth, ticket)["notifications"])
    assert told == ["open.parts_manager", "open.project_lead"]  # the parts manager once


def test_the_job_reads_the_due_index_and_each_due_ticket_only(client, auth, school, no_scan_guard):
    due = red(client, auth, school)
    for _ in range(3):  # due an hour later: in the index, never read by this run
        make_ticket(client, auth, school, level=1)
    before = len(no_scan_guard.dynamodb())
    reconcile(client, parse(due["response_due"]) - MIN)  # only the opening notification is due
    reads = [op for op in no_scan_guard.dynamodb()[before:] if op in ("Query", "GetItem", "BatchGetItem", "Scan")]
    # the due index, the due ticket, then the claims left undelivered past their lease (none)
    assert reads == ["Query", "GetItem", "Query"]


def test_resolved_and_cancelled_tickets_leave_the_due_index(client, auth, school):
    resolved = drive(client, auth, red(client, auth, school), "resolved")
    cancelled = drive(client, auth, red(client, auth, school), "cancelled")
    now = dt.datetime.now(dt.UTC)
    opened = reconcile(client, now + GRACE + MIN)  # the opening's notification, which no timer sent
    assert opened["entries"] == [f"{resolved['ticket_id']}:notify"]  # a cancelled ticket tells nobody any more
    # an opening's write points the index at the next entry of the plan; this run finds nothing to
    # write there (the ticket is resolved, or cancelled) and puts the index right
    later = reconcile(client, now + 2 * 60 * MIN)
    assert later["written"] == 0 and sorted(later["repaired"]) == sorted([resolved["ticket_id"]])
    assert reconcile(client, now + 3 * 60 * MIN)["tickets_due"] == 0
    for ticket in (resolved, cancelled):
        assert sla(client, auth, ticket)["next_due_at"] is None


def test_the_job_reports_zero_per_level_when_nothing_is_due(client, auth, school, capsys):
    capsys.readouterr()
    summary = reconcile(client, dt.datetime.now(dt.UTC))
    assert summary["written"] == 0
    metrics = emf_lines(capsys.readouterr().out)
    assert {m["level"]: m["SlaEntriesReconciled"] for m in metrics} == {"1": [0.0], "2": [0.0], "3": [0.0], "4": [0.0]}
    assert all(m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LampCare" for m in metrics)


def test_an_event_whose_time_cannot_be_read_reconciles_as_of_now(client, auth, school):
    """A hand-made invoke with a broken `time` still runs, as of the moment it runs."""
    before = dt.datetime.now(dt.UTC)
    summary = reconcile(client, "not a time")
    assert before <= parse(summary["checked_at"]) <= dt.datetime.now(dt.UTC)
