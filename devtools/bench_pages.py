"""`make bench` (g): the school's pages (issue 9): what a phone downloads, and what a scan costs.

Weighs each public page as a browser receives it (HTML with its inline style and script: the page
needs no other request), counts the DynamoDB calls behind it, and reads the browser test's
scan-to-reference time (tests/e2e/test_report_page_browser.py writes test-artifacts/scan_to_reference.json;
the benchmark does not start a browser itself).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devtools.bench_stack import Stack

TIMING_FILE = Path(__file__).resolve().parent.parent / "test-artifacts" / "scan_to_reference.json"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FORM = "application/x-www-form-urlencoded"


@dataclass
class PageResult:
    label: str
    method: str
    route: str
    status: int
    bytes: int
    calls: list[str] = field(default_factory=list)


def _seed(stack: Stack) -> dict[str, Any]:
    contract = stack.ok(
        stack.request("POST", "/contracts", "admin", {"code": "PAGES", "name": "Pages"}), 201, "contract"
    )
    school = stack.ok(
        stack.request(
            "POST",
            "/schools",
            "admin",
            {
                "contract_id": contract["contract_id"],
                "code": "PG1",
                "name": "上海市静安区第一中心小学",
                "address": "1 Xueyuan Road",
                "latitude": 31.23,
                "longitude": 121.47,
            },
        ),
        201,
        "school",
    )
    lamps = []
    for n, room in enumerate(("A-101", "B-201", "C-301"), start=1):
        lamp = {
            "school_id": school["school_id"],
            "room_id": room,
            "position": "1",
            "model": "EP-LED-40",
            "serial": f"PG{n:06d}",
            "installed_on": "2025-08-20",
            "accepted_on": "2025-09-01",
        }
        lamps.append(stack.ok(stack.request("POST", "/lamps", "admin", lamp), 201, "lamp"))
    return {"quiet": lamps[0], "open": lamps[1], "form": lamps[2]}


def measure(stack: Stack) -> list[PageResult]:
    from local_aws.calls import record_calls

    lamps = _seed(stack)
    opened = stack.ok(
        stack.request("POST", f"/r/{lamps['open']['qr_token']}/reports", None, {"fault": "flickering"}),
        201,
        "report",
    )
    cases = [
        ("the report form (no open case), Chinese", "GET", "/r/{qr_token}", f"/r/{lamps['quiet']['qr_token']}", None),
        ("the report form, English", "GET", "/r/{qr_token}", f"/r/{lamps['quiet']['qr_token']}?lang=en", None),
        ("a lamp with an open case (still broken?)", "GET", "/r/{qr_token}", f"/r/{lamps['open']['qr_token']}", None),
        ("the status page", "GET", "/s/{public_ref}", f"/s/{opened['public_ref']}", None),
        ("an unknown label (friendly 404)", "GET", "/r/{qr_token}", "/r/not-a-label", None),
        (
            "the form posted without JavaScript (303 to the status page)",
            "POST",
            "/r/{qr_token}/reports",
            f"/r/{lamps['form']['qr_token']}/reports",
            "fault=dim&lang=zh",
        ),
    ]
    results = []
    for label, method, route, path, form in cases:
        if form is None:
            stack.request(method, path, accept=BROWSER)  # warm-up: templates compiled, modules loaded
        with record_calls() as log:
            if form is None:
                reply = stack.request(method, path, accept=BROWSER)
            else:
                reply = stack.request(method, path, body=form, content_type=FORM, accept=BROWSER)
        body = reply.body if isinstance(reply.body, str | bytes) else json.dumps(reply.body) if reply.body else ""
        size = len(body.encode() if isinstance(body, str) else body)
        results.append(PageResult(label, method, route, reply.status, size, log.dynamodb()))
    return results


@dataclass(frozen=True)
class ScanTiming:
    seconds: float
    measured_at: str
    browser: str


def scan_to_reference() -> ScanTiming | None:
    """The browser test's last measurement, if it has run on this checkout."""
    try:
        data = json.loads(TIMING_FILE.read_text())
        return ScanTiming(float(data["scan_to_reference_seconds"]), data["measured_at"], data.get("browser", ""))
    except (OSError, ValueError, KeyError):
        return None
