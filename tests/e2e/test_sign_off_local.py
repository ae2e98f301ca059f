"""Issue 11 (Done when), for the visit's photos and the school's sign-off on the `make run` stack: each
write sent 10 times at once with one Idempotency-Key has one effect and gives every sender the same
answer (one photo, one SMS, one sign-off); the code is read from the SMS moto's SNS kept, as the school
contact would read it."""

from __future__ import annotations

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

PHONE = "13912345678"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 500
SENDERS = 10


@pytest.fixture(scope="module")
def moto_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto_port: int) -> Iterator[LocalServer]:
    srv = LocalServer(tmp_path_factory.mktemp("sign-off-data"), free_port(), "--moto-port", str(moto_port))
    srv.start("--fresh")
    yield srv
    srv.stop()


def post(server: LocalServer, path: str, body: Any, role: str, key: str) -> tuple[int, Any]:
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
    return status, json.loads(raw)


def at_once(call: Callable[[], Any], n: int = SENDERS) -> list[Any]:
    barrier = threading.Barrier(n)

    def run(_: int) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def sms_to(moto_port: int, number: str) -> list[str]:
    """The texts moto's SNS was asked to send to `number` (its model data, as an operator would look)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/moto-api/data.json", timeout=30) as response:
        data = json.loads(response.read())
    return [m["message"] for m in data.get("sns", {}).get("SMS", []) if m["phone_number"] == number]


@pytest.fixture(scope="module")
def ticket(server: LocalServer) -> dict[str, Any]:
    """A resolved ticket of the demo engineer, at a school whose head teacher has a mobile on record."""
    code, contract = server.request("POST", "/contracts", {"code": "E2E-SIGN", "name": "Sign-off"}, role="admin")
    assert code == 201, contract
    school_body = {
        "contract_id": contract["contract_id"],
        "code": "E2E-SIGN-1",
        "name": "Sign-off test school",
        "address": "1 Xueyuan Road",
        "latitude": 31.23,
        "longitude": 121.47,
        "contacts": [{"name": "Ms Wang", "role": "head teacher", "phone": PHONE}],
    }
    code, school = server.request("POST", "/schools", school_body, role="admin")
    assert code == 201, school
    body = {"source": "dispatcher", "school_id": school["school_id"], "category": "not_lit", "description": "dark"}
    code, t = server.request("POST", "/tickets", body, role="dispatcher")
    assert code == 201, t
    for action, role, fields in [
        ("triage", "dispatcher", {"level": 2}),
        ("assign", "dispatcher", {"assignee_id": DEMO_SUBS["engineer"]}),
        ("acknowledge", "engineer", {}),
        ("resolve", "engineer", {"note": "Swapped the driver board"}),
    ]:
        code, t = server.request(
            "POST",
            f"/tickets/{t['ticket_id']}/transitions",
            {"action": action, "version": t["version"], **fields},
            role=role,
        )
        assert code == 200, t
    return t


def events(server: LocalServer, ticket_id: str) -> list[str]:
    code, page = server.request("GET", f"/tickets/{ticket_id}/events?limit=100", role="manager")
    assert code == 200, page
    return [e["action"] for e in page["items"]]


def test_a_photo_upload_and_attach_sent_ten_times_at_once_happen_once(server, ticket):
    import requests

    path = f"/tickets/{ticket['ticket_id']}"
    key = str(uuid.uuid4())
    forms = at_once(
        lambda: post(server, f"{path}/photo-uploads", {"stage": "after", "content_type": "image/jpeg"}, "engineer", key)
    )
    assert {f[0] for f in forms} == {201} and all(f == forms[0] for f in forms)
    upload = forms[0][1]
    sent = requests.post(
        upload["upload"]["url"], data=upload["upload"]["fields"], files={"file": ("after.jpg", JPEG)}, timeout=30
    )
    assert sent.status_code in (200, 201, 204), sent.text

    key = str(uuid.uuid4())
    body = {"upload_id": upload["upload_id"], "stage": "after"}
    answers = at_once(lambda: post(server, f"{path}/photos", body, "engineer", key))
    assert {a[0] for a in answers} == {201}, answers
    assert all(a == answers[0] for a in answers)
    assert events(server, ticket["ticket_id"]).count("photo_attached") == 1
    code, listed = server.request("GET", f"{path}/photos", role="dispatcher")
    assert code == 200 and [p["photo_id"] for p in listed["items"]] == [upload["upload_id"]]


def test_a_sign_off_request_and_the_sign_off_sent_ten_times_at_once_happen_once(server, ticket, moto_port):
    path = f"/tickets/{ticket['ticket_id']}"
    key = str(uuid.uuid4())
    requested = at_once(lambda: post(server, f"{path}/sign-off-requests", {"method": "otp"}, "engineer", key))
    assert {r[0] for r in requested} == {201}, requested
    assert all(r == requested[0] for r in requested)
    texts = sms_to(moto_port, "+86" + PHONE)
    assert len(texts) == 1  # one code sent, however many retries
    code = re.search(r"签认码 (\d{6})", texts[0]).group(1)  # type: ignore[union-attr]
    assert code not in json.dumps(requested[0][1])

    key = str(uuid.uuid4())
    body = {"method": "otp", "code": code, "signer_name": "Ms Wang", "satisfaction": 5}
    signed = at_once(lambda: post(server, f"{path}/sign-off", body, "engineer", key))
    assert {s[0] for s in signed} == {200}, signed
    assert all(s == signed[0] for s in signed)
    assert signed[0][1]["status"] == "signed_off" and signed[0][1]["sign_off"]["satisfaction"] == 5
    assert events(server, ticket["ticket_id"]).count("sign_off") == 1

    closed_code, closed = server.request(
        "POST", f"{path}/transitions", {"action": "close", "version": signed[0][1]["version"]}, role="dispatcher"
    )
    assert closed_code == 200 and closed["status"] == "closed"
