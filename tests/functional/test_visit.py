"""The engineer's visit through the API (issue 11): work list, acknowledge, travel with the ETA SMS, geofenced
check-in, the work record with parts from stock and a unit swap, sign-off, check-out, sync, retries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.functional.factories import call, make_lamp, make_school, make_ticket, make_user, ok, transition

ENGINEER = "eng-visit"
SCHOOL_AT = {"latitude": 31.2304, "longitude": 121.4737}


def _key() -> str:
    return str(uuid.uuid4())


def post(
    client: Any, auth: Any, path: str, body: dict[str, Any], key: str | None = None, sub: str = ENGINEER
) -> tuple[int, Any]:
    headers = {**auth("engineer", sub), "Idempotency-Key": key or _key()}
    return call(client, "POST", path, headers, body)


def _eta(minutes: int = 30) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()


def _history(client: Any, auth: Any, lamp_id: str) -> list[str]:
    return [h["kind"] for h in ok(call(client, "GET", f"/lamps/{lamp_id}/history", auth("manager")))["items"]]


def _events(client: Any, auth: Any, ticket_id: str) -> list[dict[str, Any]]:
    return ok(call(client, "GET", f"/tickets/{ticket_id}/events", auth("manager")))["items"]


def assigned_ticket(
    client: Any, auth: Any, engineer: str = ENGINEER, **school: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A school with a contact and hazards, a lamp with a fault, triaged and assigned to `engineer`."""
    make_user(engineer, "engineer")
    body = {
        **SCHOOL_AT,
        "contacts": [{"name": "Ms Wang", "role": "facilities", "phone": "13800138000"}],
        "hazards": ["Ladder only with a second person", "Lab B-2: chemicals"],
        **school,
    }
    s = make_school(client, auth, **body)
    lamp = make_lamp(client, auth, s["school_id"])
    t = make_ticket(client, auth, s["school_id"], [lamp["lamp_id"]])
    t = ok(transition(client, auth, t, "triage", level=2))
    t = ok(transition(client, auth, t, "assign", assignee_id=engineer))
    return s, lamp, t


def _stock_for(client: Any, auth: Any, engineer: str, sku: str, qty: int, fits: list[str]) -> str:
    ok(
        call(
            client,
            "POST",
            "/parts",
            auth("parts_manager"),
            {"sku": sku, "name": f"驱动电源 {sku}", "fits_models": fits},
        ),
        201,
    )
    depot = ok(
        call(client, "POST", "/locations", auth("parts_manager"), {"kind": "depot", "name": f"depot {sku}"}), 201
    )
    van = ok(
        call(
            client,
            "POST",
            "/locations",
            auth("parts_manager"),
            {"kind": "van", "name": f"{engineer}'s van", "engineer_id": engineer},
        ),
        201,
    )
    move = {"kind": "received", "sku": sku, "qty": qty, "to_location_id": depot["location_id"]}
    keyed = {**auth("parts_manager"), "Idempotency-Key": _key()}
    ok(call(client, "POST", "/stock/movements", keyed, move), 201)
    issue = {
        "kind": "issued",
        "sku": sku,
        "qty": qty,
        "from_location_id": depot["location_id"],
        "to_location_id": van["location_id"],
    }
    ok(call(client, "POST", "/stock/movements", {**keyed, "Idempotency-Key": _key()}, issue), 201)
    return str(van["location_id"])


def _van_qty(client: Any, auth: Any, van: str, sku: str) -> int:
    items = ok(call(client, "GET", f"/stock/{van}", auth("parts_manager")))["items"]
    return next((int(i["quantity"]) for i in items if i["sku"] == sku), 0)


def _sms_sent() -> list[tuple[str, str]]:
    """(phone, text) of every SMS moto's SNS took."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns import sns_backends

    region = boto3.session.Session().region_name or "us-east-1"
    return [(m[0], m[1]) for m in sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages.values()]


def _school_signs_off(client: Any, auth: Any, ticket: dict[str, Any]) -> dict[str, Any]:
    from tests.functional import factories

    signs = getattr(factories, "school_signs_off", None)
    if signs is not None:
        return dict(signs(client, auth, ticket, "engineer", ENGINEER))
    return dict(ok(transition(client, auth, ticket, "sign_off", "engineer", ENGINEER, signer_name="Ms Wang")))


def test_one_visit_from_assignment_to_sign_off_and_closure_with_audit_and_lamp_history(client, auth):
    school, lamp, ticket = assigned_ticket(client, auth)
    tid, lamp_id = ticket["ticket_id"], lamp["lamp_id"]
    van = _stock_for(client, auth, ENGINEER, "DRV-40", 5, [lamp["model"]])

    work = ok(call(client, "GET", "/me/work", auth("engineer", ENGINEER)))
    assert [i["ticket"]["ticket_id"] for i in work["items"]] == [tid]
    item = work["items"][0]
    assert item["site"]["address"] == school["address"] and item["site"]["latitude"] == SCHOOL_AT["latitude"]
    assert item["site"]["hazards"] == ["Ladder only with a second person", "Lab B-2: chemicals"]
    assert [p["sku"] for p in item["parts_to_bring"]] == ["DRV-40"]
    assert {h["kind"] for h in item["lamp_history"]} >= {"registered", "ticket_opened"}

    steps: list[tuple[str, dict[str, Any], str, str | None]] = [
        ("acknowledge", {"device_at": "2026-11-29T09:00:00+08:00"}, "acknowledged", None),
        ("travel", {"eta": _eta()}, "en_route", None),
        ("check-in", {"lat": 31.2310, "lon": 121.4740, "accuracy_m": 25}, "on_site", "visit_check_in"),
        (
            "work",
            {
                "cause": "Driver board burnt out",
                "category": "hardware_fault",
                "actions": "Replaced the driver",
                "parts": [{"sku": "DRV-40", "qty": 1}],
            },
            "resolved",
            "ticket_resolve",
        ),
    ]
    actions = ["create", "triage", "assign"]
    for path, body, status, history_kind in steps:
        ticket = ok(post(client, auth, f"/tickets/{tid}/{path}", body))
        assert ticket["status"] == status
        events = _events(client, auth, tid)
        actions.append(
            {"acknowledge": "acknowledge", "travel": "depart", "check-in": "arrive", "work": "resolve"}[path]
        )
        assert [e["action"] for e in events] == actions
        assert events[-1]["actor"] == ENGINEER
        if history_kind:
            assert _history(client, auth, lamp_id)[-1] == history_kind

    assert ticket["milestones"].keys() >= {"acknowledged_at", "departed_at", "on_site_at", "resolved_at"}
    visit = ticket["visit"]
    assert visit["check_in"]["inside_fence"] is True and visit["check_in"]["distance_m"] < 100
    assert visit["work"]["parts"][0]["location_id"] == van and visit["work"]["category"] == "hardware_fault"
    assert _van_qty(client, auth, van, "DRV-40") == 4
    assert _events(client, auth, tid)[3]["after"]["device"]["device_at"] == "2026-11-29T01:00:00+00:00"

    full = ok(call(client, "GET", f"/tickets/{tid}", auth("engineer", ENGINEER)))
    [sms] = full["visit"]["messages"]
    assert sms["result"] == "sent" and sms["message_id"] and sms["to"] == "13800138000"
    assert "T-" in sms["message"]
    assert _sms_sent() == [("+8613800138000", sms["message"])]

    # The school signs (signOff, issue 11.8), the engineer checks out, the dispatcher closes.
    ticket = _school_signs_off(client, auth, ticket)
    assert ticket["status"] == "signed_off"
    ticket = ok(post(client, auth, f"/tickets/{tid}/check-out", {"device_at": "2026-11-29T11:00:00+08:00"}))
    assert ticket["visit"]["check_out"]["by"] == ENGINEER
    assert _history(client, auth, lamp_id)[-1] == "visit_check_out"
    assert ok(call(client, "GET", "/me/work", auth("engineer", ENGINEER)))["items"] == []
    ticket = ok(transition(client, auth, ticket, "close"))
    assert ticket["status"] == "closed"
    assert [e["action"] for e in _events(client, auth, tid)][-3:] == ["sign_off", "check_out", "close"]
    history = _history(client, auth, lamp_id)
    assert history[0] == "registered" and history[-1] == "ticket_close"
    assert history.index("visit_check_in") < history.index("ticket_resolve") < history.index("visit_check_out")


def test_check_in_outside_the_fence_is_accepted_and_flagged(client, auth):
    _, _, ticket = assigned_ticket(client, auth, geofence_m=1000)
    tid = ticket["ticket_id"]
    ok(post(client, auth, f"/tickets/{tid}/acknowledge", {}))
    ok(post(client, auth, f"/tickets/{tid}/travel", {"eta": _eta()}))
    ticket = ok(post(client, auth, f"/tickets/{tid}/check-in", {"lat": 31.25, "lon": 121.50, "accuracy_m": 30}))
    assert ticket["status"] == "on_site"
    assert ticket["visit"]["check_in"]["inside_fence"] is False
    assert 3000 < ticket["visit"]["check_in"]["distance_m"] < 4000
    assert ticket["visit"]["check_in"]["fence_m"] == 1000


def test_a_retry_returns_the_first_answer_and_changes_nothing(client, auth):
    _, _, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    key = _key()
    first = post(client, auth, f"/tickets/{tid}/acknowledge", {}, key)
    for _ in range(3):
        assert post(client, auth, f"/tickets/{tid}/acknowledge", {}, key) == first
    assert first[1]["version"] == ticket["version"] + 1
    assert [e["action"] for e in _events(client, auth, tid)].count("acknowledge") == 1
    # the same key on another request is refused
    status, body = post(client, auth, f"/tickets/{tid}/acknowledge", {"note": "other"}, key)
    assert status == 422
    # travel: one SMS however often it is retried
    key = _key()
    body = {"eta": _eta()}
    first = post(client, auth, f"/tickets/{tid}/travel", body, key)
    assert first[0] == 200
    before = len(_sms_sent())
    for _ in range(3):
        assert post(client, auth, f"/tickets/{tid}/travel", body, key) == first
    assert len(_sms_sent()) == before
    full = ok(call(client, "GET", f"/tickets/{tid}", auth("engineer", ENGINEER)))
    assert len(full["visit"]["messages"]) == 1


def test_a_write_without_idempotency_key_is_refused(client, auth):
    _, _, ticket = assigned_ticket(client, auth)
    status, body = call(client, "POST", f"/tickets/{ticket['ticket_id']}/acknowledge", auth("engineer", ENGINEER), {})
    assert status == 400 and body["error"]["details"][0]["field"] == "Idempotency-Key"


def test_a_stale_version_is_409_with_the_current_state(client, auth):
    _, _, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    status, body = post(client, auth, f"/tickets/{tid}/acknowledge", {"version": ticket["version"] - 1})
    assert status == 409 and body["error"]["code"] == "stale_version"
    assert body["error"]["current_version"] == ticket["version"]
    assert body["error"]["current_status"] == "assigned"
    assert body["error"]["ticket"]["ticket_id"] == tid
    ok(post(client, auth, f"/tickets/{tid}/acknowledge", {}))
    status, body = post(client, auth, f"/tickets/{tid}/check-in", {"lat": 31.23, "lon": 121.47, "accuracy_m": 5})
    assert status == 409 and body["error"]["current_status"] == "acknowledged"
    assert body["error"]["ticket"]["status"] == "acknowledged"


def test_a_part_short_in_stock_is_409_naming_the_sku_and_nothing_is_written(client, auth):
    _, lamp, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    van = _stock_for(client, auth, ENGINEER, "DRV-9", 1, [lamp["model"]])
    ok(post(client, auth, f"/tickets/{tid}/acknowledge", {}))
    body = {
        "cause": "Driver",
        "category": "hardware_fault",
        "actions": "Swapped two drivers",
        "parts": [{"sku": "DRV-9", "qty": 2}],
    }
    status, answer = post(client, auth, f"/tickets/{tid}/work", body)
    assert status == 409 and answer["error"]["code"] == "insufficient_stock"
    assert answer["error"]["sku"] == "DRV-9" and answer["error"]["details"][0]["field"] == "parts.0.qty"
    assert _van_qty(client, auth, van, "DRV-9") == 1
    now = ok(call(client, "GET", f"/tickets/{tid}", auth("engineer", ENGINEER)))
    assert now["status"] == "acknowledged" and now["visit"]["work"] is None
    assert "ticket_resolve" not in _history(client, auth, lamp["lamp_id"])


def test_a_unit_swap_replaces_the_lamp_keeping_its_history(client, auth):
    _, lamp, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    ok(post(client, auth, f"/tickets/{tid}/acknowledge", {}))
    body = {
        "cause": "Unit dead",
        "category": "hardware_fault",
        "actions": "Swapped the unit (in warranty: replace, don't repair)",
        "swap": {"old_serial": lamp["serial"], "new_serial": "NEW-SWAP-1"},
    }
    ticket = ok(post(client, auth, f"/tickets/{tid}/work", body))
    swap = ticket["visit"]["work"]["swap"]
    assert swap["old_lamp_id"] == lamp["lamp_id"] and swap["new_serial"] == "NEW-SWAP-1"
    old = ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth("manager")))
    assert old["status"] == "replaced" and old["successor_id"] == swap["new_lamp_id"]
    new = ok(call(client, "GET", f"/lamps/{swap['new_lamp_id']}", auth("manager")))
    assert new["room_id"] == lamp["room_id"] and new["position"] == lamp["position"]
    assert "replaced" in _history(client, auth, lamp["lamp_id"])
    assert _history(client, auth, swap["new_lamp_id"]) == ["installed_as_replacement"]
    # a serial already registered: 409 and nothing written
    _, lamp2, ticket2 = assigned_ticket(client, auth)
    ok(post(client, auth, f"/tickets/{ticket2['ticket_id']}/acknowledge", {}))
    body["swap"] = {"old_serial": lamp2["serial"], "new_serial": "NEW-SWAP-1"}
    status, answer = post(client, auth, f"/tickets/{ticket2['ticket_id']}/work", body)
    assert status == 409 and answer["error"]["details"][0]["field"] == "swap.new_serial"
    assert ok(call(client, "GET", f"/lamps/{lamp2['lamp_id']}", auth("manager")))["status"] == "in_service"


def test_check_out_needs_the_school_sign_off(client, auth):
    _, _, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    ok(post(client, auth, f"/tickets/{tid}/acknowledge", {}))
    status, body = post(client, auth, f"/tickets/{tid}/check-out", {})
    assert status == 409 and body["error"]["current_status"] == "acknowledged"
    status, _ = post(client, auth, f"/tickets/{tid}/check-out", {}, sub="someone-else")
    assert status == 403


def test_another_engineer_cannot_act_on_the_ticket(client, auth):
    _, _, ticket = assigned_ticket(client, auth)
    make_user("eng-other", "engineer")
    status, _ = post(client, auth, f"/tickets/{ticket['ticket_id']}/acknowledge", {}, sub="eng-other")
    assert status == 403


def test_sync_returns_what_changed_since_the_cursor(client, auth):
    _, _, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    first = ok(call(client, "GET", "/me/changes", auth("engineer", ENGINEER)))
    assert [t["ticket_id"] for t in first["items"]] == [tid] and first["has_more"] is False
    from chalicelib.services import visit

    # the cursor lags 5 s behind the server's clock: move past it
    original = visit.SYNC_SETTLE
    visit.SYNC_SETTLE = dt.timedelta(0)
    try:
        cursor = ok(call(client, "GET", "/me/changes", auth("engineer", ENGINEER)))["next_cursor"]
        assert ok(call(client, "GET", f"/me/changes?cursor={cursor}", auth("engineer", ENGINEER)))["items"] == []
        ok(post(client, auth, f"/tickets/{tid}/acknowledge", {}))
        later = ok(call(client, "GET", f"/me/changes?cursor={cursor}", auth("engineer", ENGINEER)))
        assert [(t["ticket_id"], t["status"]) for t in later["items"]] == [(tid, "acknowledged")]
    finally:
        visit.SYNC_SETTLE = original
    status, body = call(client, "GET", "/me/changes?cursor=bogus", auth("engineer", ENGINEER))
    assert status == 400 and body["error"]["details"][0]["field"] == "query.cursor"
    other = ok(call(client, "GET", "/me/changes", auth("engineer", "eng-nobody")))
    assert other["items"] == []


def test_an_engineer_reads_a_ticket_he_created(client, auth):
    school = make_school(client, auth)
    make_user("eng-finder", "engineer")
    body = {
        "source": "inspection",
        "school_id": school["school_id"],
        "category": "not_lit",
        "description": "Found on the monthly inspection",
    }
    created = ok(call(client, "POST", "/tickets", auth("engineer", "eng-finder"), body), 201)
    assert ok(call(client, "GET", f"/tickets/{created['ticket_id']}", auth("engineer", "eng-finder")))["ref"]
    status, _ = call(client, "GET", f"/tickets/{created['ticket_id']}", auth("engineer", "eng-stranger"))
    assert status == 403


def test_parts_cannot_come_from_another_engineers_van(client, auth):
    _, lamp, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    make_user("eng-neighbour", "engineer")
    their_van = _stock_for(client, auth, "eng-neighbour", "DRV-N", 3, [lamp["model"]])
    ok(post(client, auth, f"/tickets/{tid}/acknowledge", {}))
    body = {
        "cause": "Driver",
        "category": "hardware_fault",
        "actions": "Replaced the driver",
        "parts": [{"sku": "DRV-N", "qty": 1, "location_id": their_van}],
    }
    status, answer = post(client, auth, f"/tickets/{tid}/work", body)
    assert status == 403 and answer["error"]["details"][0]["field"] == "parts.0.location_id"
    assert _van_qty(client, auth, their_van, "DRV-N") == 3
    assert ok(call(client, "GET", f"/tickets/{tid}", auth("engineer", ENGINEER)))["status"] == "acknowledged"


def test_a_reopened_ticket_comes_back_to_the_work_list_for_a_new_visit(client, auth):
    _, _, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    ok(post(client, auth, f"/tickets/{tid}/acknowledge", {}))
    work = {"cause": "Loose plug", "category": "operation_error", "actions": "Plugged it back in"}
    ticket = ok(post(client, auth, f"/tickets/{tid}/work", work))
    ticket = _school_signs_off(client, auth, ticket)
    ticket = ok(post(client, auth, f"/tickets/{tid}/check-out", {}))
    assert ok(call(client, "GET", "/me/work", auth("engineer", ENGINEER)))["items"] == []
    ticket = ok(transition(client, auth, ticket, "reopen", "manager", note="Dark again the next morning"))
    assert ticket["visit"]["check_out"] is None
    listed = ok(call(client, "GET", "/me/work", auth("engineer", ENGINEER)))["items"]
    assert [i["ticket"]["ticket_id"] for i in listed] == [tid]


def test_a_change_landing_between_the_read_and_the_write_is_409_with_the_current_state(client, auth, monkeypatch):
    from chalicelib.models import access
    from chalicelib.services import visit

    _, _, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    stale = access.get_ticket(tid)  # what the write reads: the office changes the level right after
    changed = ok(transition(client, auth, ticket, "change_level", level=3))
    monkeypatch.setattr(visit, "_find", lambda ticket_id, store: stale)
    status, body = post(client, auth, f"/tickets/{tid}/acknowledge", {})
    assert status == 409 and body["error"]["code"] == "stale_version"
    assert body["error"]["current_version"] == changed["version"]
    assert body["error"]["ticket"]["level"] == 3 and body["error"]["ticket"]["status"] == "assigned"
    assert [e["action"] for e in _events(client, auth, tid)][-1] == "change_level"
