"""Issue 11's budget: an app's write, with its idempotency guard, costs at most 3 DynamoDB round trips
(the ticket's GetItem and one TransactWriteItems, plus one read or write where the step needs it)."""

from __future__ import annotations

from typing import Any

from local_aws.calls import record_calls
from tests.functional.factories import call, ok
from tests.functional.test_visit import ENGINEER, _eta, _key, _stock_for, assigned_ticket


def _costs(client: Any, auth: Any, path: str, body: dict[str, Any]) -> tuple[Any, list[str]]:
    headers = {**auth("engineer", ENGINEER), "Idempotency-Key": _key()}
    with record_calls() as log:
        answer = ok(call(client, "POST", path, headers, body))
    return answer, log.dynamodb()


def test_each_visit_write_costs_at_most_three_dynamodb_round_trips(client, auth):
    _, lamp, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    _stock_for(client, auth, ENGINEER, "DRV-40", 5, [lamp["model"]])
    costs = {}
    for step, body in [
        ("acknowledge", {}),
        ("travel", {"eta": _eta()}),
        ("check-in", {"lat": 31.2304, "lon": 121.4737, "accuracy_m": 10}),
        (
            "work",
            {
                "cause": "Driver burnt out",
                "category": "hardware_fault",
                "actions": "Swapped the unit and its driver",
                "parts": [{"sku": "DRV-40", "qty": 1}],
                "swap": {"old_serial": lamp["serial"], "new_serial": "RT-NEW-1"},
            },
        ),
    ]:
        _, costs[step] = _costs(client, auth, f"/tickets/{tid}/{step}", body)
    assert costs == {
        "acknowledge": ["GetItem", "GetItem", "TransactWriteItems"],  # the school, kept for travel and check-in
        "travel": ["GetItem", "TransactWriteItems", "UpdateItem"],  # the SMS's delivery result
        "check-in": ["GetItem", "TransactWriteItems"],
        "work": ["GetItem", "BatchGetItem", "TransactWriteItems"],  # the van, the swap's lamp, school, counter
    }


def test_reads_are_a_bounded_number_of_calls(client, auth):
    for _ in range(3):
        assigned_ticket(client, auth)
    with record_calls() as log:
        work = ok(call(client, "GET", "/me/work", auth("engineer", ENGINEER)))
    assert len(work["items"]) == 3
    calls = log.dynamodb()
    # the work index, the parts of the one lamp model, a history per ticket, the open inspection visits
    assert "Scan" not in calls and calls.count("Query") <= 1 + 1 + 3 + 1
    assert calls.count("BatchGetItem") <= 3  # schools, lamps, part names
    with record_calls() as log:
        ok(call(client, "GET", "/me/changes", auth("engineer", ENGINEER)))
    assert log.dynamodb() == ["Query"]
