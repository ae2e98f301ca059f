"""End to end: the README's run command as a subprocess, spoken to over real HTTP.

The server runs with LAMPCARE_FORBID_SCANS=1, so any DynamoDB Scan on a request path
turns into a failed request here.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.server import LocalServer, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("local-data"), free_port())
    srv.start("--fresh")
    yield srv
    srv.stop()


def test_run_command_serves_health_and_prints_tokens_and_a_qr_url(server: LocalServer) -> None:
    status, body = server.request("GET", "/health")
    assert status == 200 and body["tables"]["reachable"] is True
    printed = "".join(server.output)
    for role in ("engineer", "expert", "dispatcher", "parts_manager", "project_lead", "manager", "admin"):
        assert f"  {role} " in printed
    qr_url = next(line.split(": ", 1)[1].strip() for line in server.output if line.startswith("QR report URL"))
    with urllib.request.urlopen(qr_url, timeout=10) as response:
        lamp = json.loads(response.read())
    assert lamp["lamp"]["room_id"] and "school" in lamp


def test_demo_data_has_schools_with_gps_and_sixty_lamps(server: LocalServer) -> None:
    status, schools = server.request("GET", "/schools", role="manager")
    assert status == 200 and len(schools["items"]) == 2
    assert all(s["latitude"] and s["longitude"] for s in schools["items"])
    total = 0
    for school in schools["items"]:
        status, lamps = server.request("GET", f"/schools/{school['school_id']}/lamps?limit=200", role="manager")
        assert status == 200
        total += len(lamps["items"])
    assert total >= 60


def test_requests_without_a_valid_token_are_refused(server: LocalServer) -> None:
    status, body = server.request("GET", "/tickets?status=reported")
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    status, body = server.request("POST", "/schools", {"name": "x"}, role="engineer")
    assert status == 403


def test_a_dispatcher_reports_and_assigns_a_fault_and_it_survives_a_restart(server: LocalServer) -> None:
    _, schools = server.request("GET", "/schools", role="dispatcher")
    school_id = schools["items"][0]["school_id"]
    _, lamps = server.request("GET", f"/schools/{school_id}/lamps?room_id=B-201", role="dispatcher")
    status, ticket = server.request(
        "POST",
        "/tickets",
        {
            "source": "school_report",
            "school_id": school_id,
            "lamp_ids": [lamps["items"][0]["lamp_id"]],
            "category": "flickering",
            "description": "Flickers every few seconds",
        },
        role="dispatcher",
    )
    assert status == 201, ticket
    status, ticket = server.request(
        "POST",
        f"/tickets/{ticket['ticket_id']}/transitions",
        {"action": "triage", "version": ticket["version"], "level": 3},
        role="dispatcher",
    )
    assert status == 200 and ticket["colour"] == "orange"
    status, ticket = server.request(
        "POST",
        f"/tickets/{ticket['ticket_id']}/transitions",
        {"action": "assign", "version": ticket["version"], "assignee_id": "eng-1"},
        role="dispatcher",
    )
    assert status == 200
    status, mine = server.request("GET", "/tickets", role="engineer", sub="eng-1")
    assert status == 200 and ticket["ticket_id"] in [t["ticket_id"] for t in mine["items"]]

    server.stop()
    assert "Snapshot written" in "".join(server.output)
    server.start()  # no --fresh: the snapshot is restored
    status, again = server.request("GET", f"/tickets/{ticket['ticket_id']}", role="dispatcher")
    assert status == 200 and again["status"] == "assigned" and again["version"] == ticket["version"]
