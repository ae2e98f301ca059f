"""SLA timers on the server `make run` starts (issue 10, Done when): moto runs the state machine made from
infra/sla_timer.asl.json, one execution per ticket and SLA version, against a contract whose policy
counts in seconds; the reconciliation job runs every 2 s (as EventBridge runs it every minute).

- an unacknowledged ticket escalates within 2 s of its deadline (the server's own record: the time
  it recorded the breach against the deadline) and its people are told;
- an acknowledged one does not;
- a level change in flight moves the deadlines;
- a timer stopped before its deadlines (through moto's Step Functions API) is caught by the
  reconciliation;
- no breach is recorded twice and nobody is told twice: every notification stored as sent is one
  message that reached the role's topic (an SQS queue subscribed to every topic), and every message
  that reached a topic is a stored notification.

A timer is stopped (by the test, or by a level change) only while it waits: one stopped between a
publish and its stored result would be sent again by the reconciliation after the lease (at least
once, services.sla_timers.redeliver_stale), which the last test would rightly count. A claim left
pending by a stop is sent by the reconciliation after the lease (15 s on the local stage): the last
test waits for every claim to settle (tests/functional/test_sla_timers.py takes a claim over
deterministically).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devtools.tiny_sla import TINY_POLICY
from tests.e2e.server import LocalServer, free_port

PATIENCE = 40.0  # seconds a poll waits before the test fails (above the local stage's 15 s lease plus a run)
GRACE = 10.0  # chalicelib.services.sweeps.GRACE: the reconciliation leaves an entry to its timer this long
MOTO_PORT = free_port()


class Moto:
    """The server's embedded AWS, spoken to directly (what an operator's console would show)."""

    def __init__(self, port: int):
        import boto3

        options = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
        }
        self.sfn = boto3.client("stepfunctions", **options)
        self.sns = boto3.client("sns", **options)
        self.sqs = boto3.client("sqs", **options)
        self.queue = ""

    def observe_topics(self) -> None:
        """An SQS queue subscribed to every role's topic: each published message lands there once."""
        self.queue = self.sqs.create_queue(QueueName="sla-observer")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for topic in self.sns.list_topics()["Topics"]:
            if ":lampcare-local-" in topic["TopicArn"] and not topic["TopicArn"].endswith("-notify"):
                self.sns.subscribe(TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=arn)

    def messages(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        for _ in range(200):
            batch = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return got
            for message in batch:
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return got

    def stop_timer(self, ticket_id: str) -> None:
        """Stops the ticket's first timer, as if it had died (moto refuses a stop in the first tenth of a
        second of an execution: retried)."""
        machine = next(
            m["stateMachineArn"] for m in self.sfn.list_state_machines()["stateMachines"] if "sla-timer" in m["name"]
        )
        execution = machine.replace(":stateMachine:", ":execution:") + f":sla-{ticket_id}-v1"
        for _ in range(50):
            try:
                self.sfn.stop_execution(executionArn=execution, cause="e2e: a timer that never ran")
            except Exception:  # noqa: BLE001 - too early for moto: try again
                time.sleep(0.1)
                continue
            if self.sfn.describe_execution(executionArn=execution)["status"] == "ABORTED":
                return
        raise AssertionError(f"could not stop {execution}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer(
        tmp_path_factory.mktemp("sla-data"), free_port(), "--moto-port", str(MOTO_PORT), "--reconcile-every", "2"
    )
    level = os.environ.get("POWERTOOLS_LOG_LEVEL")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"  # the job's line per run (the test environment says WARNING)
    try:
        srv.start("--fresh")
    finally:
        if level is None:
            os.environ.pop("POWERTOOLS_LOG_LEVEL", None)
        else:
            os.environ["POWERTOOLS_LOG_LEVEL"] = level
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def moto(server: LocalServer) -> Moto:
    aws = Moto(MOTO_PORT)
    aws.observe_topics()
    return aws


@pytest.fixture(scope="module")
def school(server: LocalServer, moto: Moto) -> str:
    code, contract = server.request(
        "POST", "/contracts", {"code": "E2E-TINY", "name": "Seconds-scale SLA", "policy": TINY_POLICY}, role="admin"
    )
    assert code == 201, contract
    code, school = server.request(
        "POST",
        "/schools",
        {
            "contract_id": contract["contract_id"],
            "code": "E2E-SLA",
            "name": "SLA test school",
            "address": "1 Xueyuan Road",
            "latitude": 31.23,
            "longitude": 121.47,
        },
        role="admin",
    )
    assert code == 201, school
    return str(school["school_id"])


OPENED: list[str] = []  # every ticket this module opened: the last test checks them all


def open_ticket(server: LocalServer, school: str, level: int) -> dict[str, Any]:
    code, ticket = server.request(
        "POST",
        "/tickets",
        {"source": "dispatcher", "school_id": school, "category": "not_lit", "level": level, "description": "e2e"},
        role="dispatcher",
    )
    assert code == 201, ticket
    OPENED.append(ticket["ticket_id"])
    return ticket


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def sla(server: LocalServer, ticket_id: str) -> Any:
    code, view = server.request("GET", f"/tickets/{ticket_id}/sla", role="dispatcher")
    assert code == 200, view
    return view


def wait_for(server: LocalServer, ticket_id: str, what: str, done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + PATIENCE
    while True:
        view = sla(server, ticket_id)
        if done(view):
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {PATIENCE:.0f} s for {what}; the ticket's SLA: {view}")
        time.sleep(0.25)


def recorded(key: str) -> Callable[[Any], bool]:
    return lambda view: any(b["key"] == key for b in view["breaches"])


def delivered(key: str) -> Callable[[Any], bool]:
    return lambda view: any(n["key"] == key and n["result"] != "pending" for n in view["notifications"])


def settled(view: Any) -> bool:
    """Every notification claimed has its delivery result stored (none left pending)."""
    return all(n["result"] != "pending" for n in view["notifications"])


def reconciliation_after(server: LocalServer, moment: dt.datetime) -> dict[str, Any]:
    """The first reconciliation run (the server's log line) that checked entries due up to `moment`."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        for line in list(server.output):
            if '"sla reconciliation"' in line and line.startswith("{"):
                run = json.loads(line)
                if parse(run["due_by"]) >= moment:
                    return dict(run)
        time.sleep(0.25)
    runs = [line for line in server.output if '"sla reconciliation"' in line][-3:]
    raise AssertionError(f"no reconciliation run checked entries due by {moment}; the last runs: {runs}")


def act(server: LocalServer, ticket: dict[str, Any], action: str, role: str = "dispatcher", **fields: Any) -> Any:
    """A transition as an app makes it while timers run: reload and retry on stale_version."""
    sub = "eng-1" if role == "engineer" else None
    for _ in range(5):
        body = {"action": action, "version": ticket["version"], **fields}
        code, answer = server.request("POST", f"/tickets/{ticket['ticket_id']}/transitions", body, role, sub)
        if code == 200:
            return answer
        assert code == 409 and answer["error"]["code"] == "stale_version", answer
        _, ticket = server.request("GET", f"/tickets/{ticket['ticket_id']}", role="dispatcher")
    raise AssertionError(f"{action}: stale five times")


def test_an_unacknowledged_ticket_escalates_within_2_s_of_its_deadline(server, school):
    ticket = open_ticket(server, school, level=4)  # red: answered within 3 s
    view = wait_for(server, ticket["ticket_id"], "the response breach's notifications", delivered("response.expert"))
    breach = next(b for b in view["breaches"] if b["key"] == "response")
    late = (parse(breach["recorded_at"]) - parse(ticket["response_due"])).total_seconds()
    assert breach["recorded_by"] == "timer"
    assert 0 <= late <= 2.0, f"recorded {late:.3f} s after the deadline"
    assert (view["escalation_step"], view["tier"]) == (1, "line_2")
    notes = {n["key"]: n for n in view["notifications"]}
    assert notes["response.expert"]["result"] == "sent" and notes["response.expert"]["message_id"]
    assert {"open.parts_manager", "open.project_lead", "open.technical_manager"} <= set(notes)


def test_an_acknowledged_ticket_does_not_escalate(server, school):
    ticket = open_ticket(server, school, level=2)  # yellow: answered within 5 s, on site within 10 s
    ticket = act(server, ticket, "triage")
    ticket = act(server, ticket, "assign", assignee_id="eng-1")
    ticket = act(server, ticket, "acknowledge", "engineer")
    view = wait_for(server, ticket["ticket_id"], "the on-site breach (after the response deadline)", recorded("onsite"))
    assert [b["key"] for b in view["breaches"]] == ["onsite"]
    response = next(m for m in view["milestones"] if m["milestone"] == "response")
    assert (response["met_in_time"], response["breached"]) == (True, False)


def test_a_level_change_in_flight_moves_the_deadlines(server, school):
    ticket = open_ticket(server, school, level=2)  # yellow: within 5 s
    wait_for(server, ticket["ticket_id"], "the opening told", delivered("open.parts_manager"))  # timer waiting
    old_due = parse(ticket["response_due"])
    ticket = act(server, ticket, "change_level", level=1)  # blue: within 12 s
    new_due = parse(ticket["response_due"])
    assert new_due - old_due == dt.timedelta(seconds=7)
    view = wait_for(server, ticket["ticket_id"], "the response breach", recorded("response"))
    breach = next(b for b in view["breaches"] if b["key"] == "response")
    assert parse(breach["deadline"]) == new_due and breach["sla_version"] == 2 == view["sla_version"]
    assert parse(breach["recorded_at"]) >= new_due  # the old deadline passed without a breach


def opening_told(view: Any) -> bool:
    return len([n for n in view["notifications"] if n["reason"] == "opened"]) == 3 and settled(view)


def test_a_timer_stopped_before_its_deadlines_is_caught_by_the_reconciliation(server, school, moto):
    ticket = open_ticket(server, school, level=4)  # red: answered within 3 s
    wait_for(server, ticket["ticket_id"], "the opening told", opening_told)  # the timer now waits for 3 s
    moto.stop_timer(ticket["ticket_id"])
    view = wait_for(server, ticket["ticket_id"], "the reconciliation", delivered("onsite.dispatcher"))
    by = {b["key"]: b["recorded_by"] for b in view["breaches"]}
    assert by["response"] == by["onsite"] == "reconciliation"
    breach = next(b for b in view["breaches"] if b["key"] == "response")
    late = (parse(breach["recorded_at"]) - parse(ticket["response_due"])).total_seconds()
    assert late >= GRACE  # the timer's turn first
    assert {n["result"] for n in view["notifications"]} == {"sent"}


def test_no_breach_is_recorded_twice_and_nobody_is_told_twice(server, school, moto):
    """Timers and the reconciliation (every 2 s) acted on every ticket of this module meanwhile."""
    flurry = [open_ticket(server, school, level=4) for _ in range(5)]
    for ticket in flurry:
        wait_for(server, ticket["ticket_id"], "the technical manager's rung", delivered("onsite.3.technical_manager"))
    last_due = max(parse(b["due_at"]) for t in flurry for b in sla(server, t["ticket_id"])["breaches"])
    run = reconciliation_after(server, last_due)  # a run that saw every entry due: nothing was left to write
    assert (run["tickets_due"], run["written"]) == (0, 0), run
    stored: dict[str, str] = {}
    for ticket_id in OPENED:
        # a claim whose timer was stopped between claim and result is sent by the reconciliation after
        # its lease: waited for, then every notification must be sent, and published once
        view = wait_for(server, ticket_id, "every claim settled", settled)
        keys = [b["key"] for b in view["breaches"]]
        assert len(keys) == len(set(keys)), view["breaches"]
        _, current = server.request("GET", f"/tickets/{ticket_id}", role="dispatcher")
        _, events = server.request("GET", f"/tickets/{ticket_id}/events?limit=100", role="dispatcher")
        # the version counts the ticket's own changes and each breach or escalation written once
        assert current["version"] == len(events["items"]) + len(keys), (current["version"], keys)
        for note in view["notifications"]:
            assert note["result"] == "sent", note
            stored[note["message_id"]] = f"{ticket_id}:{note['key']}"
    messages = moto.messages()
    published = [m["MessageId"] for m in messages if m["MessageAttributes"]["ticket_id"]["Value"] in OPENED]
    assert len(published) == len(set(published))  # each message published once
    assert sorted(published) == sorted(stored)  # one message per stored notification, and no other
