"""A fault followed from the report to the school's sign-off and closure (D-S1, D-S6, D-O2)."""

from tests.functional.factories import (
    call,
    make_lamp,
    make_school,
    make_ticket,
    make_user,
    ok,
    school_signs_off,
    transition,
)


def test_fault_is_followed_from_report_to_closure_with_an_audit_trail(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    make_user("eng-1", "engineer")
    ticket = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    assert ticket["status"] == "reported"
    assert ticket["ref"].startswith("T-")
    assert ticket["room_id"] == "A-101"

    steps = [
        ("triage", "dispatcher", None, {"level": 4}),
        ("assign", "dispatcher", None, {"assignee_id": "eng-1"}),
        ("acknowledge", "engineer", "eng-1", {}),
        ("depart", "engineer", "eng-1", {}),
        ("arrive", "engineer", "eng-1", {}),
        ("resolve", "engineer", "eng-1", {"note": "Swapped the driver board"}),
        ("sign_off", "engineer", "eng-1", {"signer_name": "Ms Wang"}),
        ("close", "dispatcher", None, {}),
    ]
    for action, role, sub, fields in steps:
        if action == "sign_off":  # the school signs, through signOff (D-O2)
            ticket = school_signs_off(client, auth, ticket, role, sub, **fields)
            continue
        ticket = ok(transition(client, auth, ticket, action, role, sub, **fields))
    assert ticket["status"] == "closed"
    assert ticket["colour"] == "red"

    events = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/events", auth("manager")))
    assert [e["action"] for e in events["items"]] == ["create"] + [s[0] for s in steps]
    assert events["items"][1]["after"]["level"] == 4

    lamp_after = ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth("manager")))
    assert lamp_after["open_tickets"] == 0
    history = ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}/history", auth("manager")))
    kinds = [h["kind"] for h in history["items"]]
    assert kinds[0] == "registered" and "ticket_opened" in kinds and kinds[-1] == "ticket_close"


def test_closing_without_sign_off_is_refused_naming_state_and_allowed_actions(client, auth):
    school = make_school(client, auth)
    make_user("eng-2", "engineer")
    ticket = make_ticket(client, auth, school["school_id"])
    for action, role, sub, fields in [
        ("triage", "dispatcher", None, {"level": 2}),
        ("assign", "dispatcher", None, {"assignee_id": "eng-2"}),
        ("acknowledge", "engineer", "eng-2", {}),
        ("resolve", "engineer", "eng-2", {"note": "Talked the teacher through a reset"}),
    ]:
        ticket = ok(transition(client, auth, ticket, action, role, sub, **fields))
    code, body = transition(client, auth, ticket, "close")
    assert code == 409
    assert body["error"]["current_status"] == "resolved"
    assert "sign_off" in body["error"]["allowed_actions"]
    assert "close" not in body["error"]["allowed_actions"]


def test_stale_write_gets_409_with_the_current_version(client, auth):
    school = make_school(client, auth)
    ticket = make_ticket(client, auth, school["school_id"])
    ok(transition(client, auth, ticket, "triage", level=3))
    code, body = transition(client, auth, ticket, "change_level", level=1)
    assert code == 409
    assert body["error"]["code"] == "stale_version"
    assert body["error"]["current_version"] == ticket["version"] + 1
