"""Issue 11 (Done when), for the visit's writes on the `make run` stack over real HTTP: each write sent 10 times
at once with one Idempotency-Key, then 3 times more one after another, has one effect (one audit event, one
SMS, one stock decrement) and gives every sender the same answer."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from devtools.token import DEMO_SUBS
from tests.contract import check_response
from tests.e2e.server import LocalServer, free_port

PHONE = "13712345678"
SENDERS = 10
RETRIES = 3
ENGINEER = DEMO_SUBS["engineer"]


@pytest.fixture(scope="module")
def moto_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto_port: int) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("visit-data"), free_port(), "--moto-port", str(moto_port))
    srv.start("--fresh")
    yield srv
    srv.stop()


def post(server: LocalServer, path: str, body: Any, role: str, key: str) -> tuple[int, Any, str | None]:
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {server.token(role)}",
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


def at_once(call: Callable[[], Any], n: int = SENDERS) -> list[Any]:
    barrier = threading.Barrier(n)

    def run(_: int) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def sms_to(moto_port: int, number: str) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/moto-api/data.json", timeout=30) as response:
        data = json.loads(response.read())
    return [m["message"] for m in data.get("sns", {}).get("SMS", []) if m["phone_number"] == number]


def events(server: LocalServer, ticket_id: str) -> list[str]:
    code, page = server.request("GET", f"/tickets/{ticket_id}/events?limit=100", role="manager")
    assert code == 200, page
    return [e["action"] for e in page["items"]]


def send_once(server: LocalServer, path: str, body: Any, role: str = "engineer", status: int = 200) -> Any:
    """The write sent 10 times at once and then 3 times in a row, all with one key: every answer the same."""
    key = str(uuid.uuid4())
    answers = at_once(lambda: post(server, path, body, role, key))
    answers += [post(server, path, body, role, key) for _ in range(RETRIES)]
    assert {a[0] for a in answers} == {status}, answers
    assert all(a[1] == answers[0][1] for a in answers), "every sender gets the first answer"
    assert sum(a[2] != "true" for a in answers) == 1, "one request did it, the others were answered from the guard"
    return answers[0][1]


@pytest.fixture(scope="module")
def world(server: LocalServer) -> dict[str, Any]:
    code, contract = server.request("POST", "/contracts", {"code": "E2E-VISIT", "name": "Visit"}, role="admin")
    assert code == 201, contract
    school_body = {
        "contract_id": contract["contract_id"],
        "code": "E2E-VISIT-1",
        "name": "Visit test school",
        "address": "1 Xueyuan Road",
        "latitude": 31.23,
        "longitude": 121.47,
        "contacts": [{"name": "Mr Zhao", "role": "facilities", "phone": PHONE}],
        "hazards": ["Roof access only with the caretaker"],
    }
    code, school = server.request("POST", "/schools", school_body, role="admin")
    assert code == 201, school
    lamp_body = {
        "school_id": school["school_id"],
        "room_id": "V-101",
        "position": "1",
        "model": "EP-LED-V",
        "serial": "E2E-V-0001",
        "installed_on": "2025-08-20",
        "accepted_on": "2025-09-01",
    }
    code, lamp = server.request("POST", "/lamps", lamp_body, role="admin")
    assert code == 201, lamp
    code, part = server.request(
        "POST", "/parts", {"sku": "E2E-DRV", "name": "驱动电源", "fits_models": ["EP-LED-V"]}, role="parts_manager"
    )
    assert code == 201, part
    code, depot = server.request("POST", "/locations", {"kind": "depot", "name": "E2E depot"}, role="parts_manager")
    assert code == 201, depot
    received = {"kind": "received", "sku": "E2E-DRV", "qty": 5, "to_location_id": depot["location_id"]}
    code, _, _ = post(server, "/stock/movements", received, "parts_manager", str(uuid.uuid4()))
    assert code == 201
    body = {
        "source": "school_report",
        "school_id": school["school_id"],
        "lamp_ids": [lamp["lamp_id"]],
        "category": "not_lit",
        "description": "dark",
    }
    code, t = server.request("POST", "/tickets", body, role="dispatcher")
    assert code == 201, t
    for action, fields in [("triage", {"level": 2}), ("assign", {"assignee_id": ENGINEER})]:
        code, t = server.request(
            "POST",
            f"/tickets/{t['ticket_id']}/transitions",
            {"action": action, "version": t["version"], **fields},
            role="dispatcher",
        )
        assert code == 200, t
    return {"ticket": t, "lamp": lamp, "depot": depot["location_id"], "school": school}


def depot_quantity(server: LocalServer, depot: str, sku: str) -> int:
    code, stock = server.request("GET", f"/stock/{depot}", role="parts_manager")
    assert code == 200, stock
    return next((int(i["quantity"]) for i in stock["items"] if i["sku"] == sku), 0)


def test_every_visit_write_sent_ten_times_at_once_and_three_times_again_happens_once(server, world, moto_port):
    t = world["ticket"]
    path = f"/tickets/{t['ticket_id']}"
    code, work = server.request("GET", "/me/work", role="engineer")
    assert code == 200 and t["ticket_id"] in [i["ticket"]["ticket_id"] for i in work["items"]]

    t = send_once(server, f"{path}/acknowledge", {"device_at": dt.datetime.now(dt.UTC).isoformat()})
    assert t["status"] == "acknowledged"
    eta = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=40)).isoformat()
    t = send_once(server, f"{path}/travel", {"eta": eta})
    assert t["status"] == "en_route"
    assert len(sms_to(moto_port, "+86" + PHONE)) == 1  # one ETA told, however many retries
    t = send_once(server, f"{path}/check-in", {"lat": 31.2301, "lon": 121.4702, "accuracy_m": 15})
    assert t["status"] == "on_site" and t["visit"]["check_in"]["inside_fence"] is True
    body = {
        "cause": "Driver burnt out",
        "category": "hardware_fault",
        "actions": "Replaced the driver",
        "parts": [{"sku": "E2E-DRV", "qty": 2, "location_id": world["depot"]}],
    }
    t = send_once(server, f"{path}/work", body)
    assert t["status"] == "resolved"
    assert depot_quantity(server, world["depot"], "E2E-DRV") == 3  # 5 - 2, once

    # the school signs with the code it was sent (issue 11.8), then the engineer checks out
    key = str(uuid.uuid4())
    code, _, _ = post(server, f"{path}/sign-off-requests", {"method": "otp"}, "engineer", key)
    assert code == 201
    texts = [x for x in sms_to(moto_port, "+86" + PHONE) if "签认码" in x]
    otp = re.search(r"签认码 (\d{6})", texts[-1]).group(1)  # type: ignore[union-attr]
    code, signed, _ = post(
        server,
        f"{path}/sign-off",
        {"method": "otp", "code": otp, "signer_name": "Mr Zhao"},
        "engineer",
        str(uuid.uuid4()),
    )
    assert code == 200 and signed["status"] == "signed_off", signed
    t = send_once(server, f"{path}/check-out", {"device_at": dt.datetime.now(dt.UTC).isoformat()})
    assert t["visit"]["check_out"]["by"] == ENGINEER

    trail = events(server, t["ticket_id"])
    for action in ("acknowledge", "depart", "arrive", "resolve", "sign_off", "check_out"):
        assert trail.count(action) == 1, trail
    code, work = server.request("GET", "/me/work", role="engineer")
    assert t["ticket_id"] not in [i["ticket"]["ticket_id"] for i in work["items"]]
    code, full = server.request("GET", path, role="engineer")
    assert [m["result"] for m in full["visit"]["messages"]] == ["sent"]


def test_work_records_racing_for_the_last_units_never_take_stock_below_zero(server, world):
    """Ten tickets' work records, all at once, each taking 1 of the 3 left: 3 succeed, 7 get 409 naming the part,
    and their tickets are left as they were."""
    tickets = []
    for n in range(SENDERS):
        body = {
            "source": "dispatcher",
            "school_id": world["school"]["school_id"],
            "category": "not_lit",
            "description": f"dark {n}",
        }
        code, t = server.request("POST", "/tickets", body, role="dispatcher")
        assert code == 201, t
        for action, fields in [("triage", {"level": 1}), ("assign", {"assignee_id": ENGINEER})]:
            code, t = server.request(
                "POST",
                f"/tickets/{t['ticket_id']}/transitions",
                {"action": action, "version": t["version"], **fields},
                role="dispatcher",
            )
            assert code == 200, t
        code, t, _ = post(server, f"/tickets/{t['ticket_id']}/acknowledge", {}, "engineer", str(uuid.uuid4()))
        assert code == 200, t
        tickets.append(t)
    left = depot_quantity(server, world["depot"], "E2E-DRV")
    body = {
        "cause": "Driver",
        "category": "hardware_fault",
        "actions": "Replaced the driver by phone guidance",
        "parts": [{"sku": "E2E-DRV", "qty": 1, "location_id": world["depot"]}],
    }
    queue = list(tickets)
    lock = threading.Lock()

    def one() -> tuple[int, Any, str | None]:
        with lock:
            t = queue.pop()
        return post(server, f"/tickets/{t['ticket_id']}/work", body, "engineer", str(uuid.uuid4()))

    answers = at_once(one)
    codes = sorted(a[0] for a in answers)
    assert codes.count(200) == left and codes.count(409) == SENDERS - left, answers
    refused = [a[1]["error"] for a in answers if a[0] == 409]
    assert all(e["code"] == "insufficient_stock" and e["sku"] == "E2E-DRV" for e in refused)
    assert depot_quantity(server, world["depot"], "E2E-DRV") == 0
    statuses = sorted(
        server.request("GET", f"/tickets/{t['ticket_id']}", role="engineer")[1]["status"] for t in tickets
    )
    assert statuses.count("resolved") == left and statuses.count("acknowledged") == SENDERS - left
