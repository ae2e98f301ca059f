"""School accounts (D-A3, issue 9.10) and reporters' phone numbers (issue 9.3).

The isolation matrix is generated from `chalicelib.handlers._api.OPERATIONS`: every route, whoever calls
it (no token, each supplier role, a school's staff), on school A's resources and on school B's. A route
added tomorrow is in the matrix the day it is added: if it is not open to school staff they must get
403 there; if it is, the test wants to know how it is scoped (a path parameter it recognises, or a
`school_id` filter) and fails until it can tell. A school's staff (of A) must:
  - read A's school, lamps and tickets on the routes that list `school_staff`;
  - get 404 for B's, worded exactly as for an id that does not exist (services/scope.py says why not 403);
  - list nothing of B's whatever they ask;
  - get 403 (naming the roles) on every other route, before any input is read.
Every other caller keeps the behaviour the route's `roles=` gives it, on either school.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.auth import STAFF, Role
from chalicelib.domain.lifecycle import FIELD_ROLES
from chalicelib.domain.public_reports import mask_phone
from tests.functional.factories import (
    api_world,
    call,
    make_contract,
    make_lamp,
    make_school,
    make_ticket,
    make_user,
    ok,
)
from tests.support.world import sign


def _operations() -> list[Any]:
    import app  # noqa: F401 - registers every route in OPERATIONS
    from chalicelib.handlers._api import OPERATIONS

    return sorted(OPERATIONS, key=lambda o: (o.path, o.method))


OPERATIONS = _operations()

# The routes a school's staff may call, the spec of D-A3: adding `school_staff` to a route is a decision
# this list records (and the matrix then checks that the route keeps them to their school).
SCHOOL_STAFF_OPERATIONS = {
    "getSchool",
    "listSchoolLamps",
    "getLamp",
    "getLampHistory",
    "listTickets",
    "getTicket",
    "getFaultHandlingReport",  # D-S1: the school gets it (issue 11.7)
    "getInspectionReport",  # D-I3: the record goes to the school's managers (issue 12.5)
    "getRoomLightTrend",  # the school sees its classrooms' light (issue 12.7)
    "getSlaReport",  # reports (issue 13): a school's own figures
    "getFaultTrends",
    "getSchoolMonthlyReport",  # D-A3, D-I3: the school's monthly report
}

# Path parameters naming a school's resource, and what the 404 calls it.
SCOPED_PARAMS = {"school_id": "school", "lamp_id": "lamp", "ticket_id": "ticket", "visit_id": "inspection visit"}

REPORTER_PHONE = "+86 138 1234 5678"
JOINER_PHONE = "+86 139 8765 4321"
ENGINEER = "eng-1"  # the engineer A's tickets are assigned to


# ---- the world: two schools of one contract, each with a lamp, a staff ticket and a school report -------


@pytest.fixture(scope="module")
def world(test_environment):
    with api_world(test_environment) as w:
        auth = w.auth
        client = w.client
        make_user(ENGINEER, "engineer", name="Li Qiang")
        w.stock = _stock_world(client, auth)
        contract = make_contract(client, auth)
        w.contract_id = contract["contract_id"]
        w.schools = {}
        for name in ("A", "B"):
            school = make_school(client, auth, contract["contract_id"])
            lamp = make_lamp(client, auth, school["school_id"])
            reported = make_lamp(client, auth, school["school_id"], room_id="B-201")  # not the room of `lamp`
            ticket = make_ticket(
                client,
                auth,
                school["school_id"],
                [lamp["lamp_id"]],
                reporter={"name": "Ms Wang", "phone": REPORTER_PHONE, "role": "teacher"},
            )
            ticket = _assign(client, auth, ticket)
            # A scan with a phone, then a second scan with another: the case's reporter and contacts.
            first = _report(client, reported, REPORTER_PHONE)
            _report(client, reported, JOINER_PHONE)
            case = ok(call(client, "GET", f"/tickets/{first['reference']}", auth("dispatcher")))
            case = _assign(client, auth, case)
            w.schools[name] = {
                "school_id": school["school_id"],
                "lamp_id": lamp["lamp_id"],
                "ticket_id": ticket["ticket_id"],
                "ref": ticket["ref"],
                "public_ref": ticket["public_ref"],
                "case": case,
                "room_id": lamp["room_id"],
            }
        _inspection_visits(client, auth, w)
        school_a = w.schools["A"]["school_id"]
        w.school_staff = _bearer(sign(test_environment, "school_staff", "school-a", school_id=school_a))
        w.key_path = test_environment
        yield w


def _inspection_visits(client: Any, auth: Any, w: Any) -> None:
    """Issue 12: a monthly plan gives each school this month's inspection visit."""
    ok(
        call(
            client, "PUT", f"/contracts/{w.contract_id}/inspection-plan", auth("project_lead"), {"styles": ["monthly"]}
        )
    )
    for data in w.schools.values():
        visits = ok(call(client, "GET", f"/inspection-visits?school_id={data['school_id']}", auth("dispatcher")))
        data["visit_id"] = visits["items"][0]["visit_id"]


def _stock_world(client: Any, auth: Any) -> dict[str, str]:
    """Parts and stock (issue 11.6) belong to no school: a part, and the engineer's van, which every
    reader of stock may read (the engineer his own)."""
    ok(call(client, "POST", "/parts", auth("parts_manager"), {"sku": "ISO-DRV", "name": "driver"}), 201)
    van = {"kind": "van", "name": "Li Qiang's van", "engineer_id": ENGINEER}
    location = ok(call(client, "POST", "/locations", auth("parts_manager"), van), 201)
    return {"sku": "ISO-DRV", "location_id": location["location_id"]}


def _report(client: Any, lamp: dict[str, Any], phone: str) -> dict[str, Any]:
    body = {"fault": "not_lit", "contact_phone": phone}
    return ok(call(client, "POST", f"/r/{lamp['qr_token']}/reports", {"Content-Type": "application/json"}, body), 201)


def _assign(client: Any, auth: Any, ticket: dict[str, Any]) -> dict[str, Any]:
    for action, fields in (("triage", {}), ("assign", {"assignee_id": ENGINEER})):
        body = {"action": action, "version": ticket["version"], **fields}
        ticket = ok(call(client, "POST", f"/tickets/{ticket['ticket_id']}/transitions", auth("dispatcher"), body))
    return ticket


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


# ---- requests built from an operation ---------------------------------------------------------------------


def _param(world: Any, name: str, school: str, public: bool) -> str:
    data = world.schools[school]
    if name in data:
        return str(data[name])
    if name == "contract_id":
        return str(world.contract_id)
    if name == "region":  # a school calendar's region (issue 12): no school's
        return "default"
    if name in world.stock:  # not a school's: the same part and van for either school
        return str(world.stock[name])
    if name == "qr_token":  # read now: a rotation earlier in the matrix changes it
        lamp = ok(call(world.client, "GET", f"/lamps/{data['lamp_id']}", world.auth("admin")))
        return str(lamp["qr_token"])
    assert public, f"path parameter {{{name}}} is new: teach _param which school's resource it names"
    return "unknown"  # a public route is not limited by school: any value tells as much


def _request(world: Any, op: Any, school: str) -> tuple[str, str | bytes | None, str | None]:
    """(path with query, body, content type) for `op` aimed at `school`'s resources, with an empty body
    where one is due: an allowed caller gets a validation refusal instead of changing anything."""
    path = re.sub(r"\{(\w+)\}", lambda m: _param(world, m.group(1), school, op.roles is None), op.path)
    if op.query and "school_id" in _query_fields(op.query):
        path += f"?school_id={world.schools[school]['school_id']}"
    if op.body:
        return path, "{}", "application/json"
    if op.raw_body_types:
        return path, b"", op.raw_body_types[0]
    return path, None, None


def _query_fields(name: str) -> set[str]:
    from chalicelib.handlers._api import schema

    return set(schema(name).model_fields)


def _send(world: Any, op: Any, school: str, headers: dict[str, str]) -> tuple[int, Any]:
    path, body, content_type = _request(world, op, school)
    sent = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if content_type:
        sent["Content-Type"] = content_type
    if op.response and "/" in op.response:  # a binary answer (a PDF) is sent only to a client that asks for it
        sent["Accept"] = op.response
    kwargs: dict[str, Any] = {"headers": sent}
    if body is not None:
        kwargs["body"] = body
    response = getattr(world.client.http, op.method.lower())(path, **kwargs)
    try:
        payload = json.loads(response.body) if response.body else None
    except (ValueError, UnicodeDecodeError):
        payload = response.body
    return response.status_code, payload


def _error(payload: Any) -> dict[str, Any]:
    return payload.get("error", {}) if isinstance(payload, dict) else {}


# ---- the matrix ---------------------------------------------------------------------------------------------


def test_school_staff_are_named_on_exactly_the_school_readable_routes():
    named = {op.operation_id for op in OPERATIONS if op.roles is not None and Role.SCHOOL_STAFF in op.roles}
    assert named == SCHOOL_STAFF_OPERATIONS
    assert Role.SCHOOL_STAFF not in STAFF  # "all staff" is the supplier's people, never a school's


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_role_by_route_by_school(world, op):
    """Every caller on this route, on school A's resources and on school B's."""
    problems: list[str] = []
    callers: list[tuple[str, dict[str, str]]] = [("no token", {"Content-Type": "application/json"})]
    callers += [(role.value, world.headers(role.value, _sub(role))) for role in sorted(STAFF)]
    callers.append(("school_staff of A", world.school_staff))
    if op.roles is None:  # public: the caller's token plays no part, so one of each kind is enough
        callers = [callers[0], ("dispatcher", world.headers("dispatcher")), callers[-1]]
    for school in ("A", "B"):
        anonymous = None
        for label, headers in callers:
            status, payload = _send(world, op, school, headers)
            where = f"{label} on school {school}'s: {status} {payload!r:.200}"
            if status >= 500:
                problems.append(f"server error for {where}")
            elif op.roles is None:
                anonymous = status if anonymous is None else anonymous
                if status in (401, 403) or status != anonymous:
                    problems.append(f"public route answered differently for {where} (anonymous: {anonymous})")
            elif label == "no token":
                if status != 401:
                    problems.append(f"expected 401 for {where}")
            elif label.startswith("school_staff"):
                problems += _school_staff_problems(world, op, school, status, payload, where)
            else:
                problems += _supplier_problems(op, Role(label), status, payload, where)
    assert not problems, "\n".join(problems)


def _sub(role: Role) -> str | None:
    return ENGINEER if role == Role.ENGINEER else None


def _refused_by_role(op: Any, status: int, payload: Any) -> bool:
    error = _error(payload)
    return (
        status == 403
        and error.get("code") == "forbidden"
        and error.get("required_roles") == sorted(r.value for r in op.roles)
    )


def _supplier_problems(op: Any, role: Role, status: int, payload: Any, where: str) -> list[str]:
    """The behaviour `roles=` gives: refused by role, or let through on either school alike."""
    if role not in op.roles:
        return [] if _refused_by_role(op, status, payload) else [f"expected 403 by role for {where}"]
    if status == 401 or (status == 403 and _error(payload).get("required_roles")):
        return [f"allowed role refused for {where}"]
    if status == 403 and not (role in FIELD_ROLES and "assigned to them" in _error(payload).get("message", "")):
        return [f"unexpected 403 for {where}"]  # engineers read only their assigned tickets: the one 403 kept
    if op.method == "GET" and status not in (200, 403):
        return [f"expected 200 for {where}"]  # supplier roles are not limited to a school
    return []


def _school_staff_problems(world: Any, op: Any, school: str, status: int, payload: Any, where: str) -> list[str]:
    if op.operation_id not in SCHOOL_STAFF_OPERATIONS:
        return [] if _refused_by_role(op, status, payload) else [f"expected 403 by role for {where}"]
    scoped = [p for p in re.findall(r"\{(\w+)\}", op.path) if p in SCOPED_PARAMS]
    if scoped:
        name = scoped[-1]
        if school == "A":
            return [] if status == 200 else [f"expected 200 for {where}"]
        value = world.schools["B"][name]
        expected = f"{SCOPED_PARAMS[name]} '{value}' does not exist"  # as for an id that does not exist
        error = _error(payload)
        if status != 404 or error.get("code") != "not_found" or error.get("message") != expected:
            return [f"expected 404 '{expected}' for {where}"]
        return []
    if op.path.startswith("/reports/"):  # a report names its school in the query (issue 13): another is 404
        if school == "A":
            return [] if status == 200 and payload["scope"]["id"] == world.schools["A"]["school_id"] else [where]
        expected = f"school '{world.schools['B']['school_id']}' does not exist"
        return [] if status == 404 and _error(payload).get("message") == expected else [f"expected 404 for {where}"]
    if op.query and "school_id" in _query_fields(op.query):
        items = payload.get("items") if status == 200 and isinstance(payload, dict) else None
        if items is None:
            return [f"expected a 200 list for {where}"]
        schools = {item.get("school_id") for item in items}
        if school == "A" and schools != {world.schools["A"]["school_id"]}:
            return [f"expected school A's items only for {where}"]
        if school == "B" and items:
            return [f"expected nothing of school B for {where}"]
        return []
    return [f"{op.operation_id} is open to school staff but the test cannot tell how it is scoped: teach it"]


def test_the_404_for_another_schools_resource_reads_as_for_a_missing_one(world):
    """Side by side: a made-up id and school B's, asked by school A's staff."""
    b = world.schools["B"]
    pairs = [
        (f"/schools/{b['school_id']}", "/schools/s-doesnotexist"),
        (f"/schools/{b['school_id']}/lamps", "/schools/s-doesnotexist/lamps"),
        (f"/lamps/{b['lamp_id']}", "/lamps/l-doesnotexist"),
        (f"/lamps/{b['lamp_id']}/history", "/lamps/l-doesnotexist/history"),
        (f"/tickets/{b['ticket_id']}", "/tickets/t-doesnotexist"),
        (f"/tickets/{b['ref']}", "/tickets/T-2099-999999"),
    ]
    for other, missing in pairs:
        code_other, body_other = call(world.client, "GET", other, world.school_staff)
        code_missing, body_missing = call(world.client, "GET", missing, world.school_staff)
        assert code_other == code_missing == 404, (other, body_other)
        template = body_missing["error"]["message"].replace(missing.split("/")[2], "{}")
        assert body_other["error"]["message"] == template.format(other.split("/")[2])


def test_school_staff_list_their_own_schools_tickets_whatever_they_ask(world):
    a, b = world.schools["A"], world.schools["B"]
    cases = {
        "": {a["ticket_id"], a["case"]["ticket_id"]},
        f"?school_id={a['school_id']}": {a["ticket_id"], a["case"]["ticket_id"]},
        "?status=assigned": {a["ticket_id"], a["case"]["ticket_id"]},
        f"?assignee_id={ENGINEER}": {a["ticket_id"], a["case"]["ticket_id"]},
        f"?school_id={b['school_id']}": set(),
        f"?school_id={b['school_id']}&status=assigned": set(),
    }
    for query, expected in cases.items():
        page = ok(call(world.client, "GET", f"/tickets{query}", world.school_staff))
        assert {t["ticket_id"] for t in page["items"]} == expected, query
    # The dispatcher's view of the same filter shows B's tickets exist: the school's view hides them.
    assert ok(call(world.client, "GET", f"/tickets?school_id={b['school_id']}", world.auth("dispatcher")))["items"]


def test_school_staff_see_their_lamps_state_and_change_nothing(world):
    a = world.schools["A"]
    lamps = ok(call(world.client, "GET", f"/schools/{a['school_id']}/lamps", world.school_staff))["items"]
    by_id = {lamp["lamp_id"]: lamp for lamp in lamps}
    assert by_id[a["lamp_id"]]["has_open_fault"] is True and by_id[a["lamp_id"]]["open_tickets"] == 1
    ticket = ok(call(world.client, "GET", f"/tickets/{a['ticket_id']}", world.school_staff))
    assert ticket["allowed_actions"] == []
    code, body = call(
        world.client,
        "POST",
        f"/tickets/{a['ticket_id']}/transitions",
        world.school_staff,
        {"action": "cancel", "version": ticket["version"], "note": "not broken after all"},
    )
    assert code == 403 and "school_staff" not in body["error"]["required_roles"]


def test_a_school_staff_token_must_name_its_school(world):
    no_school = _bearer(sign(world.key_path, "school_staff", "school-x"))
    code, body = call(world.client, "GET", f"/schools/{world.schools['A']['school_id']}", no_school)
    assert code == 401 and "custom:school_id" in body["error"]["message"]


def test_a_school_account_also_put_in_a_supplier_group_stays_a_school_account(world):
    a, b = world.schools["A"], world.schools["B"]
    both = _bearer(sign(world.key_path, ["dispatcher", "school_staff"], "school-a", **{"school_id": a["school_id"]}))
    assert call(world.client, "GET", f"/schools/{b['school_id']}", both)[0] == 404
    assert call(world.client, "GET", "/schools", both)[0] == 403
    assert call(world.client, "GET", f"/schools/{a['school_id']}", both)[0] == 200


def test_a_school_claim_on_a_supplier_token_limits_nothing(world):
    b = world.schools["B"]
    dispatcher = _bearer(sign(world.key_path, "dispatcher", "disp-1", school_id=world.schools["A"]["school_id"]))
    assert call(world.client, "GET", f"/schools/{b['school_id']}", dispatcher)[0] == 200


# ---- reporters' phone numbers (issue 9.3) -------------------------------------------------------------------


def _phones(ticket: dict[str, Any]) -> list[str]:
    """The reporter's phone, then every contact left: the first scan's phone is both."""
    return [ticket["reporter"].get("phone", ""), *(c["phone"] for c in ticket["contacts"])]


FULL = [REPORTER_PHONE, REPORTER_PHONE, JOINER_PHONE]
MASKED = [mask_phone(phone) for phone in FULL]


@pytest.mark.parametrize(
    ("role", "sub", "expected"),
    [
        ("dispatcher", None, FULL),
        ("admin", None, FULL),
        ("engineer", ENGINEER, FULL),  # the assigned engineer
        ("project_lead", None, MASKED),
        ("manager", None, MASKED),
        ("parts_manager", None, MASKED),
        ("expert", None, None),  # not assigned: cannot read the ticket at all
    ],
)
def test_the_ticket_shows_reporters_phones_only_to_dispatch_and_the_assigned_engineer(world, role, sub, expected):
    case = world.schools["A"]["case"]
    code, ticket = call(world.client, "GET", f"/tickets/{case['ticket_id']}", world.auth(role, sub))
    if expected is None:
        assert code == 403
        return
    assert code == 200, ticket
    assert _phones(ticket) == expected
    assert [c["at"] for c in ticket["contacts"]] == sorted(c["at"] for c in ticket["contacts"])


def test_school_staff_see_their_tickets_without_reporters_phones(world):
    a = world.schools["A"]
    for ticket_id in (a["ticket_id"], a["case"]["ticket_id"]):
        ticket = ok(call(world.client, "GET", f"/tickets/{ticket_id}", world.school_staff))
        assert REPORTER_PHONE not in json.dumps(ticket) and JOINER_PHONE not in json.dumps(ticket)
        assert ticket["reporter"]["phone"] == mask_phone(REPORTER_PHONE)


@pytest.mark.parametrize(
    ("role", "sub"), [("dispatcher", None), ("admin", None), ("engineer", ENGINEER), ("school_staff", None)]
)
def test_every_list_masks_reporters_phones_even_for_those_who_see_them_on_the_ticket(world, role, sub):
    a = world.schools["A"]
    headers = world.school_staff if role == "school_staff" else world.auth(role, sub)
    for query in (f"school_id={a['school_id']}", f"assignee_id={ENGINEER}", "status=assigned"):
        items = ok(call(world.client, "GET", f"/tickets?{query}", headers))["items"]
        assert {a["ticket_id"], a["case"]["ticket_id"]} <= {t["ticket_id"] for t in items}
        text = json.dumps(items)
        assert REPORTER_PHONE not in text and JOINER_PHONE not in text, query
        case = next(t for t in items if t["ticket_id"] == a["case"]["ticket_id"])
        assert _phones(case) == MASKED


def test_no_public_page_shows_a_reporters_phone(world):
    a = world.schools["A"]
    lamp = ok(call(world.client, "GET", f"/lamps/{a['lamp_id']}", world.auth("admin")))
    for path in (f"/s/{a['case']['public_ref']}", f"/s/{a['public_ref']}", f"/r/{lamp['qr_token']}"):
        code, body = call(world.client, "GET", path, {})
        assert code == 200, (path, body)
        text = json.dumps(body) if not isinstance(body, str | bytes) else str(body)
        for phone in (*FULL, *MASKED):
            assert phone not in text and phone.replace(" ", "")[-8:] not in text, path
