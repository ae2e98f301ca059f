"""Refused writes say what refused them, and lists return exactly what was asked (issue 7's defects).

Each test here failed before the restructuring: lists filtered after the Query, every refused
transition was reported as a stale version, the import's fallback dropped lamps silently, two
contracts could share a code, and a stale version told any engineer the ticket's state.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from chalicelib.models.access import TicketEventModel
from chalicelib.models.base import bind_tables
from tests.functional.factories import (
    call,
    make_contract,
    make_lamp,
    make_school,
    make_ticket,
    make_user,
    ok,
    transition,
)


def _capture_queries(monkeypatch) -> list[dict]:
    """The DynamoDB Query requests this process sends from now on."""
    from botocore.client import BaseClient

    sent: list[dict] = []
    original = BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if operation_name == "Query":
            sent.append(api_params)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return sent


def test_a_list_by_school_and_status_fills_its_page_even_when_other_statuses_come_first(client, auth, monkeypatch):
    """A page is `limit` tickets of exactly that school and status, not a filtered remainder."""
    school = make_school(client, auth)
    for _ in range(5):  # reported, and due sooner (red): first in the school's deadline order
        make_ticket(client, auth, school["school_id"], level=4)
    triaged = []
    for _ in range(3):
        ticket = make_ticket(client, auth, school["school_id"], level=1)
        triaged.append(ok(transition(client, auth, ticket, "triage"))["ticket_id"])

    queries = _capture_queries(monkeypatch)
    code, page = call(
        client, "GET", f"/tickets?school_id={school['school_id']}&status=triaged&limit=2", auth("dispatcher")
    )
    assert code == 200, page
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert {t["status"] for t in page["items"]} == {"triaged"}
    # DynamoDB applies Limit before a FilterExpression: a filtered page could come back short or empty.
    assert queries and all("FilterExpression" not in q for q in queries), queries
    rest = ok(
        call(
            client,
            "GET",
            f"/tickets?school_id={school['school_id']}&status=triaged&limit=2&cursor={page['next_cursor']}",
            auth("dispatcher"),
        )
    )
    assert [t["ticket_id"] for t in page["items"] + rest["items"]] == triaged
    assert rest["next_cursor"] is None


def test_a_list_by_three_dimensions_is_refused_naming_the_combinations_that_exist(client, auth):
    school = make_school(client, auth)
    code, body = call(
        client, "GET", f"/tickets?school_id={school['school_id']}&status=reported&level=2", auth("dispatcher")
    )
    assert code == 400, body
    assert body["error"]["code"] == "invalid_query"
    assert "one or two of" in body["error"]["message"]


def test_a_transition_refused_for_another_reason_than_the_version_is_not_called_stale(client, auth):
    """A stale_version answer makes a client reload and retry; when the version is current that loops forever."""
    school = make_school(client, auth)
    ticket = make_ticket(client, auth, school["school_id"])
    bind_tables()
    # The audit trail already holds the event this change would write (a torn copy of the data).
    at = dt.datetime.fromisoformat(ticket["reported_at"])
    TicketEventModel(ticket["ticket_id"], 2, at=at, actor="x", action="x", to_status="x").save()

    code, body = transition(client, auth, ticket, "triage")
    assert code == 409, body
    assert body["error"]["code"] != "stale_version"
    assert body["error"]["code"] == "write_conflict"
    current = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}", auth("dispatcher")))
    assert (current["version"], current["status"]) == (ticket["version"], "reported")  # nothing written


def test_a_stale_version_from_an_engineer_not_assigned_reveals_nothing_of_the_ticket(client, auth):
    school = make_school(client, auth)
    make_user("eng-1", "engineer")
    ticket = make_ticket(client, auth, school["school_id"])
    ticket = ok(transition(client, auth, ticket, "triage"))
    ticket = ok(transition(client, auth, ticket, "assign", assignee_id="eng-1"))

    stale = {**ticket, "version": 1}
    code, body = transition(client, auth, stale, "acknowledge", role="engineer", sub="eng-other")
    assert code == 403, body
    assert "current_version" not in body["error"] and "current_status" not in body["error"]

    code, body = transition(client, auth, stale, "acknowledge", role="engineer", sub="eng-1")
    assert (code, body["error"]["code"], body["error"]["current_version"]) == (409, "stale_version", ticket["version"])


def test_two_contracts_cannot_share_a_code(client, auth):
    make_contract(client, auth, code="SH-EDU-2026")
    code, body = call(client, "POST", "/contracts", auth("admin"), {"code": "sh-edu-2026", "name": "Another"})
    assert code == 409, body
    assert body["error"]["details"] == [{"field": "code", "problem": "already used by another contract"}]


def test_an_import_row_whose_serial_is_registered_meanwhile_is_reported_so_the_report_adds_up(
    client, auth, monkeypatch
):
    """The race: the serial check passes, then another request registers one of the serials."""
    from chalicelib.models import access

    school = make_school(client, auth)
    make_lamp(client, auth, school["school_id"], serial="RACE-2", room_id="A-101", position="2")
    monkeypatch.setattr(access, "registered_serials", lambda serials: {})  # the check ran before the race

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["room_id", "position", "model", "serial", "installed_on", "accepted_on"])
    for n in range(1, 41):  # two transactions of lamps; the refused one is in the first
        writer.writerow(["A-102", str(n), "EP-LED-40", f"RACE-{n}", "2025-08-20", "2025-09-01"])
    headers = {**auth("admin"), "Content-Type": "text/csv"}
    response = client.http.post(
        f"/schools/{school['school_id']}/lamps/import", headers=headers, body=out.getvalue().encode()
    )
    assert response.status_code == 200, response.body
    report = response.json_body
    assert report["rows"] == report["created"] + report["unchanged"] + report["failed"]
    assert (report["created"], report["failed"]) == (39, 1)
    assert report["errors"] == [
        {"row": 3, "column": "serial", "problem": "registered by another request while this list was imported"}
    ]
    listed = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps?room_id=A-102&limit=200", auth()))
    assert len(listed["items"]) == 39
