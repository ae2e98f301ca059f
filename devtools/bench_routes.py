"""Per-route DynamoDB calls and in-process latency, for every route the app declares.

One case per route (a few routes get extra variants, e.g. a transition that touches lamps).
`missing_cases()` compares the cases with `chalicelib.handlers._api.OPERATIONS`, so a new
route without a case stops the benchmark before it measures anything.

Data is seeded through the API (plus users through `UserModel`, as the tests do). Routes
that create things write into a scratch contract and school, so the data the read routes
return stays the same size for the whole run. Stateful cases carry their state forward
(the ticket version for transitions, the latest unit of a replacement chain).
"""

from __future__ import annotations

import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devtools.bench_stack import Reply, Stack
from local_aws.calls import record_calls

TODAY = "2025-09-01"


@dataclass
class World:
    """Ids created by `seed`, and the state that stateful cases carry from one request to the next."""

    contract_id: str = ""
    school_id: str = ""
    scratch_contract_id: str = ""
    scratch_school_id: str = ""
    scratch_lamp_id: str = ""
    lamp_id: str = ""
    history_lamp_id: str = ""
    qr_lamp_id: str = ""
    qr_token: str = ""
    public_ref: str = ""  # the school report the status page case reads
    report_token: str = ""  # a lamp alone in its room, for the public report cases
    open311_key: str = ""  # a partner platform's api_key
    open311_asset_no: str = ""  # a lamp alone in its room, for Open311 requests
    open311_request_id: str = ""  # the service_request_id the read cases ask for
    replace_lamp_id: str = ""
    ticket: dict[str, Any] = field(default_factory=dict)  # read-only routes
    level_ticket: dict[str, Any] = field(default_factory=dict)  # change_level cycle
    assign_ticket: dict[str, Any] = field(default_factory=dict)  # assign cycle between two engineers
    resolve_ticket: dict[str, Any] = field(default_factory=dict)  # one resolve (lamps and history)
    sla_revision: int = 1  # the scratch contract's SLA policy revision, for the next putSlaPolicy
    serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    codes: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # parts and stock (issue 11.6): a catalogue of 3 parts, a depot holding them, eng-1's van
    visit: dict[str, Any] = field(default_factory=dict)  # the engineer's visit (issue 11): bench_visit
    depot_id: str = ""
    van_id: str = ""
    part_version: int = 1  # BP-TUBE's, for the next updatePart
    # the visit's photos and the school's sign-off (issue 11.4, 11.8)
    photo_ticket_id: str = ""  # acknowledged, eng-1's: photo uploads and attaches
    photo_upload_id: str = ""  # uploaded by the seed, attached by the attach case
    sign_off_request_ticket_id: str = ""  # resolved: requestSignOff
    sign_off_ticket_id: str = ""  # resolved, a code requested by the seed: signOff
    sign_off_code: str = ""
    # inspection plans, calendars and visits (issue 12.1, 12.2, 12.6): see _seed_rounds
    rounds: dict[str, Any] = field(default_factory=dict)

    # inspection checklists, readings and reports (issue 12): ids and state, see _seed_inspection
    inspection: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    role: str | None
    body: Any = None
    sub: str | None = None
    content_type: str = "application/json"
    accept: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # the path template, as in OPERATIONS
    label: str  # what this request is (shown in the table)
    build: Callable[[World], Call]
    status: int = 200
    after: Callable[[World, Reply], None] | None = None
    repeatable: bool = True  # False: one request only (counted, not timed)
    before: Callable[[World], None] | None = None  # set-up, not measured


@dataclass
class CaseResult:
    case: Case
    operation_id: str
    status: int = 0
    calls: list[str] = field(default_factory=list)
    other_call_counts: set[int] = field(default_factory=set)  # call counts seen in timed requests, if they differ
    samples_ms: list[float] = field(default_factory=list)
    scans: list[str] = field(default_factory=list)
    skipped: str = ""  # why the case was not timed
    stopped: str = ""  # why timing stopped early (an unexpected status)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples_ms)
        if not ordered:
            return float("nan")
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


# ---- cases ---------------------------------------------------------------------------------------


def _csv(world: World, rows: int) -> str:
    lines = ["room_id,building,floor,position,model,serial,installed_on,accepted_on"]
    for _ in range(rows):
        n = next(world.serials)
        lines.append(f"IMP-{n % 7},C,1,{n},EP-LED-40,BI{n:08d},2025-08-18,{TODAY}")
    return "\n".join(lines) + "\n"


def _keep_ticket(slot: str) -> Callable[[World, Reply], None]:
    def keep(world: World, reply: Reply) -> None:
        if reply.status == 200:
            setattr(world, slot, reply.body)

    return keep


def _keep_part_version(world: World, reply: Reply) -> None:
    if reply.status == 200:
        world.part_version = reply.body["version"]


def _keep_public_ref(world: World, reply: Reply) -> None:
    if reply.status == 201:
        world.public_ref = reply.body["public_ref"]


def _open311_post(w: World, fmt: str) -> Call:
    from urllib.parse import urlencode

    form = {
        "api_key": w.open311_key,
        "service_code": "not_lit",
        "address_id": w.open311_asset_no,
        "description": "The lamp above the blackboard is dark",
    }
    return Call(
        "POST", f"/open311/v2/requests.{fmt}", None, urlencode(form), content_type="application/x-www-form-urlencoded"
    )


def _keep_open311_id(world: World, reply: Reply) -> None:
    if reply.status == 200:
        world.open311_request_id = reply.body[0]["service_request_id"]


def _exhaust_report_limit(world: World) -> None:
    """Uses up the label's report allowance in this window (these requests are not measured)."""
    from chalicelib.models import rate_limits
    from chalicelib.services.ids import utcnow
    from chalicelib.services.public_reports import LIMITS

    limit, window = LIMITS["report-token"]
    for _ in range(limit):
        rate_limits.hit(f"report-token#{world.report_token}", limit, window, utcnow())


def _next_in_chain(world: World, reply: Reply) -> None:
    if reply.status == 201:
        world.replace_lamp_id = reply.body["successor"]["lamp_id"]


def _transition(
    ticket: dict[str, Any], action: str, role: str = "dispatcher", sub: str | None = None, **fields: Any
) -> Call:
    return Call(
        "POST",
        f"/tickets/{ticket['ticket_id']}/transitions",
        role,
        {"action": action, "version": ticket["version"], **fields},
        sub=sub,
    )


def _put_sla_policy(w: World) -> Call:
    from chalicelib.domain.policy import default_policy

    body = {"revision": w.sla_revision, "policy": default_policy().model_dump(mode="json")}
    return Call("PUT", f"/contracts/{w.scratch_contract_id}/sla-policy", "admin", body)


def _next_sla_revision(world: World, reply: Reply) -> None:
    if reply.status == 200:
        world.sla_revision = reply.body["revision"]


def _change_level(w: World) -> Call:
    return _transition(w.level_ticket, "change_level", level=3 if w.level_ticket["level"] == 2 else 2)


def _reassign(w: World) -> Call:
    return _transition(
        w.assign_ticket, "assign", assignee_id="exp-1" if w.assign_ticket["assignee_id"] == "eng-1" else "eng-1"
    )


def _report(w: World, key: str | None = None) -> Call:
    return Call(
        "POST",
        "/tickets",
        "dispatcher",
        {
            "source": "school_report",
            "school_id": w.scratch_school_id,
            "lamp_ids": [w.scratch_lamp_id],
            "category": "not_lit",
            "description": "The lamp above the blackboard does not light",
        },
        idempotency_key=key,
    )


FLOOR = Case("GET", "/health", "floor: one GetItem, no auth", lambda w: Call("GET", "/health", None))

CASES: list[Case] = [
    FLOOR,
    Case(
        "POST",
        "/contracts",
        "create a contract",
        lambda w: Call("POST", "/contracts", "admin", {"code": f"BC{next(w.codes)}", "name": "Bench contract"}),
        201,
    ),
    Case(
        "GET",
        "/contracts/{contract_id}",
        "read a contract",
        lambda w: Call("GET", f"/contracts/{w.contract_id}", "manager"),
    ),
    Case(
        "GET",
        "/contracts/{contract_id}/sla-policy",
        "read a contract's SLA policy",
        lambda w: Call("GET", f"/contracts/{w.contract_id}/sla-policy", "manager"),
    ),
    Case(
        "PUT",
        "/contracts/{contract_id}/sla-policy",
        "revise the SLA policy (the default table, next revision)",
        _put_sla_policy,
        after=_next_sla_revision,
    ),
    Case(
        "POST",
        "/schools",
        "create a school",
        lambda w: Call(
            "POST",
            "/schools",
            "admin",
            {
                "contract_id": w.scratch_contract_id,
                "code": f"BS{next(w.codes)}",
                "name": "Bench school",
                "address": "1 Xueyuan Road",
                "latitude": 31.23,
                "longitude": 121.47,
            },
        ),
        201,
    ),
    Case(
        "GET",
        "/schools",
        "list a contract's schools (3)",
        lambda w: Call("GET", f"/schools?contract_id={w.contract_id}", "manager"),
    ),
    Case(
        "GET",
        "/schools/{school_id}",
        "read a school with its rooms",
        lambda w: Call("GET", f"/schools/{w.school_id}", "manager"),
    ),
    Case(
        "GET",
        "/schools/{school_id}/lamps",
        "list a room's lamps (8)",
        lambda w: Call("GET", f"/schools/{w.school_id}/lamps?room_id=A-101", "manager"),
    ),
    Case(
        "POST",
        "/schools/{school_id}/lamps/import",
        "import a 10-row CSV (new lamps)",
        lambda w: Call(
            "POST", f"/schools/{w.scratch_school_id}/lamps/import", "dispatcher", _csv(w, 10), content_type="text/csv"
        ),
    ),
    Case(
        "GET",
        "/schools/{school_id}/qr-labels",
        "label sheet for a room (8 lamps)",
        lambda w: Call(
            "GET", f"/schools/{w.school_id}/qr-labels?room_id=A-101", "dispatcher", accept="application/pdf"
        ),
    ),
    Case(
        "POST",
        "/lamps",
        "register one lamp",
        lambda w: Call(
            "POST",
            "/lamps",
            "admin",
            {
                "school_id": w.scratch_school_id,
                "room_id": "NEW-1",
                "position": str(next(w.serials)),
                "model": "EP-LED-40",
                "serial": f"BL{next(w.serials):08d}",
                "installed_on": "2025-08-20",
                "accepted_on": TODAY,
            },
        ),
        201,
    ),
    Case("GET", "/lamps/{lamp_id}", "read a lamp", lambda w: Call("GET", f"/lamps/{w.lamp_id}", "manager")),
    Case(
        "GET",
        "/lamps/{lamp_id}/history",
        "a lamp's history (registered, ticket opened)",
        lambda w: Call("GET", f"/lamps/{w.history_lamp_id}/history", "manager"),
    ),
    Case(
        "POST",
        "/lamps/{lamp_id}/qr-token",
        "rotate a lamp's QR token",
        lambda w: Call("POST", f"/lamps/{w.qr_lamp_id}/qr-token", "dispatcher"),
    ),
    Case(
        "POST",
        "/lamps/{lamp_id}/replacement",
        "replace a lamp (chain: replace the successor next)",
        lambda w: Call(
            "POST",
            f"/lamps/{w.replace_lamp_id}/replacement",
            "engineer",
            {"serial": f"BR{next(w.serials):08d}", "installed_on": TODAY, "reason": "driver failed"},
        ),
        201,
        after=_next_in_chain,
    ),
    Case("GET", "/r/{qr_token}", "resolve a QR label (public)", lambda w: Call("GET", f"/r/{w.qr_token}", None)),
    Case(
        "POST",
        "/r/{qr_token}/reports",
        "a teacher's report opens a case (public)",
        lambda w: Call("POST", f"/r/{w.report_token}/reports", None, {"fault": "not_lit"}),
        201,
        after=_keep_public_ref,
        repeatable=False,
    ),
    Case(
        "POST",
        "/r/{qr_token}/reports",
        "the same lamp scanned again: joins the open case",
        lambda w: Call("POST", f"/r/{w.report_token}/reports", None, {"fault": "not_lit"}),
        201,
        repeatable=False,
    ),
    Case(
        "POST",
        "/r/{qr_token}/reports",
        "a report over the label's limit: 429 (the cost of a refusal)",
        lambda w: Call("POST", f"/r/{w.report_token}/reports", None, {"fault": "not_lit"}),
        429,
        before=_exhaust_report_limit,
    ),
    Case(
        "POST",
        "/r/{qr_token}/photos",
        "a presigned photo upload (public)",
        lambda w: Call("POST", f"/r/{w.qr_token}/photos", None, {"content_type": "image/jpeg", "size": 200000}),
        201,
        repeatable=False,
    ),
    Case(
        "GET",
        "/s/{public_ref}",
        "the reporter's status page (JSON)",
        lambda w: Call("GET", f"/s/{w.public_ref}", None),
    ),
    *[
        Case(
            "GET",
            f"/open311/v2/{doc}.{fmt}",
            f"Open311 {doc} ({fmt.upper()}; no database)",
            lambda w, doc=doc, fmt=fmt: Call("GET", f"/open311/v2/{doc}.{fmt}", None),
        )
        for doc in ("discovery", "services")
        for fmt in ("json", "xml")
    ],
    Case(
        "POST",
        "/open311/v2/requests.json",
        "an Open311 request opens a case (form-encoded, api_key)",
        lambda w: _open311_post(w, "json"),
        200,
        after=_keep_open311_id,
        repeatable=False,
    ),
    Case(
        "POST",
        "/open311/v2/requests.xml",
        "an Open311 request on the same lamp joins the open case (XML)",
        lambda w: _open311_post(w, "xml"),
        200,
        repeatable=False,
    ),
    *[
        Case(
            "GET",
            f"/open311/v2/requests.{fmt}",
            f"Open311 requests, status=open, last 90 days ({fmt.upper()})",
            lambda w, fmt=fmt: Call("GET", f"/open311/v2/requests.{fmt}?status=open", None),
        )
        for fmt in ("json", "xml")
    ],
    Case(
        "GET",
        "/open311/v2/requests/{service_request_file}",
        "one Open311 request by its id (JSON)",
        lambda w: Call("GET", f"/open311/v2/requests/{w.open311_request_id}.json", None),
    ),
    Case("POST", "/tickets", "report a fault on one lamp", _report, 201),
    Case(
        "POST",
        "/tickets",
        "report a fault with an Idempotency-Key (a new key)",
        lambda w: _report(w, key=f"bench-{next(w.serials)}"),
        201,
    ),
    Case(
        "POST",
        "/tickets",
        "the same report retried with its key (replayed)",
        lambda w: _report(w, key="bench-retried-report"),
        201,
    ),
    Case(
        "GET",
        "/tickets",
        "list a school's tickets (4)",
        lambda w: Call("GET", f"/tickets?school_id={w.school_id}", "manager"),
    ),
    Case(
        "GET",
        "/tickets/{ticket_id}",
        "read a ticket by id",
        lambda w: Call("GET", f"/tickets/{w.ticket['ticket_id']}", "manager"),
    ),
    Case(
        "GET",
        "/tickets/{ticket_id}",
        "read a ticket by reference (T-...)",
        lambda w: Call("GET", f"/tickets/{w.ticket['ref']}", "manager"),
    ),
    Case(
        "POST",
        "/tickets/{ticket_id}/transitions",
        "change_level back and forth (current version)",
        _change_level,
        after=_keep_ticket("level_ticket"),
    ),
    Case(
        "POST",
        "/tickets/{ticket_id}/transitions",
        "assign, alternating two engineers",
        _reassign,
        after=_keep_ticket("assign_ticket"),
    ),
    Case(
        "POST",
        "/tickets/{ticket_id}/transitions",
        "resolve (one lamp: counters and history)",
        lambda w: _transition(w.resolve_ticket, "resolve", "engineer", "eng-1", note="Swapped the driver board"),
        after=_keep_ticket("resolve_ticket"),
        repeatable=False,
    ),
    Case(
        "GET",
        "/tickets/{ticket_id}/sla",
        "a ticket's SLA: deadlines, breaches and escalations, notifications",
        lambda w: Call("GET", f"/tickets/{w.ticket['ticket_id']}/sla", "manager"),
    ),
    Case(
        "GET",
        "/tickets/{ticket_id}/events",
        "a ticket's audit trail (5 events)",
        lambda w: Call("GET", f"/tickets/{w.ticket['ticket_id']}/events", "manager"),
    ),
    # ---- a visit's reports (issue 11.7): the ticket, its school, room, lamps and engineer; no writes ----
    Case(
        "GET",
        "/tickets/{ticket_id}/reports/technical",
        "fault technical report (JSON)",
        lambda w: Call("GET", f"/tickets/{w.ticket['ticket_id']}/reports/technical", "manager"),
    ),
    Case(
        "GET",
        "/tickets/{ticket_id}/reports/technical",
        "fault technical report, A4 PDF",
        lambda w: Call(
            "GET", f"/tickets/{w.ticket['ticket_id']}/reports/technical", "manager", accept="application/pdf"
        ),
    ),
    Case(
        "GET",
        "/tickets/{ticket_id}/reports/handling",
        "fault handling report for the school (yellow), A4 PDF",
        lambda w: Call(
            "GET", f"/tickets/{w.ticket['ticket_id']}/reports/handling", "dispatcher", accept="application/pdf"
        ),
    ),
    # ---- parts and stock (issue 11.6) ----
    Case(
        "GET",
        "/parts",
        "the parts catalogue (a page: up to 50; the create case adds parts)",
        lambda w: Call("GET", "/parts", "engineer"),
    ),
    Case(
        "GET",
        "/parts",
        "the parts that fit a lamp model (2: Query + BatchGet)",
        lambda w: Call("GET", "/parts?lamp_model=EP-LED-40", "engineer"),
    ),
    Case(
        "POST",
        "/parts",
        "add a part to the catalogue (fits 2 models)",
        lambda w: Call(
            "POST",
            "/parts",
            "parts_manager",
            {"sku": f"BP-{next(w.codes)}", "name": "驱动电源 40W", "fits_models": ["EP-LED-40", "EP-BB-36"]},
        ),
        201,
    ),
    Case("GET", "/parts/{sku}", "read a part", lambda w: Call("GET", "/parts/BP-LENS", "engineer")),
    Case(
        "PATCH",
        "/parts/{sku}",
        "edit a part's installed quantity (current version)",
        lambda w: Call("PATCH", "/parts/BP-TUBE", "parts_manager", {"version": w.part_version, "installed_qty": 2000}),
        after=_keep_part_version,
    ),
    Case(
        "GET",
        "/locations",
        "list depots and vans (a page: up to 50; the create case adds depots)",
        lambda w: Call("GET", "/locations", "dispatcher"),
    ),
    Case(
        "POST",
        "/locations",
        "create a depot",
        lambda w: Call("POST", "/locations", "parts_manager", {"kind": "depot", "name": f"Depot {next(w.codes)}"}),
        201,
    ),
    Case(
        "GET",
        "/stock/{location_id}",
        "a depot's stock with the 3 % flag (every part: 3 + those the create case adds)",
        lambda w: Call("GET", f"/stock/{w.depot_id}", "parts_manager"),
    ),
    Case(
        "GET",
        "/stock/{location_id}",
        "an engineer reads his van's stock",
        lambda w: Call("GET", f"/stock/{w.van_id}", "engineer", sub="eng-1"),
    ),
    Case(
        "POST",
        "/stock/movements",
        "receive parts into the depot (one transaction: level, leg, key guard)",
        lambda w: Call(
            "POST",
            "/stock/movements",
            "parts_manager",
            {"kind": "received", "sku": "BP-DRV", "qty": 5, "to_location_id": w.depot_id},
            idempotency_key=f"bench-receipt-{next(w.serials)}",
        ),
        201,
    ),
    Case(
        "POST",
        "/stock/movements",
        "issue one part depot -> van (one transaction: two levels, two legs, key guard)",
        lambda w: Call(
            "POST",
            "/stock/movements",
            "parts_manager",
            {"kind": "issued", "sku": "BP-DRV", "qty": 1, "from_location_id": w.depot_id, "to_location_id": w.van_id},
            idempotency_key=f"bench-move-{next(w.serials)}",
        ),
        201,
    ),
    Case(
        "POST",
        "/stock/movements",
        "the same receipt retried with its key (replayed: refused transaction, guard read)",
        lambda w: Call(
            "POST",
            "/stock/movements",
            "parts_manager",
            {"kind": "received", "sku": "BP-LENS", "qty": 1, "to_location_id": w.depot_id},
            idempotency_key="bench-retried-receipt",
        ),
        201,
    ),
    Case(
        "GET",
        "/tickets/{ticket_id}/stock-movements",
        "a ticket's parts: prepared, used, returned (none yet)",
        lambda w: Call("GET", f"/tickets/{w.ticket['ticket_id']}/stock-movements", "engineer", sub="eng-1"),
    ),
    Case(
        "GET",
        "/stock/{location_id}/movements",
        "a depot's movement log (a page of 50)",
        lambda w: Call("GET", f"/stock/{w.depot_id}/movements", "parts_manager"),
    ),
    # ---- the visit's photos and the school's sign-off (issue 11.4, 11.8): guarded writes ----
    Case(
        "POST",
        "/tickets/{ticket_id}/photo-uploads",
        "a presigned POST for a before photo (ticket read, guard put)",
        lambda w: Call(
            "POST",
            f"/tickets/{w.photo_ticket_id}/photo-uploads",
            "engineer",
            {"stage": "before", "content_type": "image/jpeg"},
            sub="eng-1",
            idempotency_key=f"bench-photo-upload-{next(w.serials)}",
        ),
        201,
    ),
    Case(
        "POST",
        "/tickets/{ticket_id}/photos",
        "attach a checked photo (ticket read; S3 head and 32 bytes; one transaction: ticket, event, guard)",
        lambda w: _attach_photo(w, "bench-photo-attach"),
        201,
        repeatable=False,
    ),
    Case(
        "POST",
        "/tickets/{ticket_id}/photos",
        "the same attach retried with its key (refused transaction, guard read)",
        lambda w: _attach_photo(w, "bench-photo-attach"),
        201,
        repeatable=False,
    ),
    Case(
        "GET",
        "/tickets/{ticket_id}/photos",
        "a ticket's photos with 15-minute links (one GetItem)",
        lambda w: Call("GET", f"/tickets/{w.photo_ticket_id}/photos", "dispatcher"),
    ),
    Case(
        "POST",
        "/tickets/{ticket_id}/sign-off",
        "the school's code: sign off (ticket read, attempt counted, one transaction: ticket, event, guard, code used)",
        lambda w: Call(
            "POST",
            f"/tickets/{w.sign_off_ticket_id}/sign-off",
            "engineer",
            {"method": "otp", "code": w.sign_off_code, "signer_name": "Ms Wang", "satisfaction": 5},
            sub="eng-1",
            idempotency_key="bench-sign-off",
        ),
        repeatable=False,
    ),
    Case(
        "POST",
        "/tickets/{ticket_id}/sign-off-requests",
        "a sign-off code by SMS (ticket, school; one transaction: request, hourly limit, guard; SNS)",
        lambda w: Call(
            "POST",
            f"/tickets/{w.sign_off_request_ticket_id}/sign-off-requests",
            "engineer",
            {"method": "otp"},
            sub="eng-1",
            idempotency_key="bench-sign-off-request",
        ),
        201,
        repeatable=False,  # at most 5 codes per ticket and hour
    ),
    # ---- inspection plans, calendars and visits (issue 12.1, 12.2, 12.6) ----
    Case(
        "PUT",
        "/contracts/{contract_id}/inspection-plan",
        "regenerate a 3-school plan, every visit there (contract; plan and schools Query; plan batch write; "
        "calendar and visits BatchGet)",
        lambda w: Call(
            "PUT",
            f"/contracts/{w.contract_id}/inspection-plan",
            "project_lead",
            {"styles": ["monthly", "quarterly"], "region": "bench-region"},
        ),
    ),
    Case(
        "PUT",
        "/calendars/{region}",
        "replace a region's school calendar (read, put)",
        lambda w: Call("PUT", "/calendars/bench-region", "admin", _BENCH_CALENDAR),
    ),
    Case(
        "GET",
        "/calendars/{region}",
        "a region's school calendar",
        lambda w: Call("GET", "/calendars/bench-region", "engineer"),
    ),
    Case(
        "GET",
        "/inspection-visits",
        "a school's inspection visits (one Query)",
        lambda w: Call("GET", f"/inspection-visits?school_id={w.school_id}", "dispatcher"),
    ),
    Case(
        "GET",
        "/inspection-visits",
        "an engineer's open inspection visits (one Query)",
        lambda w: Call("GET", "/inspection-visits?assignee_id=eng-1", "engineer", sub="eng-1"),
    ),
    Case(
        "GET",
        "/inspection-visits",
        "the overdue inspection visits (one Query)",
        lambda w: Call("GET", "/inspection-visits?status=overdue", "project_lead"),
    ),
    Case(
        "POST",
        "/inspection-visits/{visit_id}/assignment",
        "reassign a planned visit (visit read, user read, one transaction)",
        lambda w: Call(
            "POST",
            f"/inspection-visits/{w.rounds['assign_visit_id']}/assignment",
            "dispatcher",
            {"assignee_id": "exp-1" if w.rounds.get("assignee") == "eng-1" else "eng-1"},
        ),
        after=lambda w, reply: w.rounds.update(assignee=reply.body["assignee_id"]) if reply.status == 200 else None,
    ),
    Case(
        "POST",
        "/inspection-visits/{visit_id}/start",
        "start a visit: the engineer's check-in (the visit, with the school's position; one transaction: visit, guard)",
        lambda w: _start_round(w, "bench-round-start"),
        repeatable=False,
    ),
    Case(
        "POST",
        "/inspection-visits/{visit_id}/start",
        "the same start retried with its key (replayed: refused transaction, guard read)",
        lambda w: _start_round(w, "bench-round-start"),
        before=lambda w: None,  # not sent in the warm-up: the first start above is counted first
    ),
    # ---- inspection checklists, readings and reports (issue 12.3-12.5, 12.7) ----
    Case(
        "POST",
        "/inspection-visits/{visit_id}/items",
        "a lamp's checklist (visit read; one transaction: item, guard, visit and lamp checked)",
        lambda w: _inspection_item(w, {"kind": "lamp", "lamp_id": w.inspection["lamp_id"], "checks": _LAMP_OK}),
    ),
    Case(
        "POST",
        "/inspection-visits/{visit_id}/items",
        "a room's readings (visit, targets; one transaction: item, reading line, guard, visit and room checked)",
        lambda w: _inspection_item(w, {"kind": "room", "room_id": "A-101", "readings": _ROOM_READINGS}),
    ),
    Case(
        "POST",
        "/inspection-visits/{visit_id}/photo-uploads",
        "a presigned POST for a visit photo (visit read, guard put)",
        lambda w: Call(
            "POST",
            f"/inspection-visits/{w.inspection['visit_id']}/photo-uploads",
            "engineer",
            {"stage": "before", "content_type": "image/jpeg"},
            sub="eng-1",
            idempotency_key=f"bench-inspection-upload-{next(w.serials)}",
        ),
        201,
    ),
    Case(
        "POST",
        "/inspection-visits/{visit_id}/photos",
        "attach a checked visit photo (visit read; S3 head and 32 bytes; one transaction: visit, guard)",
        lambda w: Call(
            "POST",
            f"/inspection-visits/{w.inspection['visit_id']}/photos",
            "engineer",
            {"upload_id": w.inspection["upload_id"], "stage": "before"},
            sub="eng-1",
            idempotency_key="bench-inspection-attach",
        ),
        201,
        repeatable=False,
    ),
    Case(
        "POST",
        "/inspection-visits/{visit_id}/sign-off-requests",
        "the visit's sign-off code by SMS (visit, school; one transaction: request, hourly limit, guard; SNS)",
        lambda w: Call(
            "POST",
            f"/inspection-visits/{w.inspection['visit_id']}/sign-off-requests",
            "engineer",
            {"method": "otp"},
            sub="eng-1",
            idempotency_key="bench-inspection-sign-off-request",
        ),
        201,
        repeatable=False,  # at most 5 codes per visit and hour
    ),
    Case(
        "POST",
        "/inspection-visits/{visit_id}/complete",
        "complete with the code: 1 finding -> 1 ticket (its own transaction), then visit, code used, guard",
        lambda w: Call(
            "POST",
            f"/inspection-visits/{w.inspection['complete_visit_id']}/complete",
            "engineer",
            {"sign_off": {"method": "otp", "code": w.inspection["code"], "signer_name": "王老师", "satisfaction": 5}},
            sub="eng-1",
            idempotency_key="bench-inspection-complete",
        ),
        repeatable=False,
    ),
    Case(
        "GET",
        "/inspection-visits/{visit_id}/report",
        "a completed visit's report (visit, items, school, rooms, lamps, tickets, targets)",
        lambda w: Call("GET", f"/inspection-visits/{w.inspection['complete_visit_id']}/report", "manager"),
    ),
    Case(
        "GET",
        "/inspection-visits/{visit_id}/report",
        "the same report as an A4 PDF (Chinese fonts parsed once per process)",
        lambda w: Call(
            "GET",
            f"/inspection-visits/{w.inspection['complete_visit_id']}/report?format=pdf",
            "manager",
            accept="application/pdf",
        ),
    ),
    Case(
        "GET",
        "/schools/{school_id}/rooms/{room_id}/light-trend",
        "a room's light trend (school, room, targets; the readings in one Query)",
        lambda w: Call("GET", f"/schools/{w.inspection['school_id']}/rooms/A-101/light-trend", "manager"),
    ),
    Case(
        "GET",
        "/contracts/{contract_id}/light-targets",
        "a contract's light targets (contract, targets)",
        lambda w: Call("GET", f"/contracts/{w.inspection['contract_id']}/light-targets", "engineer"),
    ),
    Case(
        "PUT",
        "/contracts/{contract_id}/light-targets",
        "change a contract's light targets (contract read; a version-checked put)",
        lambda w: Call(
            "PUT",
            f"/contracts/{w.inspection['contract_id']}/light-targets",
            "project_lead",
            {
                "minimums": {"desk_lux": 300 + w.inspection["targets_version"]},
                "version": w.inspection["targets_version"] or None,
            },
        ),
        after=lambda w, reply: w.inspection.update(targets_version=reply.body["version"]),
    ),
]


def _attach_photo(w: World, key: str) -> Call:
    body = {"upload_id": w.photo_upload_id, "stage": "before"}
    return Call("POST", f"/tickets/{w.photo_ticket_id}/photos", "engineer", body, sub="eng-1", idempotency_key=key)


def _seed_visit(stack: Stack, w: World) -> None:
    """Issue 11.4, 11.8: an acknowledged ticket with an uploaded photo; two resolved tickets at a school whose
    contact has a mobile, one with a code requested (read back from moto's SNS, as the school would)."""
    import re

    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from chalicelib.settings import get_settings

    body = {
        "contract_id": w.scratch_contract_id,
        "code": f"BS{next(w.codes)}",
        "name": "Bench sign-off school",
        "address": "1 Xueyuan Road",
        "latitude": 31.23,
        "longitude": 121.47,
        "contacts": [{"name": "Ms Wang", "role": "head teacher", "phone": "13812345678"}],
    }
    school_id = stack.ok(stack.request("POST", "/schools", "admin", body), 201, "school")["school_id"]

    def worked(steps: list[tuple[str, str, str | None, dict[str, Any]]]) -> str:
        ticket_body = {"source": "school_report", "school_id": school_id, "category": "not_lit", "description": "dark"}
        t = stack.ok(stack.request("POST", "/tickets", "dispatcher", ticket_body), 201, "ticket")
        for action, role, sub, fields in steps:
            call = _transition(t, action, role, sub, **fields)
            t = stack.ok(stack.request(call.method, call.path, call.role, call.body, sub=call.sub), 200, action)
        return str(t["ticket_id"])

    acknowledged = [
        ("triage", "dispatcher", None, {"level": 2}),
        ("assign", "dispatcher", None, {"assignee_id": "eng-1"}),
        ("acknowledge", "engineer", "eng-1", {}),
    ]
    resolved = [*acknowledged, ("resolve", "engineer", "eng-1", {"note": "Swapped the driver board"})]
    w.photo_ticket_id = worked(acknowledged)
    w.sign_off_request_ticket_id = worked(resolved)
    w.sign_off_ticket_id = worked(resolved)

    upload_body = {"stage": "before", "content_type": "image/jpeg"}
    reply = stack.request(
        "POST",
        f"/tickets/{w.photo_ticket_id}/photo-uploads",
        "engineer",
        upload_body,
        sub="eng-1",
        idempotency_key="seed-photo-upload",
    )
    upload = stack.ok(reply, 201, "photo upload")
    w.photo_upload_id = upload["upload_id"]
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 2000
    boto3.client("s3").put_object(Bucket=get_settings().photo_bucket, Key=upload["upload"]["fields"]["key"], Body=jpeg)

    reply = stack.request(
        "POST",
        f"/tickets/{w.sign_off_ticket_id}/sign-off-requests",
        "engineer",
        {"method": "otp"},
        sub="eng-1",
        idempotency_key="seed-sign-off-request",
    )
    stack.ok(reply, 201, "sign-off request")
    sms = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
    found = re.search(r"签认码 (\d{6})", sms[-1][1])
    if found is None:
        raise RuntimeError("bench setup: no sign-off code in the SMS")
    w.sign_off_code = found.group(1)


_LAMP_OK = {"lit": True, "flicker": False, "damaged": False, "controller_ok": True, "clean": True}
_ROOM_READINGS = {"desk_lux": 320, "desk_uniformity": 0.72, "board_lux": 510, "board_uniformity": 0.81, "ra": 82}


def _inspection_item(w: World, body: dict[str, Any]) -> Call:
    path = f"/inspection-visits/{w.inspection['visit_id']}/items"
    return Call("POST", path, "engineer", body, sub="eng-1", idempotency_key=f"bench-item-{next(w.serials)}")


def _seed_inspection(stack: Stack, w: World) -> None:
    """Issue 12: a contract whose monthly plan gives two schools this month's visit, both assigned to eng-1
    and started; one is recorded on by the item cases, the other holds a broken lamp and a code requested
    (read back from moto's SNS) for the completion case."""
    import re

    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from chalicelib.settings import get_settings

    contract = stack.ok(
        stack.request("POST", "/contracts", "admin", {"code": "BENCH-INSP", "name": "Inspections"}), 201, "contract"
    )["contract_id"]
    schools, lamps = [], []
    for n in (1, 2):
        body = {
            "contract_id": contract,
            "code": f"INSP{n}",
            "name": f"巡检 No. {n} Primary School",
            "address": "1 Xueyuan Road",
            "latitude": 31.23,
            "longitude": 121.47,
            "contacts": [{"name": "王老师", "role": "校长", "phone": "13812345678"}],
        }
        school_id = stack.ok(stack.request("POST", "/schools", "admin", body), 201, "school")["school_id"]
        schools.append(school_id)
        for position in range(1, 9):
            lamp = {
                "school_id": school_id,
                "room_id": "A-101",
                "position": str(position),
                "model": "EP-LED-40",
                "serial": f"INSP-{n}-{position}",
                "installed_on": "2025-08-20",
                "accepted_on": TODAY,
            }
            lamps.append(stack.ok(stack.request("POST", "/lamps", "admin", lamp), 201, "lamp")["lamp_id"])
    plan = {"styles": ["monthly"]}
    stack.ok(stack.request("PUT", f"/contracts/{contract}/inspection-plan", "project_lead", plan), 200, "plan")
    visits = []
    for school_id in schools:
        listed = stack.ok(
            stack.request("GET", f"/inspection-visits?school_id={school_id}", "dispatcher"), 200, "visits"
        )
        visit_id = listed["items"][0]["visit_id"]
        visits.append(visit_id)
        assign = {"assignee_id": "eng-1"}
        stack.ok(
            stack.request("POST", f"/inspection-visits/{visit_id}/assignment", "dispatcher", assign), 200, "assign"
        )
        check_in = {"lat": 31.2302, "lon": 121.47, "accuracy_m": 15}
        reply = stack.request(
            "POST",
            f"/inspection-visits/{visit_id}/start",
            "engineer",
            check_in,
            sub="eng-1",
            idempotency_key=f"seed-inspection-start-{visit_id}",
        )
        stack.ok(reply, 200, "start")
    upload = stack.ok(
        stack.request(
            "POST",
            f"/inspection-visits/{visits[0]}/photo-uploads",
            "engineer",
            {"stage": "before", "content_type": "image/jpeg"},
            sub="eng-1",
            idempotency_key="seed-inspection-upload",
        ),
        201,
        "inspection photo upload",
    )
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 2000
    boto3.client("s3").put_object(Bucket=get_settings().photo_bucket, Key=upload["upload"]["fields"]["key"], Body=jpeg)
    done = visits[1]
    for n, body in enumerate(
        (
            {"kind": "lamp", "lamp_id": lamps[8], "checks": {**_LAMP_OK, "lit": False}},
            {"kind": "lamp", "lamp_id": lamps[9], "checks": _LAMP_OK},
            {"kind": "room", "room_id": "A-101", "readings": _ROOM_READINGS},
        )
    ):
        reply = stack.request(
            "POST",
            f"/inspection-visits/{done}/items",
            "engineer",
            body,
            sub="eng-1",
            idempotency_key=f"seed-inspection-item-{n}",
        )
        stack.ok(reply, 200, "inspection item")
    reply = stack.request(
        "POST",
        f"/inspection-visits/{done}/sign-off-requests",
        "engineer",
        {"method": "otp"},
        sub="eng-1",
        idempotency_key="seed-inspection-sign-off",
    )
    stack.ok(reply, 201, "inspection sign-off request")
    sms = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())
    found = re.search(r"签认码 (\d{6})", sms[-1][1])
    if found is None:
        raise RuntimeError("bench setup: no inspection sign-off code in the SMS")
    w.inspection.update(
        contract_id=contract,
        school_id=schools[0],
        visit_id=visits[0],
        lamp_id=lamps[0],
        complete_visit_id=done,
        code=found.group(1),
        targets_version=0,
        upload_id=upload["upload_id"],
    )


def missing_cases() -> tuple[list[str], list[str]]:
    """(routes without a case, cases whose route no longer exists). Routes register when `app` is imported."""
    import app  # noqa: F401
    from chalicelib.handlers._api import OPERATIONS

    if not OPERATIONS:
        raise RuntimeError("chalicelib.handlers._api.OPERATIONS is empty after `import app`")

    routes = {(op.method, op.path) for op in OPERATIONS}
    covered = {(case.method, case.route) for case in CASES}
    return (sorted(f"{m} {p}" for m, p in routes - covered), sorted(f"{m} {p}" for m, p in covered - routes))


def operation_ids() -> dict[tuple[str, str], str]:
    from chalicelib.handlers._api import OPERATIONS

    return {(op.method, op.path): op.operation_id for op in OPERATIONS}


# ---- seed -----------------------------------------------------------------------------------------


def seed(stack: Stack) -> World:
    from chalicelib.models.access import UserModel
    from chalicelib.models.base import bind_tables

    w = World()
    bind_tables()
    for user_id, role in [("eng-1", "engineer"), ("exp-1", "expert"), ("disp-1", "dispatcher")]:
        UserModel(user_id, name=user_id, role=role).save()

    def created(method: str, path: str, body: Any, what: str, role: str = "admin") -> Any:
        return stack.ok(stack.request(method, path, role, body), 201, what)

    w.contract_id = created(
        "POST", "/contracts", {"code": "BENCH", "name": "Eye-care lighting retrofit 2026"}, "contract"
    )["contract_id"]
    w.scratch_contract_id = created("POST", "/contracts", {"code": "SCRATCH", "name": "Scratch"}, "contract")[
        "contract_id"
    ]
    schools = [
        created(
            "POST",
            "/schools",
            {
                "contract_id": w.contract_id,
                "code": f"SCH{n}",
                "name": f"No. {n} Primary School",
                "address": "1 Xueyuan Road",
                "latitude": 31.23,
                "longitude": 121.47,
            },
            "school",
        )
        for n in range(1, 4)
    ]
    w.school_id = schools[0]["school_id"]
    w.scratch_school_id = created(
        "POST",
        "/schools",
        {
            "contract_id": w.scratch_contract_id,
            "code": "SCRATCH1",
            "name": "Scratch school",
            "address": "2 Xueyuan Road",
            "latitude": 31.2,
            "longitude": 121.4,
        },
        "school",
    )["school_id"]

    lamps = []
    for room in ("A-101", "A-102", "B-201"):
        for position in range(1, 9):
            lamps.append(
                created(
                    "POST",
                    "/lamps",
                    {
                        "school_id": w.school_id,
                        "room_id": room,
                        "position": str(position),
                        "model": "EP-LED-40",
                        "serial": f"SEED-{room}-{position}",
                        "installed_on": "2025-08-20",
                        "accepted_on": TODAY,
                    },
                    "lamp",
                )
            )
    w.report_token = created(
        "POST",
        "/lamps",
        {
            "school_id": w.school_id,
            "room_id": "P-1",
            "position": "1",
            "model": "EP-LED-40",
            "serial": "PUBLIC-1",
            "installed_on": "2025-08-20",
            "accepted_on": TODAY,
        },
        "lamp",
    )["qr_token"]
    open311_lamp = created(
        "POST",
        "/lamps",
        {
            "school_id": w.school_id,
            "room_id": "P-2",
            "position": "1",
            "model": "EP-LED-40",
            "serial": "PUBLIC-2",
            "installed_on": "2025-08-20",
            "accepted_on": TODAY,
        },
        "lamp",
    )
    w.open311_asset_no = open311_lamp["asset_no"]
    from chalicelib.services import open311

    _, w.open311_key = open311.issue_partner_key("bench partner")
    scratch = [
        created(
            "POST",
            "/lamps",
            {
                "school_id": w.scratch_school_id,
                "room_id": "S-1",
                "position": str(p),
                "model": "EP-LED-40",
                "serial": f"SCRATCH-{p}",
                "installed_on": "2025-08-20",
                "accepted_on": TODAY,
            },
            "lamp",
        )
        for p in (1, 2)
    ]
    w.lamp_id, w.history_lamp_id, w.qr_lamp_id = lamps[0]["lamp_id"], lamps[1]["lamp_id"], lamps[2]["lamp_id"]
    w.qr_token = lamps[3]["qr_token"]
    w.scratch_lamp_id, w.replace_lamp_id = scratch[0]["lamp_id"], scratch[1]["lamp_id"]

    def ticket(lamp: dict[str, Any]) -> dict[str, Any]:
        return created(
            "POST",
            "/tickets",
            {
                "source": "school_report",
                "school_id": w.school_id,
                "lamp_ids": [lamp["lamp_id"]],
                "category": "not_lit",
                "description": "The lamp above the blackboard does not light",
            },
            "ticket",
            role="dispatcher",
        )

    def move(
        t: dict[str, Any], action: str, role: str = "dispatcher", sub: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        call = _transition(t, action, role, sub, **fields)
        return stack.ok(stack.request(call.method, call.path, call.role, call.body, sub=call.sub), 200, action)

    # The read-only ticket: on the history lamp, triaged, assigned, acknowledged (4 events + create).
    t = ticket(lamps[1])
    for action, role, sub, fields in [
        ("triage", "dispatcher", None, {"level": 3}),
        ("assign", "dispatcher", None, {"assignee_id": "eng-1"}),
        ("acknowledge", "engineer", "eng-1", {}),
    ]:
        t = move(t, action, role, sub, **fields)
    w.ticket = move(t, "change_level", level=2)
    w.level_ticket = move(ticket(lamps[4]), "triage", level=2)
    w.assign_ticket = move(move(ticket(lamps[5]), "triage", level=2), "assign", assignee_id="eng-1")
    r = move(move(ticket(lamps[6]), "triage", level=2), "assign", assignee_id="eng-1")
    w.resolve_ticket = move(r, "acknowledge", "engineer", "eng-1")
    _seed_stock(stack, w)
    seed_visit_core(stack, w)  # issue 11.1-11.3, 11.5, 11.9, 11.10
    _seed_visit(stack, w)  # issue 11.4, 11.8
    _seed_inspection(stack, w)  # issue 12.3-12.5, 12.7
    _seed_rounds(stack, w)  # issue 12.1, 12.2
    return w


def _seed_stock(stack: Stack, w: World) -> None:
    """Parts and stock (issue 11.6): 3 parts, a depot holding 1,000 of each, eng-1's van."""
    for sku, fits in (("BP-DRV", ["EP-LED-40"]), ("BP-LENS", ["EP-LED-40"]), ("BP-TUBE", ["EP-BB-36"])):
        body = {"sku": sku, "name": sku, "fits_models": fits, "installed_qty": 2000}
        stack.ok(stack.request("POST", "/parts", "parts_manager", body), 201, "part")
    w.depot_id = stack.ok(
        stack.request("POST", "/locations", "parts_manager", {"kind": "depot", "name": "Bench depot"}), 201, "depot"
    )["location_id"]
    van = {"kind": "van", "name": "eng-1's van", "engineer_id": "eng-1"}
    w.van_id = stack.ok(stack.request("POST", "/locations", "parts_manager", van), 201, "van")["location_id"]
    for sku in ("BP-DRV", "BP-LENS", "BP-TUBE"):
        body = {"kind": "received", "sku": sku, "qty": 1000, "to_location_id": w.depot_id}
        reply = stack.request("POST", "/stock/movements", "parts_manager", body, idempotency_key=f"seed-{sku}")
        stack.ok(reply, 201, "receipt")


_BENCH_CALENDAR = {
    "semesters": [{"name": "2025-autumn", "start": "2025-09-01", "end": "2026-01-17"}],
    "holidays": [f"2025-10-0{d}" for d in range(1, 9)],
    "makeup_workdays": ["2025-09-28", "2025-10-11"],
}


def _start_round(w: World, key: str) -> Call:
    body = {"lat": 31.2302, "lon": 121.47, "accuracy_m": 15}
    path = f"/inspection-visits/{w.rounds['start_visit_id']}/start"
    return Call("POST", path, "engineer", body, sub="eng-1", idempotency_key=key)


def _seed_rounds(stack: Stack, w: World) -> None:
    """Issue 12.1, 12.2: a calendar, the main contract's plan (monthly and quarterly for its 3 schools), one
    visit of the first school assigned to eng-1 (started by a case), another left for the reassign cycle."""
    stack.ok(stack.request("PUT", "/calendars/bench-region", "admin", _BENCH_CALENDAR), 200, "calendar")
    plan = {"styles": ["monthly", "quarterly"], "region": "bench-region"}
    stack.ok(stack.request("PUT", f"/contracts/{w.contract_id}/inspection-plan", "project_lead", plan), 200, "plan")
    listed = stack.ok(stack.request("GET", f"/inspection-visits?school_id={w.school_id}", "dispatcher"), 200, "visits")
    first, second = listed["items"][0]["visit_id"], listed["items"][1]["visit_id"]
    reply = stack.request("POST", f"/inspection-visits/{first}/assignment", "dispatcher", {"assignee_id": "eng-1"})
    stack.ok(reply, 200, "assign")
    w.rounds = {"start_visit_id": first, "assign_visit_id": second}


# ---- measure -------------------------------------------------------------------------------------


def _send(stack: Stack, world: World, case: Case) -> tuple[Reply, float, list[str]]:
    if case.before is not None:
        case.before(world)
    call = case.build(world)
    with record_calls() as log:
        started = time.perf_counter()
        reply = stack.request(
            call.method,
            call.path,
            call.role,
            call.body,
            sub=call.sub,
            content_type=call.content_type,
            accept=call.accept,
            idempotency_key=call.idempotency_key,
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
    if case.after is not None:
        case.after(world, reply)
    return reply, elapsed_ms, log.dynamodb()


def measure(
    stack: Stack, requests: int, seconds_per_case: float = 5.0, progress: Callable[[str], None] = lambda s: None
) -> list[CaseResult]:
    """One counted request per case (after a warm-up), then `requests` timed rounds, cases shuffled per round.

    A case that has used `seconds_per_case` stops being timed (slow routes get fewer samples,
    at least 10), so one slow route cannot blow the whole benchmark's time.
    """
    ids = operation_ids()
    world = seed(stack)
    results = [CaseResult(case, ids[(case.method, case.route)]) for case in CASES]

    for result in results:  # warm-up: lazy imports, first-use caches
        if result.case.repeatable and result.case.before is None:
            _send(stack, world, result.case)
    for result in results:
        reply, _, calls = _send(stack, world, result.case)
        result.status, result.calls = reply.status, calls
        result.scans = [op for op in calls if op in ("Scan", "ParallelScan")]
        if not result.case.repeatable:
            result.skipped = "one request only (the change is not repeatable)"
        elif reply.status != result.case.status:
            result.skipped = f"status {reply.status}, expected {result.case.status}"
            print(
                f"bench: {result.case.method} {result.case.route}: {result.skipped}: {str(reply.body)[:300]}",
                file=sys.stderr,
            )
    progress("counted DynamoDB calls per route")

    timed = [r for r in results if not r.skipped]
    spent = {id(r): 0.0 for r in timed}
    shuffle = random.Random(20260101)
    for round_no in range(requests):
        order = [
            r for r in timed if not r.stopped and (spent[id(r)] < seconds_per_case * 1000 or len(r.samples_ms) < 10)
        ]
        shuffle.shuffle(order)
        for result in order:
            reply, elapsed_ms, calls = _send(stack, world, result.case)
            if reply.status != result.case.status:
                result.stopped = f"status {reply.status} in round {round_no + 1}"
                print(
                    f"bench: {result.case.method} {result.case.route} ({result.case.label}): {result.stopped}: "
                    f"{str(reply.body)[:300]}",
                    file=sys.stderr,
                )
                continue
            result.samples_ms.append(elapsed_ms)
            spent[id(result)] += elapsed_ms
            result.scans += [op for op in calls if op in ("Scan", "ParallelScan")]
            if len(calls) != len(result.calls):
                result.other_call_counts.add(len(calls))
        if (round_no + 1) % 25 == 0:
            progress(f"latency round {round_no + 1}/{requests}")
    return results


# The engineer's visit (issue 11): its cases live in their own module, which imports this one's types.
from devtools.bench_visit import VISIT_CASES, seed_visit_core  # noqa: E402

CASES.extend(VISIT_CASES)

# Reports (issue 13): their cases live in devtools/bench_reports.py.
from devtools.bench_reports import report_cases  # noqa: E402

CASES.extend(report_cases())
