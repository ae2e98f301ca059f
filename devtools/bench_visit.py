"""Bench cases for the engineer's visit (issue 11): the work list, sync, and each guarded write.

Each write has two cases: the first request (counted once: the change happens once) and a retry with the
same Idempotency-Key (timed: what a phone that lost the answer pays). The seed walks one ticket of eng-1
through the cases in order (assigned -> acknowledged -> en route -> on site -> resolved with a part from
the van and a unit swap), and signs off another for check-out. Imported at the end of bench_routes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from devtools.bench_routes import Call, Case, World
from devtools.bench_stack import Stack

ENGINEER = "eng-1"


def _post(w: World, step: str, body: dict[str, Any], ticket: str = "walk") -> Call:
    path = f"/tickets/{w.visit[ticket]}/{step}"
    return Call("POST", path, "engineer", body, sub=ENGINEER, idempotency_key=f"bench-visit-{ticket}-{step}")


def _eta() -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()


def _work(w: World) -> dict[str, Any]:
    return {
        "cause": "Driver board burnt out",
        "category": "hardware_fault",
        "actions": "Swapped the unit and its driver (replace, don't repair)",
        "parts": [{"sku": "BP-DRV", "qty": 1}],
        "swap": {"old_serial": w.visit["serial"], "new_serial": "BENCH-SWAP-1"},
    }


_CHECK_IN = {"lat": 31.2302, "lon": 121.4701, "accuracy_m": 20}


def _writes() -> list[Case]:
    steps: list[tuple[str, str, Any]] = [
        ("acknowledge", "acknowledge (ticket, school; one transaction: ticket, event, guard)", lambda w: {}),
        (
            "travel",
            "set off: ETA (ticket; one transaction with the SMS claimed; SNS; its result)",
            lambda w: {"eta": w.visit["eta"]},
        ),
        (
            "check-in",
            "check in, geofenced (ticket; one transaction: ticket, event, guard, lamp history)",
            lambda w: _CHECK_IN,
        ),
        ("work", "record work: a part from the van and a unit swap (ticket; one BatchGetItem; one transaction)", _work),
    ]
    cases = []
    for step, label, body in steps:
        route = f"/tickets/{{ticket_id}}/{step}"
        cases.append(Case("POST", route, label, lambda w, s=step, b=body: _post(w, s, b(w)), repeatable=False))
        cases.append(
            Case(
                "POST",
                route,
                f"{step}: a retry with the same Idempotency-Key (the stored answer)",
                lambda w, s=step, b=body: _post(w, s, b(w)),
                before=lambda w: None,  # not in the warm-up: the first request above goes first
            )
        )
    route = "/tickets/{ticket_id}/check-out"
    cases.append(
        Case(
            "POST",
            route,
            "check out after the school's sign-off (ticket; one transaction)",
            lambda w: _post(w, "check-out", {}, "signed"),
            repeatable=False,
        )
    )
    cases.append(
        Case(
            "POST",
            route,
            "check-out: a retry with the same Idempotency-Key",
            lambda w: _post(w, "check-out", {}, "signed"),
            before=lambda w: None,
        )
    )
    return cases


VISIT_CASES: list[Case] = [
    Case(
        "GET",
        "/me/work",
        "the engineer's work list (work index; schools, lamps, parts, history)",
        lambda w: Call("GET", "/me/work", "engineer", sub=ENGINEER),
    ),
    Case(
        "GET",
        "/me/changes",
        "what changed since a cursor (one Query)",
        lambda w: Call("GET", f"/me/changes?cursor={w.visit['cursor']}", "engineer", sub=ENGINEER),
    ),
    *_writes(),
]


def seed_visit_core(stack: Stack, w: World) -> None:
    """A school with a contact's mobile and hazards; a lamp with a ticket assigned to eng-1 (the walk); another
    ticket resolved and signed off by the school (its code read back from moto's SNS) for check-out."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    school_body = {
        "contract_id": w.scratch_contract_id,
        "code": f"BV{next(w.codes)}",
        "name": "Bench visit school",
        "address": "2 Xueyuan Road",
        "latitude": 31.23,
        "longitude": 121.47,
        "contacts": [{"name": "Mr Zhao", "role": "facilities", "phone": "13912340000"}],
        "hazards": ["Ladder only with a second person"],
    }
    school_id = stack.ok(stack.request("POST", "/schools", "admin", school_body), 201, "school")["school_id"]

    def lamp(position: str) -> dict[str, Any]:
        body = {
            "school_id": school_id,
            "room_id": "V-1",
            "position": position,
            "model": "EP-LED-40",
            "serial": f"BENCH-V-{position}",
            "installed_on": "2025-08-20",
            "accepted_on": "2025-09-01",
        }
        return dict(stack.ok(stack.request("POST", "/lamps", "admin", body), 201, "lamp"))

    def assigned(lamp_id: str) -> dict[str, Any]:
        body = {
            "source": "school_report",
            "school_id": school_id,
            "lamp_ids": [lamp_id],
            "category": "not_lit",
            "description": "dark",
        }
        t = stack.ok(stack.request("POST", "/tickets", "dispatcher", body), 201, "ticket")
        for action, fields in (("triage", {"level": 2}), ("assign", {"assignee_id": ENGINEER})):
            reply = stack.request(
                "POST",
                f"/tickets/{t['ticket_id']}/transitions",
                "dispatcher",
                {"action": action, "version": t["version"], **fields},
            )
            t = stack.ok(reply, 200, action)
        return dict(t)

    issue = {"kind": "issued", "sku": "BP-DRV", "qty": 5, "from_location_id": w.depot_id, "to_location_id": w.van_id}
    stack.ok(
        stack.request("POST", "/stock/movements", "parts_manager", issue, idempotency_key="seed-visit-van"),
        201,
        "issue",
    )
    walked = lamp("1")
    w.visit = {"walk": assigned(walked["lamp_id"])["ticket_id"], "serial": walked["serial"], "eta": _eta()}
    signed = assigned(lamp("2")["lamp_id"])["ticket_id"]
    w.visit["signed"] = signed
    for step, body in (
        ("acknowledge", {}),
        ("travel", {"eta": _eta()}),
        ("check-in", _CHECK_IN),
        ("work", {"cause": "Loose plug", "category": "operation_error", "actions": "Plugged it back in"}),
    ):
        reply = stack.request(
            "POST", f"/tickets/{signed}/{step}", "engineer", body, sub=ENGINEER, idempotency_key=f"seed-{step}"
        )
        stack.ok(reply, 200, step)
    reply = stack.request(
        "POST",
        f"/tickets/{signed}/sign-off-requests",
        "engineer",
        {"method": "otp"},
        sub=ENGINEER,
        idempotency_key="seed-visit-sign-off-request",
    )
    stack.ok(reply, 201, "sign-off request")
    texts = [m[1] for m in sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values() if "签认码" in m[1]]
    found = re.search(r"签认码 (\d{6})", texts[-1]) if texts else None
    if found is None:
        raise RuntimeError("bench setup: no sign-off code in the SMS")
    body = {"method": "otp", "code": found.group(1), "signer_name": "Mr Zhao"}
    reply = stack.request(
        "POST", f"/tickets/{signed}/sign-off", "engineer", body, sub=ENGINEER, idempotency_key="seed-visit-sign-off"
    )
    stack.ok(reply, 200, "sign-off")
    w.visit["cursor"] = stack.ok(stack.request("GET", "/me/changes", "engineer", sub=ENGINEER), 200, "sync")[
        "next_cursor"
    ]
