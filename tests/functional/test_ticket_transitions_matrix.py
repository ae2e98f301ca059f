"""Every ticket action, by every role, from every status, over HTTP (D-S1, D-S3, D-O2, D-C1).

The matrix runs on one moto world per class (TestRoleStateMatrix.world): one real ticket per
status, driven there through the API, takes every refused attempt (nothing may change), and
each allowed (action, status, role) gets a fresh ticket of its own. The expectations are
generated from ACTIONS, so the matrix grows with the lifecycle; the named tests further down
pin the rules that a user meets.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.domain.lifecycle import ACTIONS, FAULT_OPEN_STATES, FIELD_ROLES, Status
from tests.functional.factories import (
    ACTION_FIELDS,
    PATH_TO,
    api_world,
    call,
    drive,
    make_lamp,
    make_school,
    make_ticket,
    make_user,
    ok,
    school_signs_off,
    transition,
)

ENGINEER, EXPERT = ("eng-1", "engineer"), ("exp-1", "expert")
KIND_OF_ASSIGNEE = {"engineer": ENGINEER, "expert": EXPERT}

# (label, role, sub, which shared ticket it acts on). Field roles appear as the assignee and as a stranger.
ACTORS = [
    ("dispatcher", "dispatcher", "disp-1", "engineer"),
    ("admin", "admin", "admin-1", "engineer"),
    ("manager", "manager", "mgr-1", "engineer"),
    ("project_lead", "project_lead", "lead-1", "engineer"),
    ("parts_manager", "parts_manager", "parts-1", "engineer"),
    ("assigned engineer", "engineer", "eng-1", "engineer"),
    ("another engineer", "engineer", "eng-2", "engineer"),
    ("assigned expert", "expert", "exp-1", "expert"),
    ("another expert", "expert", "exp-2", "expert"),
]


def _assignee_kind(status: str) -> bool:
    return any(action == "assign" for action, _ in PATH_TO[status])


def expected_outcome(action: str, status: str, role: str, is_assignee: bool) -> tuple[int, str]:
    """What the lifecycle table says a user gets: (HTTP status, error code or "")."""
    spec = ACTIONS[action]
    if role not in spec.roles:
        return 403, "forbidden"
    if Status(status) not in spec.sources:
        return 409, "illegal_transition"
    if spec.assignee_only and role in FIELD_ROLES and not is_assignee:
        return 403, "forbidden"
    return 200, ""


def expected_allowed(status: str, role: str, is_assignee: bool) -> list[str]:
    return sorted(name for name in ACTIONS if expected_outcome(name, status, role, is_assignee)[0] == 200)


def body_for(action: str, merge_target: str) -> dict[str, Any]:
    fields = dict(ACTION_FIELDS.get(action, {}))
    if action == "merge":
        fields["merge_into"] = merge_target
    return fields


def allowed_triples() -> list[tuple[str, str, str]]:
    return [
        (action, status.value, role.value)
        for action, spec in ACTIONS.items()
        for status in sorted(spec.sources)
        for role in sorted(spec.roles)
    ]


def refused_pairs() -> list[tuple[str, str]]:
    return [(action, status.value) for action in ACTIONS for status in Status]


def events_of(client: Any, headers: Any, ticket_id: str) -> list[dict[str, Any]]:
    return ok(call(client, "GET", f"/tickets/{ticket_id}/events?limit=200", headers("manager")))["items"]


class TestRoleStateMatrix:
    @pytest.fixture(scope="class")
    def world(self, test_environment: Any) -> Iterator[SimpleNamespace]:
        with api_world(test_environment) as world:
            client, headers, auth = world.client, world.headers, world.auth
            for user_id, role in [
                ENGINEER,
                EXPERT,
                ("eng-2", "engineer"),
                ("exp-2", "expert"),
                ("eng-9", "engineer"),
                ("disp-1", "dispatcher"),
            ]:
                make_user(user_id, role)
            school = make_school(client, auth)
            merge_target = make_ticket(client, auth, school["school_id"], description="The same fault, reported first")
            shared: dict[tuple[str, str], dict[str, Any]] = {}
            for status in Status:
                kinds = ("engineer", "expert") if _assignee_kind(status.value) else ("engineer",)
                for kind in kinds:
                    ticket = make_ticket(client, auth, school["school_id"])
                    shared[(status.value, kind)] = drive(
                        client,
                        headers,
                        ticket,
                        status.value,
                        assignee=KIND_OF_ASSIGNEE[kind],
                        merge_into=merge_target["ticket_id"],
                    )
                if len(kinds) == 1:
                    shared[(status.value, "expert")] = shared[(status.value, "engineer")]
            # A cursor just before each trail's last event: "is that still the last one?" is then one
            # short page instead of the whole trail, a few hundred times over.
            before_last_event: dict[str, tuple[str | None, int]] = {}
            for t in shared.values():
                count = len(PATH_TO[t["status"]]) + 1  # the create event, then one per step
                cursor = None
                if count > 1:
                    page = ok(
                        call(client, "GET", f"/tickets/{t['ticket_id']}/events?limit={count - 1}", headers("manager"))
                    )
                    cursor = page["next_cursor"]
                before_last_event[t["ticket_id"]] = (cursor, count)
            yield SimpleNamespace(
                client=client,
                headers=headers,
                auth=auth,
                school=school,
                merge_target=merge_target,
                shared=shared,
                before_last_event=before_last_event,
            )

    def _assert_unchanged(self, world: SimpleNamespace, before: dict[str, Any]) -> None:
        now = ok(call(world.client, "GET", f"/tickets/{before['ticket_id']}", world.headers("manager")))
        assert (now["status"], now["version"], now["updated_at"]) == (
            before["status"],
            before["version"],
            before["updated_at"],
        )
        cursor, count = world.before_last_event[before["ticket_id"]]
        query = f"?cursor={cursor}" if cursor else ""
        tail = ok(call(world.client, "GET", f"/tickets/{before['ticket_id']}/events{query}", world.headers("manager")))[
            "items"
        ]
        assert [e["seq"] for e in tail][-1:] == [count] and len(tail) == (1 if cursor else count), (
            "a refused transition wrote an event"
        )

    @pytest.mark.parametrize(("action", "status"), refused_pairs())
    def test_refused_transitions_answer_403_or_409_and_change_nothing(self, world, action, status):
        """Wrong role: 403 with required_roles. Wrong state: 409 naming the state and what this user may do.
        A field role on someone else's ticket: 403. Whatever the reason, the ticket is untouched."""
        mismatches = []
        touched = {}
        for label, role, sub, kind in ACTORS:
            ticket = world.shared[(status, kind)]
            is_assignee = ticket["assignee_id"] == sub
            expected, code = expected_outcome(action, status, role, is_assignee)
            if action == "sign_off":  # only the school signs off, through signOff: a typed name is refused
                expected, code = 422, "validation_failed"
            if expected == 200:
                continue  # allowed: covered on a fresh ticket by the test below
            touched[ticket["ticket_id"]] = ticket
            got, body = call(
                world.client,
                "POST",
                f"/tickets/{ticket['ticket_id']}/transitions",
                world.headers(role, sub),
                {"action": action, "version": ticket["version"], **body_for(action, world.merge_target["ticket_id"])},
            )
            error = (body or {}).get("error", {})
            if (got, error.get("code")) != (expected, code):
                mismatches.append(f"{label}: expected {expected} {code}, got {got} {body}")
            elif expected == 409 and (
                error.get("current_status") != status
                or sorted(error.get("allowed_actions", [])) != expected_allowed(status, role, is_assignee)
            ):
                mismatches.append(f"{label}: 409 body {error}")
            elif (
                expected == 403
                and role not in ACTIONS[action].roles
                and error.get("required_roles") != sorted(ACTIONS[action].roles)
            ):
                mismatches.append(f"{label}: 403 without required_roles: {error}")
        assert not mismatches, "\n".join(mismatches)
        for ticket in touched.values():
            self._assert_unchanged(world, ticket)

    @pytest.mark.parametrize(("action", "status", "role"), allowed_triples())
    def test_allowed_transition_moves_the_ticket_and_records_one_event(self, world, action, status, role):
        kind = "expert" if role == "expert" else "engineer"
        assignee_id, assignee_role = KIND_OF_ASSIGNEE[kind]
        sub = assignee_id if role in FIELD_ROLES else None
        lamp = make_lamp(world.client, world.auth, world.school["school_id"])
        ticket = make_ticket(world.client, world.auth, world.school["school_id"], [lamp["lamp_id"]])
        ticket = drive(
            world.client,
            world.headers,
            ticket,
            status,
            assignee=(assignee_id, assignee_role),
            merge_into=world.merge_target["ticket_id"],
        )
        events_before = len(PATH_TO[status]) + 1  # create, then one event per step

        fields = body_for(action, world.merge_target["ticket_id"])
        if action == "sign_off":  # the school's sign-off (its signature), through signOff
            after = school_signs_off(world.client, world.headers, ticket, role, sub)
        else:
            after = ok(
                call(
                    world.client,
                    "POST",
                    f"/tickets/{ticket['ticket_id']}/transitions",
                    world.headers(role, sub),
                    {"action": action, "version": ticket["version"], **fields},
                )
            )

        target = ACTIONS[action].target or Status(status)
        assert after["status"] == target.value
        assert after["version"] == ticket["version"] + 1
        events = events_of(world.client, world.headers, ticket["ticket_id"])
        assert len(events) == events_before + 1
        assert (events[-1]["action"], events[-1]["from_status"], events[-1]["to_status"]) == (
            action,
            status,
            target.value,
        )
        lamp_now = ok(call(world.client, "GET", f"/lamps/{lamp['lamp_id']}", world.headers("manager")))
        assert lamp_now["has_open_fault"] is (target in FAULT_OPEN_STATES)  # D-A3: the school sees it
        if action == "assign":
            assert after["assignee_id"] == fields["assignee_id"]
        elif action == "merge":
            assert after["merged_into"] == world.merge_target["ticket_id"]
        elif action == "sign_off":
            assert after["sign_off"]["signer_name"] == "Ms Wang"
        elif action == "reopen":
            assert after["sign_off"] is None
        elif action in ("triage", "change_level"):
            assert (after["level"], after["level_confirmed"]) == (fields["level"], True)

    @pytest.mark.parametrize(
        ("action", "field"),
        [(a, f) for a, spec in ACTIONS.items() for f in spec.requires if a != "sign_off"],  # signOff's own tests
    )
    def test_an_action_without_its_required_field_is_422_naming_it(self, world, action, field):
        spec = ACTIONS[action]
        status = sorted(spec.sources)[0].value
        role = sorted(spec.roles)[0].value
        ticket = world.shared[(status, "expert" if role == "expert" else "engineer")]
        sub = ticket["assignee_id"] if role in FIELD_ROLES else None
        body = {"action": action, "version": ticket["version"], **body_for(action, world.merge_target["ticket_id"])}
        body.pop(field, None)
        code, response = call(
            world.client, "POST", f"/tickets/{ticket['ticket_id']}/transitions", world.headers(role, sub), body
        )
        assert code == 422, response
        assert [d["field"] for d in response["error"]["details"]] == [field]
        self._assert_unchanged(world, ticket)


# ---- rules a user meets, one world per test -------------------------------------------------


@pytest.fixture
def assigned(client, auth):
    """A school, an engineer and a ticket assigned to them."""
    school = make_school(client, auth)
    make_user("eng-1", "engineer")
    ticket = make_ticket(client, auth, school["school_id"])
    ticket = ok(transition(client, auth, ticket, "triage", level=2))
    ticket = ok(transition(client, auth, ticket, "assign", assignee_id="eng-1"))
    return SimpleNamespace(school=school, ticket=ticket)


def test_a_stale_write_is_409_with_the_current_version_and_changes_nothing(client, auth, assigned):
    ticket = assigned.ticket
    first = ok(transition(client, auth, ticket, "change_level", level=3))
    code, body = transition(client, auth, ticket, "change_level", level=1)  # based on the old version
    assert code == 409
    assert body["error"]["code"] == "stale_version"
    assert body["error"]["current_version"] == ticket["version"] + 1
    now = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}", auth("dispatcher")))
    assert (now["level"], now["version"]) == (3, first["version"])


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "required for assign"),
        ({"assignee_id": "disp-7"}, "is a dispatcher"),
        ({"assignee_id": "nobody"}, "does not exist"),
    ],
    ids=["missing", "a-dispatcher", "unknown-user"],
)
def test_assigning_needs_an_existing_engineer_or_expert(client, auth, fields, problem):
    """422 naming assignee_id; nothing is written."""
    school = make_school(client, auth)
    make_user("disp-7", "dispatcher")
    ticket = ok(transition(client, auth, make_ticket(client, auth, school["school_id"]), "triage"))
    code, body = transition(client, auth, ticket, "assign", **fields)
    assert code == 422, body
    assert body["error"]["details"][0]["field"] == "assignee_id"
    assert problem in body["error"]["details"][0]["problem"]
    now = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}", auth("dispatcher")))
    assert (now["status"], now["version"], now["assignee_id"]) == ("triaged", ticket["version"], None)


def test_an_expert_can_take_over_and_work_a_ticket_assigned_to_them(client, auth):
    """Line-2 experts (D-S4) are assignable and act on their own tickets like an engineer."""
    school = make_school(client, auth)
    make_user("exp-1", "expert")
    ticket = drive(
        client, auth, make_ticket(client, auth, school["school_id"]), "on_site", assignee=("exp-1", "expert")
    )
    ticket = ok(transition(client, auth, ticket, "resolve", "expert", "exp-1", note="Reflashed the controller"))
    assert ticket["resolution"]["by"] == "exp-1"


def test_merging_into_a_closed_ticket_is_409(client, auth):
    school = make_school(client, auth)
    make_user("eng-1", "engineer")
    closed = drive(client, auth, make_ticket(client, auth, school["school_id"]), "closed")
    duplicate = make_ticket(client, auth, school["school_id"])
    code, body = transition(client, auth, duplicate, "merge", merge_into=closed["ticket_id"])
    assert code == 409, body
    assert body["error"]["merge_into_status"] == "closed"
    assert ok(call(client, "GET", f"/tickets/{duplicate['ticket_id']}", auth()))["status"] == "reported"


def test_merging_a_ticket_into_itself_is_422_by_id_or_by_reference(client, auth):
    school = make_school(client, auth)
    ticket = make_ticket(client, auth, school["school_id"])
    for target in (ticket["ticket_id"], ticket["ref"]):
        code, body = transition(client, auth, ticket, "merge", merge_into=target)
        assert code == 422, body
        assert body["error"]["details"][0]["field"] == "merge_into"
    assert ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}", auth()))["version"] == ticket["version"]


def test_a_duplicate_is_merged_by_reference_and_stops_counting_on_its_lamp(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    first = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    duplicate = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth()))["open_tickets"] == 2
    merged = ok(transition(client, auth, duplicate, "merge", merge_into=first["ref"]))
    assert (merged["status"], merged["merged_into"]) == ("merged", first["ticket_id"])
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth()))["open_tickets"] == 1


def test_merging_across_schools_is_422(client, auth):
    school, other = make_school(client, auth), make_school(client, auth)
    ticket = make_ticket(client, auth, school["school_id"])
    elsewhere = make_ticket(client, auth, other["school_id"])
    code, body = transition(client, auth, ticket, "merge", merge_into=elsewhere["ticket_id"])
    assert code == 422
    assert body["error"]["details"][0] == {"field": "merge_into", "problem": "another school"}


def test_engineers_see_and_list_only_their_own_tickets(client, auth, assigned):
    ticket, school_id = assigned.ticket, assigned.school["school_id"]
    make_user("eng-2", "engineer")
    other = make_ticket(client, auth, school_id)
    path = f"/tickets/{ticket['ticket_id']}"

    assert ok(call(client, "GET", path, auth("engineer", "eng-1")))["ticket_id"] == ticket["ticket_id"]
    assert call(client, "GET", path, auth("engineer", "eng-2"))[0] == 403
    assert call(client, "GET", f"{path}/events", auth("engineer", "eng-2"))[0] == 403
    assert call(client, "GET", f"/tickets/{ticket['ref']}", auth("engineer", "eng-2"))[0] == 403
    assert call(client, "GET", f"/tickets/{other['ticket_id']}", auth("expert", "exp-1"))[0] == 403

    code, body = call(client, "GET", "/tickets?assignee_id=eng-1", auth("engineer", "eng-2"))
    assert code == 403 and body["error"]["code"] == "forbidden"
    mine = ok(call(client, "GET", f"/tickets?school_id={school_id}", auth("engineer", "eng-1")))
    assert [t["ticket_id"] for t in mine["items"]] == [ticket["ticket_id"]]
    theirs = ok(call(client, "GET", f"/tickets?school_id={school_id}", auth("engineer", "eng-2")))
    assert theirs["items"] == []
    everyone = ok(call(client, "GET", f"/tickets?school_id={school_id}", auth("dispatcher")))
    assert {t["ticket_id"] for t in everyone["items"]} == {ticket["ticket_id"], other["ticket_id"]}


def test_ticket_references_are_sequential_per_year(client, auth):
    school = make_school(client, auth)
    tickets = [make_ticket(client, auth, school["school_id"]) for _ in range(3)]
    year = tickets[0]["reported_at"][:4]
    numbers = []
    for t in tickets:
        prefix, ref_year, number = t["ref"].split("-")
        assert (prefix, ref_year, len(number)) == ("T", year, 6)
        numbers.append(int(number))
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    by_ref = ok(call(client, "GET", f"/tickets/{tickets[1]['ref']}", auth()))
    assert by_ref["ticket_id"] == tickets[1]["ticket_id"]


def _page_through(client: Any, headers: dict[str, str], query: str, limit: int = 3) -> list[dict[str, Any]]:
    items, cursor, pages = [], None, 0
    while True:
        page = ok(
            call(client, "GET", f"/tickets?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""), headers)
        )
        assert len(page["items"]) <= limit
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            return items
        assert pages < 20, "the cursor does not advance"


def test_lists_are_oldest_on_site_deadline_first_and_page_through_every_ticket_once(client, auth):
    """A work list ordered by deadline (DOMAIN: field engineer). Levels are mixed so that the order by
    deadline differs from the order of reporting: a red fault reported later is due sooner."""
    school = make_school(client, auth)
    make_user("eng-1", "engineer")
    levels = [1, 2, 4, 3, 1, 4, 2]
    tickets = []
    for level in levels:
        t = make_ticket(client, auth, school["school_id"], level=level)
        t = ok(transition(client, auth, t, "triage"))
        tickets.append(ok(transition(client, auth, t, "assign", assignee_id="eng-1")))
    by_deadline = [t["ticket_id"] for t in sorted(tickets, key=lambda t: (t["onsite_due"], t["ticket_id"]))]
    assert by_deadline != [t["ticket_id"] for t in tickets]

    for query, role, sub in [
        (f"school_id={school['school_id']}", "dispatcher", None),
        ("assignee_id=eng-1", "dispatcher", None),
        ("status=assigned", "manager", None),
        (f"school_id={school['school_id']}&status=assigned", "dispatcher", None),
        (f"school_id={school['school_id']}", "engineer", "eng-1"),
    ]:
        listed = _page_through(client, auth(role, sub), query)
        assert [t["ticket_id"] for t in listed] == by_deadline, query

    for level in (1, 2, 4):
        listed = _page_through(client, auth("dispatcher"), f"level={level}", limit=1)
        expected = [tid for tid in by_deadline if next(t for t in tickets if t["ticket_id"] == tid)["level"] == level]
        assert [t["ticket_id"] for t in listed] == expected


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


GARBAGE_CURSORS = [
    "not-a-cursor",
    "!!!",
    "%E2%82%AC",
    _b64([]),
    _b64({"x": {"S": "y"}}),  # a dict of dicts, but not a key of this list
    _b64({"ticket_id": {"S": 1}}),
    _b64({"ticket_id": {"Q": "t"}, "due_key": {"S": "z"}, "status": {"S": "reported"}}),
]


def test_a_garbage_cursor_is_a_json_error_naming_query_cursor_never_a_500(client, auth):
    school = make_school(client, auth)
    make_ticket(client, auth, school["school_id"])
    wrong = []
    for cursor in GARBAGE_CURSORS:
        for query in (f"school_id={school['school_id']}", "status=reported", "level=2"):
            code, body = call(client, "GET", f"/tickets?{query}&cursor={cursor}", auth("dispatcher"))
            if (code, body["error"]["code"]) != (400, "invalid_query") or "query.cursor" not in [
                d["field"] for d in body["error"]["details"]
            ]:
                wrong.append(f"{query} cursor={cursor}: {code} {body}")
    assert not wrong, "\n".join(wrong)


def test_a_cursor_from_one_list_is_refused_by_another(client, auth):
    school, other = make_school(client, auth), make_school(client, auth)
    for _ in range(2):
        make_ticket(client, auth, school["school_id"])
    cursor = ok(call(client, "GET", f"/tickets?school_id={school['school_id']}&limit=1", auth()))["next_cursor"]
    assert cursor
    for query in (f"school_id={other['school_id']}", "status=reported"):
        code, body = call(client, "GET", f"/tickets?{query}&cursor={cursor}", auth())
        assert (code, body["error"]["code"]) == (400, "invalid_query"), body
        assert body["error"]["details"][0]["field"] == "query.cursor"


def test_changing_the_level_moves_the_ticket_between_level_lists_and_moves_its_deadlines(client, auth, assigned):
    """D-S3: deadlines follow the new level and are still measured from the report."""
    ticket = assigned.ticket
    reported = dt.datetime.fromisoformat(ticket["reported_at"])
    assert dt.datetime.fromisoformat(ticket["onsite_due"]) == reported + dt.timedelta(minutes=40)

    def level_list(level: int) -> list[str]:
        return [t["ticket_id"] for t in ok(call(client, "GET", f"/tickets?level={level}", auth()))["items"]]

    assert ticket["ticket_id"] in level_list(2)
    red = ok(transition(client, auth, ticket, "change_level", level=4))
    assert (red["level"], red["colour"]) == (4, "red")
    assert dt.datetime.fromisoformat(red["response_due"]) == reported + dt.timedelta(minutes=5)
    assert dt.datetime.fromisoformat(red["onsite_due"]) == reported + dt.timedelta(minutes=10)
    assert ticket["ticket_id"] not in level_list(2)
    assert ticket["ticket_id"] in level_list(4)
    event = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/events", auth()))["items"][-1]
    assert (event["action"], event["before"]["level"], event["after"]["level"]) == ("change_level", 2, 4)


def test_an_unknown_action_is_422_naming_action(client, auth):
    school = make_school(client, auth)
    ticket = make_ticket(client, auth, school["school_id"])
    code, body = transition(client, auth, ticket, "teleport")
    assert code == 422
    assert body["error"]["details"][0]["field"] == "action"
    assert json.dumps(body).count("triage") >= 1  # the problem lists the actions there are
