"""Issue 12 on the `make run` stack over real HTTP: the demo plan's visit assigned to the demo engineer is
started 10 times at once with one Idempotency-Key, then 3 times more one after another: one check-in
(the visit's version moves once), every sender the same answer."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from devtools.token import DEMO_SUBS
from tests.contract import check_response
from tests.e2e.server import LocalServer, free_port

SENDERS = 10
RETRIES = 3
ENGINEER = DEMO_SUBS["engineer"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("rounds-data"), free_port(), "--moto-port", str(free_port()))
    srv.start("--fresh")
    yield srv
    srv.stop()


def start(server: LocalServer, visit_id: str, key: str) -> tuple[int, Any, str | None]:
    path = f"/inspection-visits/{visit_id}/start"
    body = {"lat": 31.2305, "lon": 121.4533, "accuracy_m": 12, "device_at": "2026-11-24T09:30:00+08:00"}
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {server.token('engineer')}",
        "Idempotency-Key": key,
    }
    request = urllib.request.Request(server.base + path, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, got, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, got, raw = exc.code, dict(exc.headers), exc.read()
    check_response("POST", path, status, got, raw)
    return status, json.loads(raw), got.get("Idempotent-Replayed")


def test_a_start_sent_ten_times_at_once_and_three_times_more_checks_in_once(server):
    code, page = server.request("GET", f"/inspection-visits?assignee_id={ENGINEER}", role="engineer")
    assert code == 200, page
    visit = page["items"][0]  # the demo plan's round, assigned to the demo engineer
    assert visit["status"] == "assigned"

    key = str(uuid.uuid4())
    barrier = threading.Barrier(SENDERS)

    def send(_: int) -> tuple[int, Any, str | None]:
        barrier.wait()
        return start(server, visit["visit_id"], key)

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        answers = list(pool.map(send, range(SENDERS)))
    answers += [start(server, visit["visit_id"], key) for _ in range(RETRIES)]

    assert {a[0] for a in answers} == {200}, answers
    assert all(a[1] == answers[0][1] for a in answers), "every sender gets the first answer"
    assert sum(a[2] != "true" for a in answers) == 1, "one request did it, the others were answered from the guard"
    started = answers[0][1]
    assert started["status"] == "in_progress" and started["check_in"]["inside_fence"] is True
    assert started["version"] == visit["version"] + 1  # one change

    code, page = server.request("GET", f"/inspection-visits?assignee_id={ENGINEER}", role="engineer")
    assert code == 200 and page["items"][0] == started
