"""GET /tickets/{ticket_id}/reports/technical and /reports/handling (issue 11.7, D-S1): the fault technical
report of every visit and the fault handling report the school gets for yellow and worse, as JSON and as an
A4 PDF whose text is read back (pypdf).

The visit's records (travel, check-in, work, photos, sign-off, check-out) are written on the ticket here as
the visit's routes store them: the reports only read them, and must read any stage of a visit.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

import pytest
from pypdf import PdfReader

from tests.functional.factories import call, drive, make_lamp, make_school, make_ticket, make_user, ok, transition

SCHOOL_NAME = "上海市第一中学"
CONTACT_PHONE = "13912345678"  # the school contact on record: never in a report
ENGINEER = "eng-1"


def record_visit(ticket_id: str, **records: Any) -> None:
    """Writes the visit's records on the ticket, as the visit's routes store them (models.tickets)."""
    from chalicelib.models.access import TicketModel
    from chalicelib.models.base import bind_tables

    bind_tables()
    ticket = TicketModel.get(ticket_id)
    for name, value in records.items():
        setattr(ticket, name, value)
    ticket.save()


def visit_records(new_lamp_id: str) -> dict[str, Any]:
    return {
        "travel": {
            "started_at": "2026-11-29T01:10:00Z",
            "eta": "2026-11-29T01:35:00Z",
            "device_at": "2026-11-29T01:09:58Z",
        },
        "check_in": {
            "at": "2026-11-29T01:33:00Z",
            "device_at": "2026-11-29T01:32:58Z",
            "lat": 31.2301,
            "lon": 121.4702,
            "accuracy_m": 25,
            "distance_m": 412,
            "inside_fence": False,
        },
        "work": {
            "cause": "驱动电源烧毁",
            "category": "hardware_fault",
            "actions": ["断电检查", "更换整灯"],
            "parts": [{"sku": "DRV-40", "name": "LED 驱动电源 40W", "qty": 1, "location_id": "van-eng-1"}],
            "swap": {"old_serial": "SN-OLD-0001", "new_serial": "SN-NEW-0002", "new_lamp_id": new_lamp_id},
            "recorded_at": "2026-11-29T02:00:00Z",
            "by": ENGINEER,
        },
        "visit_photos": [
            {
                "photo_id": "ph-1",
                "stage": "before",
                "key": "visits/t/ph-1.jpg",
                "content_type": "image/jpeg",
                "size": 200_000,
                "at": "2026-11-29T01:40:00Z",
            },
            {
                "photo_id": "ph-2",
                "stage": "after",
                "key": "visits/t/ph-2.jpg",
                "content_type": "image/jpeg",
                "size": 300_000,
                "at": "2026-11-29T01:58:00Z",
            },
        ],
        "sign_off": {
            "method": "otp",
            "signer_name": "王老师",
            "signer_role": "班主任",
            "at": "2026-11-29T02:05:00Z",
            "lat": 31.2302,
            "lon": 121.4703,
            "satisfaction": 5,
            "comment": "维修及时, 非常满意",
            "sent_to": "139****5678",
            "recorded_by": ENGINEER,
        },
        "check_out": {"at": "2026-11-29T02:10:00Z", "device_at": "2026-11-29T02:10:02Z"},
    }


def pdf_text(body: bytes) -> str:
    assert body.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


@pytest.fixture
def visit(client, auth):
    """A yellow fault at a Chinese school, assigned to eng-1, who is on site."""
    make_user(ENGINEER, "engineer", name="张工")
    school = make_school(
        client,
        auth,
        name=SCHOOL_NAME,
        address="上海市黄浦区学院路1号",
        contacts=[{"name": "李主任", "phone": CONTACT_PHONE}],
    )
    lamp = make_lamp(
        client, auth, school["school_id"], room_id="A-101", serial="SN-OLD-0001", building="实验楼", floor="3"
    )
    ticket = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]], room_id="A-101")
    ticket = drive(client, auth, ticket, "on_site", assignee=(ENGINEER, "engineer"))
    return {"school": school, "lamp": lamp, "ticket": ticket}


def get(client, path: str, headers: dict[str, str], accept: str | None = None):
    return client.http.get(path, headers={**headers, **({"Accept": accept} if accept else {})})


def school_staff(token, school_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token('school_staff', 'staff-' + school_id, school_id=school_id)}"}


def test_technical_report_pdf_prints_the_whole_visit_in_chinese(client, auth, visit):
    ticket, lamp = visit["ticket"], visit["lamp"]
    record_visit(ticket["ticket_id"], **visit_records("l-new"))

    response = get(
        client, f"/tickets/{ticket['ticket_id']}/reports/technical", auth("engineer", ENGINEER), "application/pdf"
    )

    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/pdf"
    assert (
        response.headers["Content-Disposition"] == f'attachment; filename="fault-technical-report-{ticket["ref"]}.pdf"'
    )
    text = pdf_text(response.body)
    for expected in (
        "故障技术报告",
        ticket["ref"],
        SCHOOL_NAME,
        "上海市黄浦区学院路1号",
        "黄色故障",
        lamp["asset_no"],
        "SN-OLD-0001 → SN-NEW-0002",
        "DRV-40",
        "LED 驱动电源 40W",
        "驱动电源烧毁",
        "硬件故障",
        "张工",
        "2026-11-29 09:33",  # checked in, Beijing time
        "412 m",
        "范围外",  # outside the geofence: flagged, not refused
        "照片 Photos (2)",
        "王老师",
        "短信验证码",
        "5 / 5",
        "维修及时",
        "2026-11-29 10:10",  # checked out
    ):
        assert expected in text, expected
    assert CONTACT_PHONE not in text and "139****5678" not in text


def test_technical_report_json_is_the_same_report(client, auth, visit):
    ticket = visit["ticket"]
    record_visit(ticket["ticket_id"], **visit_records("l-new"))

    report = ok(call(client, "GET", f"/tickets/{ticket['ref']}/reports/technical", auth("dispatcher")))

    assert report["report"] == "fault_technical" and report["missing"] == []
    assert (report["ticket_id"], report["school"]["name"], report["level"]) == (ticket["ticket_id"], SCHOOL_NAME, 2)
    assert report["check_in"]["inside_fence"] is False and report["check_in"]["distance_m"] == 412
    assert report["work"]["parts"] == [
        {"sku": "DRV-40", "name": "LED 驱动电源 40W", "qty": 1, "location_id": "van-eng-1"}
    ]
    assert report["sign_off"]["signer_name"] == "王老师" and report["sign_off"]["satisfaction"] == 5
    assert [p["stage"] for p in report["photos"]] == ["before", "after"]
    assert {m["milestone"]: m["met_at"] is not None for m in report["milestones"]} == {
        "response": True,
        "onsite": True,
        "resolution": False,
    }
    assert CONTACT_PHONE not in str(report) and "139****5678" not in str(report)


def test_a_report_pulled_right_after_check_in_prints_what_is_not_recorded_yet(client, auth, visit):
    ticket = visit["ticket"]
    record_visit(ticket["ticket_id"], check_in=visit_records("l-new")["check_in"])
    path = f"/tickets/{ticket['ticket_id']}/reports/technical"

    report = ok(call(client, "GET", path, auth("engineer", ENGINEER)))
    text = pdf_text(get(client, path, auth("engineer", ENGINEER), "application/pdf").body)

    assert report["missing"] == ["work", "photos", "sign_off", "check_out"]
    assert report["work"] is None and report["sign_off"] is None
    assert "未填写" in text and "范围外" in text


def test_the_school_reads_its_handling_report_without_positions_or_stock(client, auth, token, visit):
    ticket = visit["ticket"]
    record_visit(ticket["ticket_id"], **visit_records("l-new"))
    staff = school_staff(token, visit["school"]["school_id"])
    path = f"/tickets/{ticket['ticket_id']}/reports/handling"

    response = get(client, path, staff, "application/pdf")
    report = ok(call(client, "GET", path, {**staff, "Content-Type": "application/json"}))

    assert response.status_code == 200, response.body
    assert (
        response.headers["Content-Disposition"] == f'attachment; filename="fault-handling-report-{ticket["ref"]}.pdf"'
    )
    text = pdf_text(response.body)
    for expected in (
        "故障处理报告",
        ticket["ref"],
        SCHOOL_NAME,
        "DRV-40",
        "SN-OLD-0001 → SN-NEW-0002",
        "王老师",
        "5 / 5",
    ):
        assert expected in text, expected
    for internal in ("van-eng-1", "31.2301", "范围外", CONTACT_PHONE, "139****5678"):
        assert internal not in text, internal
        assert internal not in str(report), internal
    assert (report["report"], report["photos_before"], report["photos_after"]) == ("fault_handling", 1, 1)


def test_school_staff_may_not_read_the_technical_report_nor_another_schools_handling_report(client, auth, token, visit):
    ticket = visit["ticket"]
    other = make_school(client, auth, name="另一所学校")

    own = call(
        client,
        "GET",
        f"/tickets/{ticket['ticket_id']}/reports/technical",
        school_staff(token, visit["school"]["school_id"]),
    )
    foreign = call(
        client, "GET", f"/tickets/{ticket['ticket_id']}/reports/handling", school_staff(token, other["school_id"])
    )

    assert own[0] == 403 and own[1]["error"]["code"] == "forbidden"
    assert foreign[0] == 404 and foreign[1]["error"]["message"] == f"ticket '{ticket['ticket_id']}' does not exist"


def test_an_engineer_reads_only_the_reports_of_tickets_assigned_to_him(client, auth, visit):
    code, body = call(
        client, "GET", f"/tickets/{visit['ticket']['ticket_id']}/reports/technical", auth("engineer", "eng-2")
    )

    assert code == 403
    assert "assigned to them" in body["error"]["message"]


def test_a_blue_fault_has_no_handling_report_but_has_its_technical_report(client, auth):
    school = make_school(client, auth, name=SCHOOL_NAME)
    lamp = make_lamp(client, auth, school["school_id"])
    ticket = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    ticket = ok(transition(client, auth, ticket, "triage", level=1))

    code, body = call(client, "GET", f"/tickets/{ticket['ticket_id']}/reports/handling", auth("dispatcher"))
    pdf = get(client, f"/tickets/{ticket['ticket_id']}/reports/handling", auth("dispatcher"), "application/pdf")
    technical = get(client, f"/tickets/{ticket['ticket_id']}/reports/technical?format=pdf", auth("dispatcher"), "*/*")

    assert code == 409 and body["error"]["code"] == "conflict"
    assert "blue (level 1)" in body["error"]["message"] and "/reports/technical" in body["error"]["message"]
    assert pdf.status_code == 409 and pdf.headers["Content-Type"] == "application/json"
    assert technical.status_code == 200 and "蓝色故障" in pdf_text(technical.body)


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ("", None, "application/json"),
        ("", "*/*", "application/json"),
        ("", "application/pdf", "application/pdf"),
        ("", "application/octet-stream", "application/octet-stream"),
        ("?format=pdf", "*/*", "application/pdf"),
        ("?format=pdf", "application/octet-stream", "application/octet-stream"),
        ("?format=json", "application/pdf", "application/json"),
    ],
)
def test_the_answer_is_json_unless_the_pdf_is_asked_for(client, auth, visit, query, accept, expected):
    path = f"/tickets/{visit['ticket']['ticket_id']}/reports/technical{query}"

    response = get(client, path, auth("manager"), accept)

    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == expected
    assert response.body.startswith(b"%PDF-") == (expected != "application/json")


def test_format_pdf_with_an_accept_that_refuses_it_is_a_400_naming_the_header(client, auth, visit):
    path = f"/tickets/{visit['ticket']['ticket_id']}/reports/technical"

    code, body = call(client, "GET", f"{path}?format=pdf", {**auth("manager"), "Accept": "application/json"})
    bad_code, bad_body = call(client, "GET", f"{path}?format=docx", auth("manager"))

    assert code == 400 and body["error"]["details"][0]["field"] == "Accept"
    assert bad_code == 400 and bad_body["error"]["details"][0]["field"] == "query.format"


def _post(client, auth, path: str, body: dict[str, Any], role: str = "engineer", sub: str | None = ENGINEER) -> Any:
    code, answer = call(client, "POST", path, {**auth(role, sub), "Idempotency-Key": str(uuid.uuid4())}, body)
    assert code in (200, 201), (path, code, answer)
    return answer


def _van_with(client, auth, sku: str, name: str) -> str:
    """The catalogue's part and eng-1's van holding 3 of it (received at a depot, issued to the van)."""
    ok(
        call(client, "POST", "/parts", auth("parts_manager"), {"sku": sku, "name": name, "fits_models": ["EP-LED-40"]}),
        201,
    )
    depot = ok(call(client, "POST", "/locations", auth("parts_manager"), {"kind": "depot", "name": "市区备件库"}), 201)
    van = ok(
        call(
            client,
            "POST",
            "/locations",
            auth("parts_manager"),
            {"kind": "van", "name": "张工的车", "engineer_id": ENGINEER},
        ),
        201,
    )
    for move in (
        {"kind": "received", "sku": sku, "qty": 3, "to_location_id": depot["location_id"]},
        {
            "kind": "issued",
            "sku": sku,
            "qty": 3,
            "from_location_id": depot["location_id"],
            "to_location_id": van["location_id"],
        },
    ):
        _post(client, auth, "/stock/movements", move, "parts_manager", None)
    return str(van["location_id"])


def test_reports_of_a_visit_walked_through_the_app(client, auth):
    """The records as the visit's own routes write them (issue 11): acknowledge, travel, check-in inside the
    fence, the work with a part from the van (named from the catalogue) and a unit swap, the school's sign-off
    and check-out."""
    from tests.functional import factories

    make_user(ENGINEER, "engineer", name="张工")
    school = make_school(
        client,
        auth,
        name=SCHOOL_NAME,
        latitude=31.2304,
        longitude=121.4737,
        contacts=[{"name": "李主任", "phone": CONTACT_PHONE}],
    )
    lamp = make_lamp(client, auth, school["school_id"], serial="SN-OLD-0101")
    ticket = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    ticket = ok(transition(client, auth, ticket, "triage", level=3))
    ticket = ok(transition(client, auth, ticket, "assign", assignee_id=ENGINEER))
    van = _van_with(client, auth, "DRV-40", "LED 驱动电源 40W")
    tid = ticket["ticket_id"]
    _post(client, auth, f"/tickets/{tid}/acknowledge", {})
    _post(
        client,
        auth,
        f"/tickets/{tid}/travel",
        {"eta": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)).isoformat()},
    )
    _post(client, auth, f"/tickets/{tid}/check-in", {"lat": 31.2306, "lon": 121.4738, "accuracy_m": 15})
    work = {
        "cause": "驱动电源烧毁",
        "category": "hardware_fault",
        "actions": "更换整灯并通电测试",
        "parts": [{"sku": "DRV-40", "qty": 1}],
        "swap": {"old_serial": "SN-OLD-0101", "new_serial": "SN-NEW-0202"},
    }
    ticket = _post(client, auth, f"/tickets/{tid}/work", work)
    signs = getattr(factories, "school_signs_off", None)
    if signs is not None:
        signs(client, auth, ticket, "engineer", ENGINEER, signer_name="王老师", satisfaction=4)
        _post(client, auth, f"/tickets/{tid}/check-out", {})
    else:  # the sign-off routes are not there yet: the record they write
        record_visit(
            tid,
            sign_off={"method": "signature", "signer_name": "王老师", "at": "2026-11-29T02:05:00Z", "satisfaction": 4},
        )

    technical = get(client, f"/tickets/{tid}/reports/technical", auth("engineer", ENGINEER), "application/pdf")
    handling = ok(call(client, "GET", f"/tickets/{tid}/reports/handling", auth("dispatcher")))

    text = pdf_text(technical.body)
    assert van in "".join(text.split())  # the van's id may wrap in its narrow column
    for expected in (
        "故障技术报告",
        ticket["ref"],
        SCHOOL_NAME,
        "橙色故障",
        "DRV-40",
        "LED 驱动电源 40W",
        "SN-OLD-0101 → SN-NEW-0202",
        "已更换 (replaced)",  # the ticket's lamp, swapped out: its state now
        "更换整灯并通电测试",
        "范围内",
        "张工",
        "王老师",
        "4 / 5",
    ):
        assert expected in text, expected
    assert CONTACT_PHONE not in text
    assert handling["work"]["parts"] == [{"sku": "DRV-40", "name": "LED 驱动电源 40W", "qty": 1}]
    assert handling["work"]["swap"]["new_serial"] == "SN-NEW-0202" and handling["arrived_at"] is not None
    assert handling["missing"] == (["photos"] if signs is not None else ["photos", "check_out"])  # no photo taken
