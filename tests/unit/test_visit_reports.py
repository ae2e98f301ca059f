"""The visit's reports (D-S1) built from a ticket's records, and their PDF: no AWS.

The facts are plain objects with the attributes the stored items have (services.visit_reports.VisitFacts),
so the tests can give a report every stage of a visit, and records of the wrong shape.
"""

from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace as Item
from typing import Any

import pytest
from pypdf import PdfReader

from chalicelib.domain import visit_reports as rules
from chalicelib.services import visit_reports
from chalicelib.services.visit_reports import VisitFacts

REPORTED = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
NOW = REPORTED + dt.timedelta(hours=3)
MIN = dt.timedelta(minutes=1)
SCHOOL_PHONE = "13912345678"


def at(minutes: int) -> str:
    return (REPORTED + minutes * MIN).isoformat().replace("+00:00", "Z")


def full_visit() -> dict[str, Any]:
    return {
        "travel": {"started_at": at(10), "eta": at(35), "device_at": at(10)},
        "check_in": {
            "at": at(45),
            "device_at": at(44),
            "lat": 31.2301,
            "lon": 121.4702,
            "accuracy_m": 12,
            "distance_m": 230,
            "inside_fence": False,
        },
        "work": {
            "cause": "驱动电源损坏",
            "category": "hardware_fault",
            "actions": ["更换驱动电源", "通电测试"],
            "parts": [{"sku": "DRV-40", "name": "LED 驱动电源 40W", "qty": 1, "location_id": "van-eng-1"}],
            "swap": {"old_serial": "SN00000001", "new_serial": "SN00000999", "new_lamp_id": "l-new"},
            "recorded_at": at(80),
            "by": "eng-1",
        },
        "visit_photos": [
            {
                "photo_id": "p1",
                "stage": "before",
                "key": "k/1",
                "content_type": "image/jpeg",
                "size": 345678,
                "at": at(50),
            },
            {
                "photo_id": "p2",
                "stage": "after",
                "key": "k/2",
                "content_type": "image/png",
                "size": 2345678,
                "at": at(79),
            },
        ],
        "sign_off": {
            "method": "otp",
            "signer_name": "王老师",
            "signer_role": "班主任",
            "at": at(85),
            "lat": 31.23,
            "lon": 121.47,
            "satisfaction": 4,
            "comment": "处理及时",
            "sent_to": "139****5678",
        },
        "check_out": {"at": at(90), "device_at": at(90)},
    }


def ticket(level: int = 2, **fields: Any) -> Item:
    stored: dict[str, Any] = dict(
        ticket_id="t-1",
        ref="T-2026-000123",
        status="signed_off",
        level=level,
        category="not_lit",
        description="黑板上方的灯不亮",
        reported_at=REPORTED,
        school_id="s-1",
        room_id="A-101",
        lamp_ids=["l-1"],
        assignee_id="eng-1",
        response_due=REPORTED + 20 * MIN,
        onsite_due=REPORTED + 40 * MIN,
        resolution_due=None,
        acknowledged_at=REPORTED + 5 * MIN,
        on_site_at=REPORTED + 45 * MIN,
        resolved_at=None,
        milestones={},
        eta=None,
        resolution={},
    )
    return Item(**{**stored, **fields})


def facts(t: Item) -> VisitFacts:
    school = Item(
        school_id="s-1",
        name="上海市第一中学",
        address="上海市黄浦区学院路1号",
        contacts=[{"name": "李主任", "phone": SCHOOL_PHONE}],
    )
    room = Item(building="实验楼", floor="3", name="物理实验室")
    lamp = Item(
        lamp_id="l-1", asset_no="SCH1-00007", serial="SN00000001", model="EP-LED-40", room_id="A-101", position="3"
    )
    return VisitFacts(t, school, room, [lamp], "张工")


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# ---- the data --------------------------------------------------------------------------------------


def test_technical_report_carries_every_part_of_the_visit():
    report = visit_reports.build_technical(facts(ticket(**full_visit())), NOW)

    assert report.missing == []
    assert (report.ref, report.colour, report.school.name) == ("T-2026-000123", "yellow", "上海市第一中学")
    assert report.lamps[0].asset_no == "SCH1-00007"
    assert report.room is not None and report.room.building == "实验楼"
    assert report.check_in is not None and report.check_in.inside_fence is False
    assert report.check_in.distance_m == 230
    assert report.work is not None and report.work.parts[0].location_id == "van-eng-1"
    assert report.work.swap is not None and report.work.swap.new_serial == "SN00000999"
    assert [p.stage for p in report.photos] == ["before", "after"]
    assert report.sign_off is not None and (report.sign_off.signer_name, report.sign_off.satisfaction) == ("王老师", 4)
    assert report.check_out is not None and report.check_out.at == REPORTED + 90 * MIN
    assert (report.engineer_name, report.engineer_id) == ("张工", "eng-1")


def test_deadlines_say_when_each_milestone_was_met_and_how_late():
    report = visit_reports.build_technical(facts(ticket(**full_visit())), NOW)

    by_name = {m.milestone: m for m in report.milestones}
    assert by_name["response"].met_in_time is True and by_name["response"].lateness_seconds is None
    assert by_name["onsite"].met_in_time is False and by_name["onsite"].lateness_seconds == 300
    assert by_name["resolution"].deadline is None and by_name["resolution"].met_in_time is None


def test_a_report_pulled_right_after_check_in_lists_what_is_not_recorded_yet():
    visit = full_visit()
    t = ticket(check_in=visit["check_in"], travel=visit["travel"], status="on_site")

    report = visit_reports.build_technical(facts(t), NOW)

    assert report.missing == ["work", "photos", "sign_off", "check_out"]
    assert (report.work, report.sign_off, report.check_out, report.photos) == (None, None, None, [])
    assert "未填写" in pdf_text(visit_reports.render_pdf(report))


def test_records_of_the_wrong_shape_read_as_not_recorded_never_fail():
    t = ticket(
        travel="not a map",
        check_in={"at": "yesterday", "lat": "north", "lon": None, "inside_fence": "yes", "accuracy_m": float("nan")},
        work={"parts": ["DRV-40", {"sku": 7, "qty": "two"}], "actions": "换了驱动", "swap": {}},
        visit_photos=["reports/school/1.jpg", 42],
        sign_off={"satisfaction": 9, "signer_name": "  "},
        check_out=[],
    )

    report = visit_reports.build_technical(facts(t), NOW)

    assert report.travel is None
    assert report.check_in is not None and report.check_in.at == REPORTED + 45 * MIN  # the arrival it has
    assert report.work is not None and report.work.actions == ["换了驱动"] and report.work.swap is None
    assert [(p.sku, p.qty) for p in report.work.parts] == [("7", None)]
    assert report.photos == [] and report.sign_off is None and report.check_out is None
    assert report.missing == ["travel", "photos", "sign_off", "check_out"]
    visit_reports.render_pdf(report)  # prints, with 未填写 where nothing is known


def test_a_ticket_from_before_the_visit_records_shows_what_its_transitions_kept():
    t = ticket(
        eta=REPORTED + 35 * MIN,
        milestones={"departed_at": at(10), "on_site_at": at(45)},
        resolution={"note": "Swapped the driver board", "by": "eng-1", "at": at(80)},
        sign_off={"signer_name": "Ms Wang", "signer_role": "head teacher", "recorded_by": "eng-1", "at": at(85)},
    )

    report = visit_reports.build_technical(facts(t), NOW)

    assert report.travel is not None and report.travel.eta == REPORTED + 35 * MIN
    assert report.work is not None and report.work.actions == ["Swapped the driver board"]
    assert report.sign_off is not None and report.sign_off.method is None and report.sign_off.signer_name == "Ms Wang"


def test_the_handling_report_for_the_school_leaves_out_positions_stock_locations_and_user_ids():
    report = visit_reports.build_handling(facts(ticket(**full_visit())), NOW)
    data = report.model_dump(mode="json")

    assert (report.arrived_at, report.completed_at) == (REPORTED + 45 * MIN, REPORTED + 90 * MIN)
    assert (report.photos_before, report.photos_after) == (1, 1)
    assert report.work is not None and report.work.parts[0].name == "LED 驱动电源 40W"
    text = repr(data)
    for internal in ("van-eng-1", "eng-1", "31.2301", "121.4702", "139****5678", SCHOOL_PHONE):
        assert internal not in text, internal
    assert not {"lat", "lon", "location_id", "engineer_id", "by", "distance_m", "inside_fence"} & keys_of(data)


def keys_of(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in keys_of(value)}
    if isinstance(node, list):
        return {k for value in node for k in keys_of(value)}
    return set()


@pytest.mark.parametrize(("level", "needed"), [(1, False), (2, True), (3, True), (4, True)])
def test_yellow_and_worse_get_a_handling_report(level, needed):
    assert rules.needs_handling_report(level) is needed


# ---- the PDF ---------------------------------------------------------------------------------------


def test_technical_pdf_prints_the_visit_in_chinese():
    report = visit_reports.build_technical(facts(ticket(**full_visit())), NOW)

    text = pdf_text(visit_reports.render_pdf(report))

    for expected in (
        "故障技术报告",
        "T-2026-000123",
        "上海市第一中学",
        "黄色故障",
        "SCH1-00007",
        "DRV-40",
        "LED 驱动电源 40W",
        "van-eng-1",
        "SN00000001 → SN00000999",
        "驱动电源损坏",
        "硬件故障",
        "范围外",  # checked in outside the geofence: flagged
        "王老师",
        "短信验证码",
        "4 / 5",
        "2026-11-24 09:45",  # times in Beijing time
        "超时 late by 5 分钟",
    ):
        assert expected in text, expected
    assert SCHOOL_PHONE not in text and "139****5678" not in text


def test_handling_pdf_is_the_schools_report():
    report = visit_reports.build_handling(facts(ticket(level=3, **full_visit())), NOW)

    text = pdf_text(visit_reports.render_pdf(report))

    for expected in ("故障处理报告", "T-2026-000123", "上海市第一中学", "橙色故障", "DRV-40", "王老师", "处理及时"):
        assert expected in text, expected
    for internal in ("van-eng-1", "31.2301", "范围外", SCHOOL_PHONE):
        assert internal not in text, internal


def test_parts_taken_from_stock_are_named_from_the_catalogue():
    visit = full_visit()
    visit["work"]["parts"] = [{"sku": "DRV-40", "qty": 1, "location_id": "van-eng-1", "movement_id": "m-1"}]
    names = {"DRV-40": "LED 驱动电源 40W"}
    t = ticket(**visit)

    technical = visit_reports.build_technical(VisitFacts(**{**facts(t).__dict__, "part_names": names}), NOW)
    handling = visit_reports.build_handling(VisitFacts(**{**facts(t).__dict__, "part_names": names}), NOW)

    assert technical.work is not None and technical.work.parts[0].name == "LED 驱动电源 40W"
    assert handling.work is not None and [p.model_dump() for p in handling.work.parts] == [
        {"sku": "DRV-40", "name": "LED 驱动电源 40W", "qty": 1}
    ]


def test_a_phone_clock_far_off_is_flagged_on_the_check_in():
    visit = full_visit()
    visit["check_in"]["device_clock_ok"] = False

    report = visit_reports.build_technical(facts(ticket(**visit)), NOW)

    assert report.check_in is not None and report.check_in.device_clock_ok is False
    assert "设备时钟异常" in pdf_text(visit_reports.render_pdf(report))


def test_the_longest_texts_a_ticket_takes_print_over_several_pages():
    """A 2,000-character description, cause, list of actions or comment is taller than a page in one table
    row, which fpdf2 refuses to print (a 500): it goes on in the rows below."""
    visit = full_visit()
    longest = "灯具闪烁后熄灭, 更换驱动电源后恢复正常。" * 100  # 2,000 characters, as much as a note holds
    visit["work"].update(cause=longest, actions=longest)
    visit["sign_off"]["comment"] = longest
    t = ticket(description=longest, **visit)

    for build in (visit_reports.build_technical, visit_reports.build_handling):
        pages = PdfReader(io.BytesIO(visit_reports.render_pdf(build(facts(t), NOW)))).pages
        assert len(pages) >= 4


def test_a_red_faults_handling_report_says_the_lamp_is_followed_up():
    red = pdf_text(visit_reports.render_pdf(visit_reports.build_handling(facts(ticket(level=4, **full_visit())), NOW)))
    orange = pdf_text(
        visit_reports.render_pdf(visit_reports.build_handling(facts(ticket(level=3, **full_visit())), NOW))
    )

    assert "红色故障" in red and "修复后继续跟踪设备运行状态" in red
    assert "修复后继续跟踪" not in orange
