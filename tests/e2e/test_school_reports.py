"""Twenty students scan one dark lamp at once: one case, every report counted (issue 9, D-S6).

Against the server `make run` starts, whose embedded DynamoDB is serializable like the real one:
the lamp's open case is checked in the transaction that opens a case, and a report that loses
the race joins the winner's case.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.server import LocalServer, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("reports-data"), free_port())
    srv.start("--fresh")
    yield srv
    srv.stop()


def _lamps_of_a_room(server: LocalServer, room: str) -> list[dict[str, Any]]:
    _, schools = server.request("GET", "/schools", role="dispatcher")
    school_id = schools["items"][-1]["school_id"]
    _, page = server.request("GET", f"/schools/{school_id}/lamps?room_id={room}&limit=50", role="dispatcher")
    return [lamp for lamp in page["items"] if not lamp["has_open_fault"]]


def test_twenty_simultaneous_scans_of_one_lamp_make_one_case_that_counts_them_all(server: LocalServer) -> None:
    lamp = _lamps_of_a_room(server, "B-201")[0]

    def scan(n: int) -> tuple[int, Any]:
        return server.request("POST", f"/r/{lamp['qr_token']}/reports", {"fault": "not_lit"})

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(scan, range(20)))
    codes = [code for code, _ in answers]
    assert set(codes) <= {201, 429}, answers
    filed = [body for code, body in answers if code == 201]
    assert len({body["reference"] for body in filed}) == 1, filed
    assert sum(1 for body in filed if not body["joined"]) == 1  # exactly one report opened the case
    _, ticket = server.request("GET", f"/tickets/{filed[0]['reference']}", role="dispatcher")
    assert ticket["lamp_ids"] == [lamp["lamp_id"]]
    _, events = server.request("GET", f"/tickets/{ticket['ticket_id']}/events?limit=100", role="dispatcher")
    assert len(events["items"]) == len(filed) == ticket["version"]  # every accepted report is in the trail
    _, after = server.request("GET", f"/lamps/{lamp['lamp_id']}", role="dispatcher")
    assert after["open_tickets"] == 1


def test_simultaneous_scans_of_lamps_in_one_room_make_one_case_with_those_lamps(server: LocalServer) -> None:
    lamps = _lamps_of_a_room(server, "A-102")[:4]

    def scan(lamp: dict[str, Any]) -> tuple[int, Any]:
        return server.request("POST", f"/r/{lamp['qr_token']}/reports", {"fault": "not_lit"})

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(scan, lamps))
    assert [code for code, _ in answers] == [201] * 4, answers
    references = {body["reference"] for _, body in answers}
    # A race between the first reports of a room may open two cases (the room index is read before
    # the write); never more than the lamps, and each lamp belongs to exactly one open case.
    lamp_cases: dict[str, str] = {}
    for reference in references:
        _, ticket = server.request("GET", f"/tickets/{reference}", role="dispatcher")
        for lamp_id in ticket["lamp_ids"]:
            assert lamp_id not in lamp_cases
            lamp_cases[lamp_id] = reference
    assert set(lamp_cases) == {lamp["lamp_id"] for lamp in lamps}
