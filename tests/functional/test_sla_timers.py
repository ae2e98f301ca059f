"""SLA timers on moto (issue 10.3, 10.6, 10.7): the state machine made from infra/sla_timer.asl.json runs
for real, one execution per ticket and SLA version, against a contract whose policy counts in seconds.

What is asserted is what a user would notice: a breach recorded at its deadline (never before), the
escalation step and who was told (the SNS MessageId stored), nothing recorded for a milestone met
in time, deadlines that move with the level, a change refused when it was based on a read from
before a breach, and each breach recorded once however many writers act. The tests wait for the
timer by polling the ticket's SLA view (bounded); they assert no durations.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.services.sweeps import GRACE
from devtools.tiny_sla import TINY_POLICY
from tests.contract import checked
from tests.functional.factories import call, make_school, make_ticket, make_user, ok, transition
from tests.functional.test_jobs import parse, reconcile
from tests.support.world import moto_world

PATIENCE = 30.0  # seconds a poll waits for the timer before the test fails


@pytest.fixture
def timers(auth: Any) -> Iterator[Any]:
    with moto_world(sla_timers=True):
        from app import app

        with Client(app, stage_name="test") as test_client:
            yield checked(test_client)


@pytest.fixture
def school(timers: Any, auth: Any) -> str:
    make_user("eng-1", "engineer")
    contract = ok(
        call(timers, "POST", "/contracts", auth("admin"), {"code": "TINY", "name": "Seconds", "policy": TINY_POLICY}),
        201,
    )
    return str(make_school(timers, auth, contract["contract_id"])["school_id"])


def sla(client: Any, auth: Any, ticket: dict[str, Any]) -> Any:
    return ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/sla", auth("dispatcher")))


def wait_for(client: Any, auth: Any, ticket: dict[str, Any], what: str, done: Callable[[Any], bool]) -> Any:
    """Polls the ticket's SLA view until `done`; fails after PATIENCE seconds saying what it waited for."""
    deadline = time.monotonic() + PATIENCE
    while True:
        view = sla(client, auth, ticket)
        if done(view):
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {PATIENCE:.0f} s for {what}; the ticket's SLA: {view}")
        time.sleep(0.2)


def breached(key: str) -> Callable[[Any], bool]:
    return lambda view: any(b["key"] == key for b in view["breaches"])


def told(key: str) -> Callable[[Any], bool]:
    return lambda view: any(n["key"] == key and n["result"] != "pending" for n in view["notifications"])


def act(
    client: Any,
    auth: Any,
    ticket: dict[str, Any],
    action: str,
    role: str = "dispatcher",
    sub: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A transition as a client makes it while timers run: a 409 stale_version (a breach landed since the
    ticket was read) is answered by reading the ticket again and retrying."""
    for _ in range(5):
        code, body = transition(client, auth, ticket, action, role, sub, **fields)
        if code != 409 or body["error"]["code"] != "stale_version":
            return ok((code, body))
        ticket = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}", auth("dispatcher")))
    raise AssertionError(f"{action}: still stale after 5 reads")


def record(view: Any, key: str) -> Any:
    return next(b for b in view["breaches"] if b["key"] == key)


def test_an_unacknowledged_ticket_escalates_at_its_deadline_and_its_people_are_told(timers, auth, school):
    ticket = make_ticket(timers, auth, school, level=4)
    view = wait_for(timers, auth, ticket, "the response breach's notifications", told("response.dispatcher"))

    response = record(view, "response")
    assert response["recorded_by"] == "timer" and response["roles"] == ["expert", "dispatcher"]
    assert parse(response["recorded_at"]) >= parse(ticket["response_due"])  # never before the deadline
    assert (view["escalation_step"], view["tier"]) == (1, "line_2")
    notes = {n["key"]: n for n in view["notifications"]}
    for key in ("open.parts_manager", "open.project_lead", "open.technical_manager", "response.expert"):
        assert notes[key]["result"] == "sent" and notes[key]["message_id"], notes[key]
        assert notes[key]["channel"] == "sns"
    assert notes["open.technical_manager"]["reason"] == "opened"
    assert "T-" in notes["response.expert"]["subject"] and "line-2 expert group" in notes["response.expert"]["message"]

    # and up the ladder while nobody is on site: the project lead, then the technical manager
    view = wait_for(timers, auth, ticket, "the technical manager's rung", told("onsite.3.technical_manager"))
    assert [(b["key"], b["escalation_step"]) for b in view["breaches"]] == [
        ("response", 1),
        ("onsite", 2),
        ("onsite.3", 3),
    ]
    assert (view["escalation_step"], view["tier"], view["next_due_at"]) == (3, "technical_manager", None)


def test_an_acknowledged_ticket_has_no_response_breach(timers, auth, school):
    ticket = make_ticket(timers, auth, school, level=2)  # yellow: response within 5 s
    ticket = act(timers, auth, ticket, "triage")  # the level confirmed: the deadlines stay
    ticket = act(timers, auth, ticket, "assign", assignee_id="eng-1")
    ticket = act(timers, auth, ticket, "acknowledge", "engineer", "eng-1")
    assert sla(timers, auth, ticket)["sla_version"] == 1
    # the on-site deadline (10 s) passes unmet: the timer acted there, so it was running at 5 s
    view = wait_for(timers, auth, ticket, "the on-site breach", breached("onsite"))
    assert [b["key"] for b in view["breaches"]] == ["onsite"]
    response = next(m for m in view["milestones"] if m["milestone"] == "response")
    assert (response["met_in_time"], response["breached"]) == (True, False)
    assert not [n for n in view["notifications"] if n["key"].startswith("response.")]


def test_a_level_change_in_flight_moves_the_timer_to_the_new_deadlines(timers, auth, school):
    ticket = make_ticket(timers, auth, school, level=2)  # yellow: response within 5 s
    old_due = parse(ticket["response_due"])
    ticket = ok(transition(timers, auth, ticket, "change_level", level=1))  # blue: within 12 s
    new_due = parse(ticket["response_due"])
    assert new_due > old_due

    view = wait_for(timers, auth, ticket, "the response breach at the new deadline", breached("response"))
    response = record(view, "response")
    assert parse(response["deadline"]) == new_due and response["sla_version"] == 2
    assert parse(response["recorded_at"]) >= new_due  # nothing was recorded at the old deadline
    assert view["sla_version"] == 2


def test_a_level_raised_in_flight_tells_the_roles_the_new_level_names(timers, auth, school):
    ticket = make_ticket(timers, auth, school, level=2)
    wait_for(timers, auth, ticket, "the parts manager told", told("open.parts_manager"))
    ok(transition(timers, auth, ticket, "change_level", level=4))
    view = wait_for(timers, auth, ticket, "the technical manager told", told("open.technical_manager"))
    openings = sorted(n["key"] for n in view["notifications"] if n["reason"] == "opened")
    assert openings == ["open.parts_manager", "open.project_lead", "open.technical_manager"]  # each told once


def test_a_change_read_before_the_breach_is_refused_with_stale_version(timers, auth, school):
    ticket = make_ticket(timers, auth, school, level=4)
    wait_for(timers, auth, ticket, "the response breach", breached("response"))
    code, body = transition(timers, auth, ticket, "triage", level=3)  # the version read at creation
    assert code == 409 and body["error"]["code"] == "stale_version"
    current = ok(call(timers, "GET", f"/tickets/{ticket['ticket_id']}", auth("dispatcher")))
    assert current["version"] > ticket["version"]


def test_a_breached_milestone_met_later_records_when_and_how_late(timers, auth, school):
    ticket = make_ticket(timers, auth, school, level=4)
    wait_for(timers, auth, ticket, "the response breach", breached("response"))
    ticket = act(timers, auth, ticket, "triage")
    ticket = act(timers, auth, ticket, "assign", assignee_id="eng-1")
    ticket = act(timers, auth, ticket, "acknowledge", "engineer", "eng-1")
    response = record(sla(timers, auth, ticket), "response")
    met = parse(ticket["milestones"]["acknowledged_at"])
    assert parse(response["met_at"]) == met
    assert response["lateness_seconds"] == pytest.approx(
        (met - parse(ticket["response_due"])).total_seconds(), abs=1e-3
    )


def test_a_breach_is_recorded_once_when_the_timer_and_the_reconciliation_both_act(timers, auth, school):
    second = make_ticket(timers, auth, school, level=4)
    first = make_ticket(timers, auth, school, level=4)  # due a moment later: not due in the first run
    # the reconciliation, run as if late, writes the second ticket's breach before its timer fires
    summary = reconcile(timers, parse(second["response_due"]) + GRACE)
    assert f"{second['ticket_id']}:response" in summary["entries"]
    for ticket in (first, second):
        wait_for(timers, auth, ticket, "the on-site breach", breached("onsite"))
    # and after the timer wrote the first ticket's: nothing left for it
    again = reconcile(timers, parse(first["onsite_due"]) + GRACE)
    assert f"{first['ticket_id']}:response" not in again["entries"]

    for ticket, response_by in ((first, "timer"), (second, "reconciliation")):
        view = sla(timers, auth, ticket)
        breaches = [b["key"] for b in view["breaches"]]  # the timer adds onsite.3 3 s after onsite: maybe yet
        assert breaches[:2] == ["response", "onsite"] and len(breaches) == len(set(breaches)), breaches
        assert record(view, "response")["recorded_by"] == response_by
        keys = [n["key"] for n in view["notifications"]]
        assert len(keys) == len(set(keys))
        assert keys.count("response.expert") == 1


def test_a_failed_timer_start_does_not_fail_the_report_and_the_reconciliation_catches_up(
    timers, auth, school, monkeypatch
):
    from chalicelib import timers as aws_timers

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("Step Functions is unavailable")

    monkeypatch.setattr(aws_timers, "start", broken)
    ticket = make_ticket(timers, auth, school, level=4)  # 201 all the same
    summary = reconcile(timers, parse(ticket["onsite_due"]) + GRACE + dt.timedelta(seconds=1))
    assert [e.split(":")[1] for e in summary["entries"] if e.startswith(ticket["ticket_id"])] == [
        "notify",
        "response",
        "onsite",
    ]
    view = sla(timers, auth, ticket)
    assert {b["recorded_by"] for b in view["breaches"]} == {"reconciliation"}
    assert {n["result"] for n in view["notifications"]} == {"sent"}


class WriterDied(BaseException):
    """The writer's end between claim and result (a stopped execution, a Lambda timeout): not an error
    any code catches, so nothing after the claim runs."""


def counting_publish(monkeypatch: Any) -> list[tuple[str, str, str]]:
    """Every message the app publishes, as (ticket_id, reason, role)."""
    from chalicelib import timers as aws_timers

    real = aws_timers.publish
    published: list[tuple[str, str, str]] = []

    def publish(topic: str, subject: str, message: str, attributes: dict[str, Any]) -> str:
        published.append(
            (
                attributes["ticket_id"]["StringValue"],
                attributes["reason"]["StringValue"],
                attributes["role"]["StringValue"],
            )
        )
        return real(topic, subject, message, attributes)

    monkeypatch.setattr(aws_timers, "publish", publish)
    return published


def notification(client: Any, auth: Any, ticket: dict[str, Any], key: str) -> Any:
    return next(n for n in sla(client, auth, ticket)["notifications"] if n["key"] == key)


def test_a_notification_claimed_by_a_writer_that_died_is_sent_once_by_the_reconciliation_after_its_lease(
    timers, auth, school, monkeypatch
):
    from chalicelib import timers as aws_timers

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("Step Functions is unavailable")

    def dies(*args: Any, **kwargs: Any) -> str:
        raise WriterDied()

    monkeypatch.setattr(aws_timers, "start", broken)  # only the reconciliation writes here
    ticket = make_ticket(timers, auth, school, level=4)
    opened = parse(ticket["reported_at"])
    real_publish = aws_timers.publish
    monkeypatch.setattr(aws_timers, "publish", dies)
    claimed_at = opened + GRACE + dt.timedelta(seconds=1)  # the opening entry is due, the deadlines not yet
    with pytest.raises(WriterDied):
        reconcile(timers, claimed_at)  # claims open.parts_manager and dies before publishing it
    assert notification(timers, auth, ticket, "open.parts_manager")["result"] == "pending"
    monkeypatch.setattr(aws_timers, "publish", real_publish)
    published = counting_publish(monkeypatch)
    tid = ticket["ticket_id"]

    # inside the lease (the test stage's is minutes long) the claim is its writer's: left alone
    reconcile(timers, claimed_at + dt.timedelta(seconds=1))
    assert notification(timers, auth, ticket, "open.parts_manager")["result"] == "pending"
    assert published == []

    # after it, the next run takes it over and sends it
    summary = reconcile(timers, claimed_at + dt.timedelta(days=1))
    note = notification(timers, auth, ticket, "open.parts_manager")
    assert note["result"] == "sent" and note["message_id"]
    assert published.count((tid, "opened", "parts_manager")) == 1
    assert f"{tid}:open.parts_manager" in summary["redelivered"]

    # and a delivered notification is never sent again
    summary = reconcile(timers, claimed_at + dt.timedelta(days=2))
    assert notification(timers, auth, ticket, "open.parts_manager")["message_id"] == note["message_id"]
    assert published.count((tid, "opened", "parts_manager")) == 1
    assert summary["redelivered"] == []
    assert [n["key"] for n in sla(timers, auth, ticket)["notifications"] if n["result"] != "sent"] == []


def test_a_notification_the_timer_delivered_is_never_taken_over(timers, auth, school, monkeypatch):
    from chalicelib.models.sla import NotificationModel

    ticket = make_ticket(timers, auth, school, level=2)  # the timer tells the parts manager at once
    first = wait_for(timers, auth, ticket, "the parts manager told", told("open.parts_manager"))
    sent = next(n for n in first["notifications"] if n["key"] == "open.parts_manager")
    published = counting_publish(monkeypatch)
    summary = reconcile(timers, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))  # every lease long past
    assert (ticket["ticket_id"], "opened", "parts_manager") not in published
    assert f"{ticket['ticket_id']}:open.parts_manager" not in summary["redelivered"]
    assert notification(timers, auth, ticket, "open.parts_manager")["message_id"] == sent["message_id"]
    stored = NotificationModel.get(ticket["ticket_id"], "open.parts_manager", consistent_read=True)
    assert stored.undelivered is None  # the state machine's StoreDelivery took it out of the index


def test_who_may_read_a_tickets_sla(timers, auth, token, school):
    ticket = make_ticket(timers, auth, school, level=1)
    for role in ("dispatcher", "manager", "technical_manager", "project_lead", "parts_manager", "admin"):
        assert call(timers, "GET", f"/tickets/{ticket['ticket_id']}/sla", auth(role))[0] == 200, role
    assert call(timers, "GET", f"/tickets/{ticket['ref']}/sla", auth("manager"))[0] == 200
    code, body = call(timers, "GET", f"/tickets/{ticket['ticket_id']}/sla", auth("engineer", "eng-9"))
    assert code == 403  # engineers read the tickets assigned to them
    school_staff = {"Authorization": f"Bearer {token('school_staff', school_id=school)}"}
    code, body = call(timers, "GET", f"/tickets/{ticket['ticket_id']}/sla", school_staff)
    assert code == 403  # the supplier's escalations and notifications; a school follows the ticket itself
    assert call(timers, "GET", "/tickets/t_nosuchticket/sla", auth("dispatcher"))[0] == 404
