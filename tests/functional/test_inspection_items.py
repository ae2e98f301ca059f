"""An inspection visit's checklists and readings, its completion and its report, through the API (issue
12.3-12.5, 12.7): a plan generates the month's visits; on one visit a non-compliant room and a broken lamp
become two tickets linked to the visit, the lamp and the room; the school signs the visit off; the report
(JSON and an A4 PDF in Chinese) shows it all; the room's readings make its light trend."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import uuid
from typing import Any

import boto3
import pytest

from tests.functional.factories import PNG, call, make_contract, make_lamp, make_school, make_user, ok
from tests.support.world import PHOTO_BUCKET

NOW = dt.datetime(2025, 9, 20, 2, 0, tzinfo=dt.UTC)  # Saturday 20 September, 10:00 in China
PDF = "application/pdf"
PHONE = "13812345678"
ROOM_NAME = "三年级二班教室"
GOOD_ROOM = {"desk_lux": 350, "desk_uniformity": 0.75, "board_lux": 520, "board_uniformity": 0.85, "ra": 82}


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}


def last_code() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    number, text = list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())[-1]
    assert number == "+86" + PHONE
    found = re.search(r"签认码 (\d{6})", text)
    assert found and "巡检" in text, text
    return found.group(1)


@pytest.fixture
def clock(monkeypatch: Any) -> dict[str, dt.datetime]:
    from chalicelib.services import inspection_items, inspections

    now = {"at": NOW}
    monkeypatch.setattr(inspections, "utcnow", lambda: now["at"])
    monkeypatch.setattr(inspection_items, "utcnow", lambda: now["at"])
    return now


@pytest.fixture
def round_(client: Any, auth: Any, clock: Any) -> dict[str, Any]:
    """A school with a contact's mobile, two classrooms and three lamps, a monthly plan, and this month's
    visit assigned to eng-1 and started (checked in)."""
    from chalicelib.models.base import bind_tables
    from chalicelib.models.registry import RoomModel

    contract = make_contract(client, auth)["contract_id"]
    school = make_school(
        client, auth, contract, province="上海", contacts=[{"name": "王老师", "role": "校长", "phone": PHONE}]
    )["school_id"]
    lamps = [make_lamp(client, auth, school, room_id="A-101")["lamp_id"] for _ in range(3)]
    other_room_lamp = make_lamp(client, auth, school, room_id="A-102")["lamp_id"]
    bind_tables()
    RoomModel(school, "A-101", name=ROOM_NAME).save()  # the school's own name for it
    make_user("eng-1", "engineer")
    make_user("eng-2", "engineer")
    plan = {"styles": ["monthly"], "region": "shanghai"}
    ok(call(client, "PUT", f"/contracts/{contract}/inspection-plan", auth("project_lead"), plan))
    visits = ok(call(client, "GET", f"/inspection-visits?school_id={school}", auth("dispatcher")))["items"]
    assert [(v["style"], v["period"]) for v in visits][0] == ("monthly", "2025-09")  # the month's visit
    visit = visits[0]["visit_id"]
    ok(call(client, "POST", f"/inspection-visits/{visit}/assignment", auth("dispatcher"), {"assignee_id": "eng-1"}))
    check_in = {"lat": 31.2302, "lon": 121.47, "accuracy_m": 15, "device_at": "2025-09-20T10:01:00+08:00"}
    ok(call(client, "POST", f"/inspection-visits/{visit}/start", keyed(auth("engineer", "eng-1")), check_in))
    return {
        "contract": contract,
        "school": school,
        "lamps": lamps,
        "other_lamp": other_room_lamp,
        "visit": visit,
        "eng": auth("engineer", "eng-1"),
    }


def staff_of(token: Any, school_id: str) -> dict[str, str]:
    """A school's own staff (D-A3)."""
    return {"Authorization": f"Bearer {token('school_staff', 'head-1', school_id=school_id)}"}


def _record(client: Any, r: dict[str, Any], body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return call(client, "POST", f"/inspection-visits/{r['visit']}/items", keyed(headers or r["eng"]), body)


def _lamp(lamp_id: str, **changes: Any) -> dict[str, Any]:
    fixed = changes.pop("fixed_on_spot", "")
    checks = {"lit": True, "flicker": False, "damaged": False, "controller_ok": True, "clean": True, **changes}
    return {"kind": "lamp", "lamp_id": lamp_id, "checks": checks, "fixed_on_spot": fixed}


def _room(room_id: str, **readings: Any) -> dict[str, Any]:
    return {"kind": "room", "room_id": room_id, "readings": {**GOOD_ROOM, **readings}}


def _complete(client: Any, r: dict[str, Any], key: str, **sign_off: Any) -> Any:
    body = {
        "sign_off": {"method": "otp", "signer_name": "王老师", "signer_role": "校长", "satisfaction": 5, **sign_off},
        "evaluation": "",
    }
    return call(client, "POST", f"/inspection-visits/{r['visit']}/complete", keyed(r["eng"], key), body)


def test_a_round_with_a_dark_room_and_a_broken_lamp_yields_two_linked_tickets_and_a_signed_report(
    client, auth, token, round_
):
    r = round_
    good, broken, dusty = r["lamps"]
    assert ok(_record(client, r, _lamp(good)))["ok"] is True
    # recorded twice: the second replaces the first (one item per lamp per visit)
    ok(_record(client, r, _lamp(broken, flicker=True)))
    lamp = ok(_record(client, r, _lamp(broken, lit=False)))
    assert (lamp["ok"], lamp["finding"], lamp["category"], lamp["problems"]) == (False, True, "not_lit", ["not_lit"])
    # the lamp's record (D-A2): one line for this visit, as last recorded
    history = ok(call(client, "GET", f"/lamps/{broken}/history", auth("dispatcher")))["items"]
    lines = [h for h in history if h["kind"] == "inspection"]
    assert len(lines) == 1 and lines[0]["ref"] == r["visit"] and "not_lit" in lines[0]["summary"]
    cleaned = ok(_record(client, r, _lamp(dusty, clean=False, fixed_on_spot="擦拭灯罩 cleaned the diffuser")))
    assert cleaned["finding"] is False and cleaned["problems"] == ["dirty"]

    room = ok(_record(client, r, _room("A-101", desk_lux=262, board_uniformity=0.78)))
    assert room["ok"] is False and room["finding"] is True and room["category"] == "dim"
    assert room["problems"] == ["desk_lux", "board_uniformity"] and room["targets_source"] == "GB 7793"
    desk = next(m for m in room["measures"] if m["measure"] == "desk_lux")
    assert (desk["value"], desk["minimum"], desk["ok"], desk["label"]) == (262, 300, False, "课桌面平均照度")
    assert ok(_record(client, r, _room("A-102")))["ok"] is True

    # a photo of the dark room, uploaded and attached as a ticket's visit photo is
    upload = ok(
        call(
            client,
            "POST",
            f"/inspection-visits/{r['visit']}/photo-uploads",
            keyed(r["eng"]),
            {"stage": "before", "content_type": "image/png"},
        ),
        201,
    )
    boto3.client("s3").put_object(Bucket=PHOTO_BUCKET, Key=upload["upload"]["fields"]["key"], Body=PNG)
    attach = {"upload_id": upload["upload_id"], "stage": "before"}
    photos = ok(call(client, "POST", f"/inspection-visits/{r['visit']}/photos", keyed(r["eng"]), attach), 201)
    assert [(p["stage"], p["content_type"]) for p in photos["items"]] == [("before", "image/png")]
    status, body = call(client, "POST", f"/inspection-visits/{r['visit']}/photos", keyed(r["eng"]), attach)
    assert status == 409  # attached once

    # no sign-off requested: nothing completes and no ticket opens
    status, body = _complete(client, r, "complete-0", code="123456")
    assert status == 409 and body["error"]["code"] == "sign_off_not_requested"
    request = ok(
        call(
            client,
            "POST",
            f"/inspection-visits/{r['visit']}/sign-off-requests",
            keyed(r["eng"]),
            {"method": "otp"},
        ),
        201,
    )
    assert request["contact_name"] == "王老师" and request["sent_to"] == "138****5678"
    code = last_code()

    done = ok(_complete(client, r, "complete-1", code=code))
    assert done["status"] == "completed" and done["sign_off"]["signer_name"] == "王老师"
    assert done["sign_off"]["sent_to"] == "138****5678"
    by_key = {f["item_key"]: f for f in done["findings"]}
    assert set(by_key) == {f"lamp#{broken}", "room#A-101"}

    # the two tickets: source inspection, linked to the lamp / the room, with the contract's normal SLA,
    # readable by the engineer who opened them
    lamp_ticket = ok(call(client, "GET", f"/tickets/{by_key[f'lamp#{broken}']['ticket_id']}", r["eng"]))
    room_ticket = ok(call(client, "GET", f"/tickets/{by_key['room#A-101']['ticket_id']}", r["eng"]))
    assert (lamp_ticket["source"], lamp_ticket["category"], lamp_ticket["lamp_ids"]) == (
        "inspection",
        "not_lit",
        [broken],
    )
    assert (room_ticket["source"], room_ticket["category"], room_ticket["room_id"]) == ("inspection", "dim", "A-101")
    for ticket in (lamp_ticket, room_ticket):
        assert r["visit"] in ticket["description"] and ticket["onsite_due"] and ticket["response_due"]
        assert (
            ticket["ref"]
            == by_key[next(k for k, f in by_key.items() if f["ticket_id"] == ticket["ticket_id"])]["ticket_ref"]
        )
    lamp_now = ok(call(client, "GET", f"/lamps/{broken}", auth("dispatcher")))
    assert lamp_now["open_tickets"] == 1

    # a retry of the completion is answered with the first answer and opens nothing twice
    again = _complete(client, r, "complete-1", code=code)
    assert again == (200, done)
    listed = ok(call(client, "GET", f"/tickets?school_id={r['school']}", auth("dispatcher")))["items"]
    assert sorted(t["ticket_id"] for t in listed) == sorted(f["ticket_id"] for f in done["findings"])
    # completed: the items can no longer change
    status, body = _record(client, r, _lamp(good, lit=False))
    assert status == 409 and body["error"]["current_status"] == "completed"

    report = ok(call(client, "GET", f"/inspection-visits/{r['visit']}/report", auth("manager")))
    assert report["visit"]["status"] == "completed" and report["sign_off"]["signer_name"] == "王老师"
    lamps = {line["lamp_id"]: line for line in report["lamps"]}
    assert lamps[broken]["ticket_ref"] == lamp_ticket["ref"] and lamps[broken]["room_name"] == ROOM_NAME
    assert lamps[good]["ok"] is True and lamps[dusty]["fixed_on_spot"].startswith("擦拭灯罩")
    rooms = {line["room_id"]: line for line in report["rooms"]}
    assert rooms["A-101"]["compliant"] is False and rooms["A-102"]["compliant"] is True
    assert rooms["A-101"]["room_name"] == ROOM_NAME and rooms["A-101"]["ticket_ref"] == room_ticket["ref"]
    assert report["fixed_on_spot"] == [f"{lamps[dusty]['asset_no']} ({ROOM_NAME}): 擦拭灯罩 cleaned the diffuser"]
    assert sorted(t["ref"] for t in report["open_tickets"]) == sorted([lamp_ticket["ref"], room_ticket["ref"]])
    assert report["semester_evaluation"] is None  # a monthly round
    assert len(report["photos"]) == 1 and report["photos"][0]["url"]

    # the school's own staff read it; another school's staff do not learn it exists
    assert ok(call(client, "GET", f"/inspection-visits/{r['visit']}/report", staff_of(token, r["school"])))
    status, _ = call(client, "GET", f"/inspection-visits/{r['visit']}/report", staff_of(token, "s_other"))
    assert status == 404

    # the A4 PDF for the school's managers, checked by its text
    response = client.http.get(
        f"/inspection-visits/{r['visit']}/report?format=pdf", headers={**auth("manager"), "Accept": "application/pdf"}
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    text = _pdf_text(response.body)
    for expected in (
        "巡检反馈信息单",
        ROOM_NAME,
        "不达标",
        "课桌面平均照度",
        "262",
        lamp_ticket["ref"],
        room_ticket["ref"],
        "擦拭灯罩",
        "王老师",
        "不亮",
        "照片 Photos (1)",
    ):
        assert expected in text, expected

    # the room's reading history: one line per visit, the trend one Query
    trend = ok(call(client, "GET", f"/schools/{r['school']}/rooms/A-101/light-trend", staff_of(token, r["school"])))
    assert trend["room_name"] == ROOM_NAME and trend["flag"] == "below_target"
    assert [(line["visit_id"], line["values"]["desk_lux"], line["compliant"]) for line in trend["readings"]] == [
        (r["visit"], 262, False)
    ]


def _pdf_text(body: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_only_the_assigned_engineer_records_and_only_the_schools_lamps_and_rooms(client, auth, round_):
    r = round_
    status, _ = _record(client, r, _lamp(r["lamps"][0]), auth("engineer", "eng-2"))
    assert status == 403
    status, body = _record(client, r, _lamp("l_elsewhere"))
    assert status == 422 and body["error"]["details"][0]["field"] == "lamp_id"
    status, body = _record(client, r, _room("Z-999"))
    assert status == 422 and body["error"]["details"][0]["field"] == "room_id"
    status, body = _record(client, r, {"kind": "room", "room_id": "A-101"})
    assert status == 422 and body["error"]["details"][0]["field"] == "readings"
    status, body = _record(client, r, _room("A-101", desk_uniformity=1.4))
    assert status == 422 and body["error"]["details"][0]["field"] == "readings.desk_uniformity"
    status, _ = call(client, "POST", f"/inspection-visits/{r['visit']}/items", r["eng"], _lamp(r["lamps"][0]))
    assert status == 400  # the app's writes carry an Idempotency-Key
    # the same key again: answered with the first answer, written once
    first = _record(client, r, _lamp(r["lamps"][0]), {**r["eng"], "Idempotency-Key": "same-key-1"})
    assert _record(client, r, _lamp(r["lamps"][0]), {**r["eng"], "Idempotency-Key": "same-key-1"}) == first


def test_a_contract_can_change_a_target_and_rooms_are_judged_against_it(client, auth, round_):
    r = round_
    path = f"/contracts/{r['contract']}/light-targets"
    assert ok(call(client, "GET", path, auth("engineer")))["version"] == 0
    changed = ok(call(client, "PUT", path, auth("project_lead"), {"minimums": {"desk_lux": 400}}))
    assert changed["source"] == "contract" and changed["overrides"] == {"desk_lux": 400} and changed["version"] == 1
    status, body = call(client, "PUT", path, auth("project_lead"), {"minimums": {"ra": 90}})  # no version: stale
    assert status == 409 and body["error"]["code"] == "stale_version"
    assert call(client, "PUT", path, auth("engineer"), {"minimums": {"ra": 90}, "version": 1})[0] == 403
    room = ok(_record(client, r, _room("A-101")))  # 350 lx: GB 7793 passes it, this contract does not
    assert room["ok"] is False and room["problems"] == ["desk_lux"] and room["targets_source"] == "contract"


def test_a_room_heading_below_target_is_flagged_before_it_gets_there(client, auth, token, round_):
    from chalicelib.models import inspection_items as store

    r = round_
    # two earlier rounds' readings, then this one: 380, 350, 320 lx a month apart, all compliant
    for months_ago, lux in ((2, 380), (1, 350)):
        at = NOW - dt.timedelta(days=30 * months_ago)
        store.RoomReadingModel(
            store.room_key(r["school"], "A-101"),
            store.reading_key(at, f"iv_earlier{months_ago}"),
            visit_id=f"iv_earlier{months_ago}",
            measured_at=at,
            values={**GOOD_ROOM, "desk_lux": lux},
            compliant=True,
        ).save()
    ok(_record(client, r, _room("A-101", desk_lux=320)))
    trend = ok(call(client, "GET", f"/schools/{r['school']}/rooms/A-101/light-trend", auth("dispatcher")))
    assert [line["values"]["desk_lux"] for line in trend["readings"]] == [380, 350, 320]
    desk = next(t for t in trend["trends"] if t["measure"] == "desk_lux")
    assert desk["slope_per_30_days"] == pytest.approx(-30)
    assert desk["flag"] == "heading_below" and trend["flag"] == "heading_below"
    assert desk["projected_crossing_on"] == (NOW + dt.timedelta(days=20)).date().isoformat()
    status, _ = call(client, "GET", f"/schools/{r['school']}/rooms/A-101/light-trend", staff_of(token, "s_other"))
    assert status == 404
    assert json.dumps(trend)  # plain JSON


def test_an_end_of_semester_round_reports_the_semesters_evaluation(client, auth, clock):
    """D-I3: every lamp inspected at the end of the semester, the semester evaluated, the record sent to the
    school's managers."""
    clock["at"] = dt.datetime(2026, 1, 6, 2, 0, tzinfo=dt.UTC)  # in the autumn semester's last two weeks
    calendar = {"semesters": [{"name": "2025-autumn", "start": "2025-09-01", "end": "2026-01-17"}]}
    ok(call(client, "PUT", "/calendars/shanghai", auth("admin"), calendar))
    contract = make_contract(client, auth)["contract_id"]
    school = make_school(client, auth, contract, contacts=[{"name": "王老师", "role": "校长", "phone": PHONE}])
    lamps = [make_lamp(client, auth, school["school_id"], room_id="A-101")["lamp_id"] for _ in range(3)]
    make_user("eng-1", "engineer")
    plan = {"styles": ["end_of_semester"], "region": "shanghai"}
    ok(call(client, "PUT", f"/contracts/{contract}/inspection-plan", auth("project_lead"), plan))
    listed = ok(call(client, "GET", f"/inspection-visits?school_id={school['school_id']}", auth("dispatcher")))
    visit = next(v for v in listed["items"] if v["style"] == "end_of_semester")["visit_id"]
    ok(call(client, "POST", f"/inspection-visits/{visit}/assignment", auth("dispatcher"), {"assignee_id": "eng-1"}))
    eng = auth("engineer", "eng-1")
    ok(
        call(
            client,
            "POST",
            f"/inspection-visits/{visit}/start",
            keyed(eng),
            {"lat": 31.23, "lon": 121.47, "accuracy_m": 10},
        )
    )
    r = {"visit": visit, "eng": eng}
    ok(_record(client, r, _lamp(lamps[0])))
    ok(_record(client, r, _lamp(lamps[1], controller_ok=False, fixed_on_spot="重新接线 re-wired the controller")))
    path = f"/inspection-visits/{visit}/sign-off-requests"
    ok(call(client, "POST", path, keyed(eng), {"method": "otp"}), 201)
    body = {
        "sign_off": {"method": "otp", "code": last_code(), "signer_name": "王老师"},
        "evaluation": "本学期灯具运行良好 The lamps ran well this semester",
    }
    done = ok(call(client, "POST", f"/inspection-visits/{visit}/complete", keyed(eng), body))
    assert done["findings"] == []  # fixed on the spot: no ticket

    report = ok(call(client, "GET", f"/inspection-visits/{visit}/report", auth("manager")))
    assert report["semester_evaluation"] == {
        "lamps_in_school": 3,
        "lamps_inspected": 2,
        "lamps_ok": 1,
        "fixed_on_spot": 1,
        "tickets_opened": 0,
        "rooms_measured": 0,
        "rooms_compliant": 0,
        "evaluation": "本学期灯具运行良好 The lamps ran well this semester",
    }
    response = client.http.get(f"/inspection-visits/{visit}/report", headers={**auth("manager"), "Accept": PDF})
    text = _pdf_text(response.body)
    for expected in ("期末全面巡检", "学期评价", "本学期灯具运行良好", "重新接线", "控制器故障"):
        assert expected in text, expected


def test_a_completion_that_failed_half_way_is_retried_without_a_second_ticket(client, auth, round_, monkeypatch):
    """The tickets are opened before the visit's completion commits; a failure between the two (here: the
    completion's transaction refused once) leaves tickets behind, and the retry with the same key must find
    them, not open them again."""
    from chalicelib.errors import WriteConflict
    from chalicelib.models import inspections

    r = round_
    ok(_record(client, r, _lamp(r["lamps"][0], damaged=True)))
    ok(_record(client, r, _room("A-101", ra=70)))
    path = f"/inspection-visits/{r['visit']}/sign-off-requests"
    ok(call(client, "POST", path, keyed(r["eng"]), {"method": "otp"}), 201)
    code = last_code()

    real = inspections.apply_visit_change
    failures = iter([WriteConflict("the inspection visit is being changed by another request; retry")])

    def flaky(*args, **kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(inspections, "apply_visit_change", flaky)
    status, body = _complete(client, r, "complete-flaky", code=code)
    assert status == 409 and body["error"]["code"] == "write_conflict"
    half_way = ok(call(client, "GET", f"/tickets?school_id={r['school']}", auth("dispatcher")))["items"]
    assert len(half_way) == 2  # opened before the failure

    done = ok(_complete(client, r, "complete-flaky", code=code))
    assert sorted(f["ticket_id"] for f in done["findings"]) == sorted(t["ticket_id"] for t in half_way)
    assert {f["category"] for f in done["findings"]} == {"physical_damage", "other"}
    after = ok(call(client, "GET", f"/tickets?school_id={r['school']}", auth("dispatcher")))["items"]
    assert len(after) == 2
    lamp = ok(call(client, "GET", f"/lamps/{r['lamps'][0]}", auth("dispatcher")))
    assert lamp["open_tickets"] == 1
