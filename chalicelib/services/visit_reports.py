"""The reports of a visit (issue 11.7, D-S1): the fault technical report (every visit, archived by the
account manager) and, for yellow and worse, the fault handling report (delivered to the school). Each is
structured data (`FaultTechnicalReportOut`, `FaultHandlingReportOut`) and an A4 PDF with the same content
in Chinese with English glosses, set in the label sheet's fonts (parsed once per process: `pdf_fonts`).

Reads: the ticket, its school, its lamps (one BatchGetItem), its room, the engineer's name and, when the
work used parts, their names from the catalogue (one BatchGetItem); nothing is written. Who may read: whoever may read the ticket (services.tickets' rule: an engineer their own tickets,
a school's staff their own school's); the routes say which roles may ask for which report.

fpdf2 loads on the first PDF only (cold start). Never imports chalice or boto3.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.auth import Principal
from chalicelib.domain import visit_reports as rules
from chalicelib.domain.lifecycle import Status
from chalicelib.domain.policy import LEVEL_COLOURS
from chalicelib.domain.sla_timer import DUE_ATTR, MET_ATTR, MILESTONES
from chalicelib.domain.visit_reports import DASH, NOT_RECORDED, ReportKind
from chalicelib.errors import Conflict, NotFound
from chalicelib.models import access, stock
from chalicelib.models.access import LampModel, RoomModel, SchoolModel, TicketModel, UserModel
from chalicelib.models.stock import PartModel
from chalicelib.schemas_visit_reports import (
    FaultHandlingReportOut,
    FaultTechnicalReportOut,
    ReportCheckInOut,
    ReportCheckOutOut,
    ReportLampOut,
    ReportMilestoneOut,
    ReportPartOut,
    ReportPhotoOut,
    ReportRoomOut,
    ReportSchoolOut,
    ReportSignOffOut,
    ReportSwapOut,
    ReportTravelOut,
    ReportWorkOut,
    TechnicalPartOut,
    TechnicalSignOffOut,
    TechnicalWorkOut,
)
from chalicelib.services import pdf_fonts
from chalicelib.services.ids import utcnow
from chalicelib.services.tickets import _can_read, _find

if TYPE_CHECKING:
    from fpdf import FPDF


class ReportStore(Protocol):
    """What the reports read: `chalicelib.models.access` in the app."""

    def get_ticket(self, ticket_id: str) -> TicketModel: ...
    def find_ticket_by_ref(self, ref: str) -> TicketModel: ...
    def get_school(self, school_id: str) -> SchoolModel: ...
    def get_room(self, school_id: str, room_id: str) -> RoomModel: ...
    def batch_get_lamps(self, lamp_ids: Sequence[str]) -> dict[str, LampModel]: ...
    def get_user(self, user_id: str) -> UserModel: ...


class PartCatalogue(Protocol):
    def batch_get_parts(self, skus: list[str]) -> dict[str, PartModel]: ...


STORE: ReportStore = access  # type: ignore[assignment]  # a module implements the protocol
PARTS: PartCatalogue = stock  # type: ignore[assignment]


@dataclass(frozen=True)
class VisitFacts:
    """Everything a report is made of, read once: the ticket and what it refers to."""

    ticket: Any  # TicketModel, or any object with its attributes (tests)
    school: Any
    room: Any | None
    lamps: Sequence[Any]
    engineer_name: str | None
    part_names: Mapping[str, str] = field(default_factory=dict)  # sku -> the catalogue's name


# ---- reading -------------------------------------------------------------------------------------


def read_facts(
    ticket_id: str, actor: Principal, store: ReportStore = STORE, parts: PartCatalogue = PARTS
) -> VisitFacts:
    ticket = _find(ticket_id, store)  # type: ignore[arg-type]  # the protocol's reads are a TicketStore's
    _can_read(ticket, actor, ticket_id)
    school = store.get_school(ticket.school_id)
    room = None
    if ticket.room_id:
        try:
            room = store.get_room(ticket.school_id, ticket.room_id)
        except NotFound:
            room = None  # a room the registry does not know: its code alone is printed
    found = store.batch_get_lamps(list(ticket.lamp_ids)) if ticket.lamp_ids else {}
    lamps = [found[str(lamp_id)] for lamp_id in ticket.lamp_ids if str(lamp_id) in found]
    return VisitFacts(ticket, school, room, lamps, _engineer_name(ticket, store), _part_names(ticket, parts))


def _part_names(ticket: Any, parts: PartCatalogue) -> dict[str, str]:
    """The work record keeps the SKUs it took from stock; the school reads names."""
    work = rules.work(getattr(ticket, "work", None)) or {}
    skus = sorted({p["sku"] for p in work.get("parts", []) if p["sku"] and not p["name"]})
    return {sku: part.name for sku, part in parts.batch_get_parts(skus).items()} if skus else {}


def _engineer_name(ticket: Any, store: ReportStore) -> str | None:
    user_id = _engineer_id(ticket)
    if not user_id:
        return None
    try:
        return rules.text(store.get_user(user_id).name)
    except NotFound:
        return None


def _engineer_id(ticket: Any) -> str | None:
    return rules.text(rules.record(getattr(ticket, "work", None)).get("by")) or rules.text(ticket.assignee_id)


def technical_report(
    ticket_id: str, actor: Principal, now: dt.datetime | None = None, store: ReportStore = STORE
) -> FaultTechnicalReportOut:
    return build_technical(read_facts(ticket_id, actor, store), now or utcnow())


def handling_report(
    ticket_id: str, actor: Principal, now: dt.datetime | None = None, store: ReportStore = STORE
) -> FaultHandlingReportOut:
    facts = read_facts(ticket_id, actor, store)  # who may not read the ticket learns nothing of its level
    level = int(facts.ticket.level)
    if not rules.needs_handling_report(level):
        raise Conflict(
            f"ticket {facts.ticket.ref} is a {LEVEL_COLOURS[level]} (level {level}) fault: D-S1 gives a fault "
            "handling report to yellow, orange and red faults only; its fault technical report is at "
            f"/tickets/{facts.ticket.ticket_id}/reports/technical"
        )
    return build_handling(facts, now or utcnow())


# ---- building ------------------------------------------------------------------------------------


def _parts(ticket: Any, part_names: Mapping[str, str]) -> dict[str, Any]:
    """The visit's parts as recorded, each None (or empty) while not recorded. Tickets closed before the
    visit's records existed still show what their transitions kept: the departure and ETA, the arrival,
    the resolution note and the typed-name sign-off."""
    milestones = rules.record(getattr(ticket, "milestones", None))
    travel = rules.travel(getattr(ticket, "travel", None)) or rules.travel(
        {"started_at": milestones.get("departed_at"), "eta": getattr(ticket, "eta", None)}
    )
    arrived = getattr(ticket, "on_site_at", None) or milestones.get("on_site_at")
    check_in = rules.check_in(getattr(ticket, "check_in", None)) or rules.check_in({"at": arrived})
    resolution = rules.record(getattr(ticket, "resolution", None))
    work = rules.work(getattr(ticket, "work", None)) or rules.work(
        {"actions": resolution.get("note"), "recorded_at": resolution.get("at"), "by": resolution.get("by")}
    )
    for line in (work or {}).get("parts", []):
        line["name"] = line["name"] or part_names.get(line["sku"] or "")
    return {
        "travel": travel,
        "check_in": check_in,
        "work": work,
        "photos": rules.photos(getattr(ticket, "visit_photos", None)),
        "sign_off": rules.sign_off(getattr(ticket, "sign_off", None)),
        "check_out": rules.check_out(getattr(ticket, "check_out", None)),
    }


def _milestones(ticket: Any, now: dt.datetime) -> list[ReportMilestoneOut]:
    recorded = rules.record(getattr(ticket, "milestones", None))
    rows = []
    for milestone in MILESTONES:
        deadline = rules.when(getattr(ticket, DUE_ATTR[milestone], None))
        met_at = rules.when(getattr(ticket, MET_ATTR[milestone], None) or recorded.get(MET_ATTR[milestone]))
        late = None
        if deadline is not None and (met_at or now) > deadline:
            late = round(((met_at or now) - deadline).total_seconds(), 3)
        rows.append(
            ReportMilestoneOut(
                milestone=milestone,
                deadline=deadline,
                met_at=met_at,
                met_in_time=None if met_at is None or deadline is None else met_at <= deadline,
                lateness_seconds=late,
            )
        )
    return rows


def _common(facts: VisitFacts, kind: ReportKind, parts: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    t, school, room = facts.ticket, facts.school, facts.room
    level = int(t.level)
    room_id = rules.text(t.room_id)
    return {
        "report": kind,
        "title": " ".join(rules.TITLES[kind]),
        "ticket_id": t.ticket_id,
        "ref": t.ref,
        "status": Status(t.status),
        "level": level,
        "colour": LEVEL_COLOURS[level],
        "category": t.category,
        "description": t.description or "",
        "reported_at": rules.when(t.reported_at),
        "school": ReportSchoolOut(school_id=school.school_id, name=school.name, address=rules.text(school.address)),
        "room": None
        if room_id is None
        else ReportRoomOut(
            room_id=room_id,
            building=rules.text(getattr(room, "building", None)),
            floor=rules.text(getattr(room, "floor", None)),
            name=rules.text(getattr(room, "name", None)),
        ),
        "lamps": [
            ReportLampOut(
                lamp_id=lamp.lamp_id,
                asset_no=rules.text(lamp.asset_no),
                serial=rules.text(lamp.serial),
                model=rules.text(lamp.model),
                room_id=rules.text(lamp.room_id),
                position=rules.text(lamp.position),
                state=rules.text(getattr(lamp, "status", None)),
            )
            for lamp in facts.lamps
        ],
        "milestones": _milestones(t, now),
        "engineer_name": facts.engineer_name,
        "missing": rules.missing_parts(parts),
        "generated_at": now,
    }


def build_technical(facts: VisitFacts, now: dt.datetime) -> FaultTechnicalReportOut:
    parts = _parts(facts.ticket, facts.part_names)
    work, sign_off = parts["work"], parts["sign_off"]
    return FaultTechnicalReportOut(
        **_common(facts, "fault_technical", parts, now),
        engineer_id=_engineer_id(facts.ticket),
        travel=None if parts["travel"] is None else ReportTravelOut(**parts["travel"]),
        check_in=None if parts["check_in"] is None else ReportCheckInOut(**parts["check_in"]),
        work=None
        if work is None
        else TechnicalWorkOut(
            cause=work["cause"],
            category=work["category"],
            actions=work["actions"],
            parts=[TechnicalPartOut(**p) for p in work["parts"]],
            swap=None if work["swap"] is None else ReportSwapOut(**work["swap"]),
            recorded_at=work["recorded_at"],
            by=work["by"],
        ),
        photos=[ReportPhotoOut(**p) for p in parts["photos"]],
        sign_off=None if sign_off is None else TechnicalSignOffOut(**sign_off),
        check_out=None if parts["check_out"] is None else ReportCheckOutOut(**parts["check_out"]),
    )


def build_handling(facts: VisitFacts, now: dt.datetime) -> FaultHandlingReportOut:
    parts = _parts(facts.ticket, facts.part_names)
    work, sign_off = parts["work"], parts["sign_off"]
    stages = [p["stage"] for p in parts["photos"]]
    return FaultHandlingReportOut(
        **_common(facts, "fault_handling", parts, now),
        eta=(parts["travel"] or {}).get("eta"),
        arrived_at=(parts["check_in"] or {}).get("at"),
        work=None
        if work is None
        else ReportWorkOut(
            cause=work["cause"],
            category=work["category"],
            actions=work["actions"],
            parts=[ReportPartOut(sku=p["sku"], name=p["name"], qty=p["qty"]) for p in work["parts"]],
            swap=None if work["swap"] is None else ReportSwapOut(**work["swap"]),
            recorded_at=work["recorded_at"],
        ),
        photos_before=stages.count("before"),
        photos_after=stages.count("after"),
        sign_off=None
        if sign_off is None
        else ReportSignOffOut(**{k: v for k, v in sign_off.items() if k not in ("lat", "lon")}),
        completed_at=(parts["check_out"] or {}).get("at"),
    )


# ---- the PDF -------------------------------------------------------------------------------------


def technical_pdf(ticket_id: str, actor: Principal, now: dt.datetime | None = None) -> tuple[bytes, str]:
    """The PDF and its download file name."""
    report = technical_report(ticket_id, actor, now)
    return render_pdf(report), f"fault-technical-report-{report.ref}.pdf"


def handling_pdf(ticket_id: str, actor: Principal, now: dt.datetime | None = None) -> tuple[bytes, str]:
    report = handling_report(ticket_id, actor, now)
    return render_pdf(report), f"fault-handling-report-{report.ref}.pdf"


Row = tuple[str, str]

PAGE_MARGIN = 15.0
LINE_H = 5.2  # mm, for 9.5 pt text
CELL_PAD_X = 1.5  # mm each side of a table cell's text
MAX_ROW_LINES = 25  # a table row's text, at most: about half a page
LEVEL_FILL = {"red": (214, 39, 40), "orange": (255, 127, 14), "yellow": (240, 200, 30), "blue": (31, 119, 180)}
GREY = (110, 110, 110)


def _t(moment: dt.datetime | None) -> str:
    return rules.local_time(moment)


def _v(value: Any) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _position(lat: float | None, lon: float | None, accuracy: float | None = None) -> str:
    if lat is None or lon is None:
        return DASH
    text = f"{lat:.6f}, {lon:.6f}"
    return f"{text} (±{accuracy:.0f} m)" if accuracy is not None else text


def _room(report: FaultTechnicalReportOut | FaultHandlingReportOut) -> str:
    room = report.room
    if room is None:
        return DASH
    where = " · ".join(p for p in (room.building, f"{room.floor}F" if room.floor else None, room.name) if p)
    return f"{room.room_id} ({where})" if where else room.room_id


def _clock(check_in: ReportCheckInOut) -> str:
    return " 设备时钟异常 device clock off" if check_in.device_clock_ok is False else ""


def _fence(inside: bool | None) -> str:
    if inside is None:
        return DASH
    return "范围内 inside" if inside else "范围外, 已标记 outside the geofence, flagged"


def _satisfaction(score: int | None) -> str:
    return DASH if score is None else f"{'★' * score}{'☆' * (5 - score)} {score} / 5"


def render_pdf(report: FaultTechnicalReportOut | FaultHandlingReportOut) -> bytes:
    from fpdf import FPDF

    class _Document(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("main", size=7.5)
            self.set_text_color(*GREY)
            self.cell(0, 4, f"LampCare · {report.ref} · {rules.TITLES[report.report][0]} · {self.page_no()}/{{nb}}")

    pdf = _Document(orientation="P", unit="mm", format="A4")
    pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(f"{rules.TITLES[report.report][0]} {report.ref}")
    pdf.set_creator("lampcare")
    pdf.set_creation_date(report.generated_at)
    pdf_fonts.use_fonts(pdf)
    pdf.set_fallback_fonts(["cjk"], exact_match=False)
    pdf.add_page()
    page = _Page(pdf)
    page.title(report)
    if isinstance(report, FaultTechnicalReportOut):
        _technical_body(page, report)
    else:
        _handling_body(page, report)
    return bytes(pdf.output())


def _fault_rows(report: FaultTechnicalReportOut | FaultHandlingReportOut) -> list[Row]:
    return [
        ("工单号 Ticket", report.ref),
        ("状态 Status", rules.word(rules.STATUS_WORDS, report.status.value)),
        ("报修时间 Reported at", _t(report.reported_at)),
        ("报修类别 Reported as", rules.word(rules.CATEGORY_WORDS, report.category)),
        ("故障描述 Description", report.description or DASH),
        ("学校 School", report.school.name),
        ("地址 Address", _v(report.school.address)),
        ("教室 Room", _room(report)),
    ]


def _lamp_table(page: _Page, report: FaultTechnicalReportOut | FaultHandlingReportOut) -> None:
    page.table(
        ["资产编号 Asset no.", "序列号 Serial", "型号 Model", "位置 Position", "现状 State"],
        [
            [_v(x.asset_no), _v(x.serial), _v(x.model), _v(x.position), rules.word(rules.LAMP_STATES, x.state)]
            for x in report.lamps
        ],
        (1.2, 1.2, 1.0, 0.7, 1.0),
    )


def _milestone_table(page: _Page, report: FaultTechnicalReportOut | FaultHandlingReportOut) -> None:
    page.table(
        ["节点 Milestone", "时限 Deadline", "完成 Met at", "结果 Result"],
        [
            [
                f"{rules.MILESTONE_WORDS[m.milestone]} {m.milestone}",
                _t(m.deadline),
                _t(m.met_at),
                rules.milestone_verdict(m.deadline, m.met_at, report.generated_at),
            ]
            for m in report.milestones
        ],
        (0.9, 1.0, 1.0, 1.5),
    )


def _work_rows(work: ReportWorkOut | TechnicalWorkOut) -> list[Row]:
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(work.actions, 1)) if work.actions else DASH
    swap = DASH
    if work.swap is not None:
        swap = f"{_v(work.swap.old_serial)} → {_v(work.swap.new_serial)}"
    return [
        ("故障原因 Cause", _v(work.cause)),
        ("故障分类 Category (D-O3)", rules.word(rules.CATEGORY_WORDS, work.category)),
        ("处理措施 Work done", steps),
        ("更换整灯 Unit swapped (old → new serial)", swap),
        ("记录时间 Recorded at", _t(work.recorded_at)),
    ]


def _sign_off_rows(sign_off: ReportSignOffOut) -> list[Row]:
    signer = " · ".join(p for p in (sign_off.signer_name, sign_off.signer_role) if p) or DASH
    return [
        ("签认人 Signed by", signer),
        ("方式 Method", rules.word(rules.SIGN_OFF_METHODS, sign_off.method)),
        ("时间 Signed at", _t(sign_off.at)),
        ("满意度 Satisfaction", _satisfaction(sign_off.satisfaction)),
        ("意见 Comment", _v(sign_off.comment)),
    ]


def _technical_body(page: _Page, report: FaultTechnicalReportOut) -> None:
    page.section("报修信息 Fault reported")
    page.rows(_fault_rows(report))
    page.section("灯具 Lamps")
    _lamp_table(page, report)
    page.section("服务时限 Service deadlines (D-S3)")
    _milestone_table(page, report)

    page.section("出发与签到 Travel and check-in")
    travel, check_in = report.travel, report.check_in
    page.rows([("工程师 Engineer", " · ".join(p for p in (report.engineer_name, report.engineer_id) if p) or DASH)])
    if travel is None:
        page.rows([("出发 Travel", NOT_RECORDED)])
    else:
        page.rows(
            [
                ("出发时间 Set off", f"{_t(travel.started_at)} (设备 device {_t(travel.device_at)})"),
                ("预计到达 ETA told", _t(travel.eta)),
            ]
        )
    if check_in is None:
        page.rows([("签到 Check-in", NOT_RECORDED)])
    else:
        page.rows(
            [
                ("签到时间 Checked in", f"{_t(check_in.at)} (设备 device {_t(check_in.device_at)}){_clock(check_in)}"),
                ("签到位置 Position", _position(check_in.lat, check_in.lon, check_in.accuracy_m)),
                ("距学校 Distance", DASH if check_in.distance_m is None else f"{check_in.distance_m:.0f} m"),
                ("电子围栏 Geofence", _fence(check_in.inside_fence)),
            ]
        )

    page.section("维修记录 Work done")
    work = report.work
    if work is None:
        page.rows([("维修 Work", NOT_RECORDED)])
    else:
        page.rows([*_work_rows(work), ("记录人 Recorded by", _v(work.by))])
        page.caption("使用备件 Parts used")
        page.table(
            ["备件编号 SKU", "名称 Name", "数量 Qty", "出库位置 Taken from"],
            [[_v(p.sku), _v(p.name), _v(p.qty), _v(p.location_id)] for p in work.parts],
            (1.0, 1.6, 0.6, 1.0),
        )

    page.section(f"照片 Photos ({len(report.photos)})")
    page.table(
        ["阶段 Stage", "时间 Taken at", "类型 Type", "大小 Size"],
        [[rules.word(rules.PHOTO_STAGES, p.stage), _t(p.at), _v(p.content_type), _size(p.size)] for p in report.photos],
        (1.0, 1.2, 1.0, 0.8),
    )

    page.section("学校签认 School sign-off (D-O2)")
    if report.sign_off is None:
        page.rows([("签认 Sign-off", NOT_RECORDED)])
    else:
        page.rows(
            [
                *_sign_off_rows(report.sign_off),
                ("签认位置 Position", _position(report.sign_off.lat, report.sign_off.lon)),
            ]
        )
    page.section("离场 Check-out")
    out = report.check_out
    page.rows(
        [("离场时间 Checked out", NOT_RECORDED if out is None else f"{_t(out.at)} (设备 device {_t(out.device_at)})")]
    )
    page.note(report)


def _handling_body(page: _Page, report: FaultHandlingReportOut) -> None:
    page.section("报修信息 Fault reported")
    page.rows(_fault_rows(report))
    page.section("灯具 Lamps")
    _lamp_table(page, report)
    page.section("服务时限 Service deadlines")
    _milestone_table(page, report)
    page.section("处理过程 Handling")
    page.rows(
        [
            ("工程师 Engineer", _v(report.engineer_name)),
            ("预计到达 ETA told", _t(report.eta)),
            ("到场时间 Arrived", NOT_RECORDED if report.arrived_at is None else _t(report.arrived_at)),
            ("完成时间 Completed", NOT_RECORDED if report.completed_at is None else _t(report.completed_at)),
            ("照片 Photos", f"维修前 before {report.photos_before} · 维修后 after {report.photos_after}"),
        ]
    )
    page.section("处理结果 What was done")
    work = report.work
    if work is None:
        page.rows([("维修 Work", NOT_RECORDED)])
    else:
        page.rows(_work_rows(work))
        page.caption("更换备件 Parts replaced")
        page.table(
            ["备件编号 SKU", "名称 Name", "数量 Qty"],
            [[_v(p.sku), _v(p.name), _v(p.qty)] for p in work.parts],
            (1.0, 2.0, 0.6),
        )
    page.section("学校签认 School sign-off")
    page.rows([("签认 Sign-off", NOT_RECORDED)] if report.sign_off is None else _sign_off_rows(report.sign_off))
    page.note(report)


def _size(size: int | None) -> str:
    if size is None:
        return DASH
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


class _Page:
    """Writes the report top to bottom: a title block, sections of label/value rows and tables."""

    def __init__(self, pdf: FPDF):
        self.pdf = pdf

    def title(self, report: FaultTechnicalReportOut | FaultHandlingReportOut) -> None:
        pdf = self.pdf
        zh, en = rules.TITLES[report.report]
        pdf.set_text_color(0)
        pdf.set_font("main", size=18)
        pdf.cell(0, 9, zh, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("main", size=10)
        pdf.set_text_color(*GREY)
        pdf.cell(0, 5, f"{en} · {report.ref}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        # The level as its colour (D-S levels), the way the service centre names it.
        pdf.set_fill_color(*LEVEL_FILL[report.colour])
        pdf.set_text_color(255 if report.colour != "yellow" else 0)
        pdf.set_font("main", size=11)
        label = f" {rules.COLOUR_WORDS[report.colour]}故障 ({report.level}级) · {report.colour} level {report.level} "
        pdf.cell(pdf.get_string_width(label) + 4, 7, label, fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*GREY)
        pdf.set_font("main", size=8)
        pdf.ln(1)
        pdf.cell(
            0,
            4,
            f"生成时间 Generated {_t(report.generated_at)} (北京时间 Beijing time, UTC+8)",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        if report.missing:
            pdf.cell(0, 4, f"尚未记录 Not recorded yet: {', '.join(report.missing)}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)

    def section(self, heading: str) -> None:
        pdf = self.pdf
        if pdf.get_y() > pdf.page_break_trigger - 25:  # a heading never ends a page alone
            pdf.add_page()
        pdf.ln(3)
        pdf.set_font("main", size=11)
        pdf.set_fill_color(232, 236, 241)
        pdf.set_text_color(0)
        pdf.cell(0, 7, f" {heading}", fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def caption(self, text: str) -> None:
        self.pdf.ln(1)
        self.pdf.set_font("main", size=9)
        self.pdf.set_text_color(*GREY)
        self.pdf.cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(0)

    def rows(self, rows: Iterable[Row]) -> None:
        self._table([[label, value] for label, value in rows], (1.0, 2.6), headings=None)

    def table(self, headings: list[str], rows: list[list[str]], widths: tuple[float, ...]) -> None:
        if not rows:
            rows = [[NOT_RECORDED if i == 0 else "" for i in range(len(headings))]]
        self._table(rows, widths, headings=headings)

    def _table(self, rows: list[list[str]], widths: tuple[float, ...], headings: list[str] | None) -> None:
        from fpdf.fonts import FontFace

        pdf = self.pdf
        pdf.set_font("main", size=9.5)
        heading_style = FontFace(emphasis="", color=(60, 60, 60), fill_color=(245, 245, 245))
        with pdf.table(
            col_widths=widths,
            text_align="LEFT",
            v_align="TOP",
            line_height=LINE_H,
            first_row_as_headings=headings is not None,
            headings_style=heading_style,
            borders_layout="HORIZONTAL_LINES",
            padding=(0.8, CELL_PAD_X),
        ) as table:
            for line in [headings] if headings else []:
                head = table.row()
                for text in line:
                    head.cell(text)
            for values in (piece for whole in rows for piece in self._pieces(whole, widths)):
                row = table.row()
                for i, text in enumerate(values):
                    faint = text == NOT_RECORDED or (headings is None and i == 0)
                    row.cell(text, style=FontFace(color=GREY) if faint else None)

    def _pieces(self, values: list[str], widths: tuple[float, ...]) -> list[list[str]]:
        """A row cut into rows of at most MAX_ROW_LINES lines: fpdf2 cannot print a row taller than a page,
        and a 2,000-character description or comment is (its cut goes on in the rows below, label once)."""
        pdf = self.pdf
        columns = [pdf.epw * share / sum(widths) - 2 * CELL_PAD_X for share in widths]
        # Most rows are a line or two: a bound spares them the exact count (a dry run of the wrapping). Wrapping
        # at spaces fills each line at least half (a longer word is cut), so a paragraph takes at most twice its
        # width in lines, plus one.
        if all(
            2 * pdf.get_string_width(t) / w + t.count("\n") + 1 <= MAX_ROW_LINES
            for t, w in zip(values, columns, strict=True)
        ):
            return [values]
        cells = []
        for text, width in zip(values, columns, strict=True):
            lines: Any = pdf.multi_cell(width, LINE_H, text, dry_run=True, output="LINES") if text else [""]
            cells.append([str(line) for line in lines] or [""])
        if max(len(lines) for lines in cells) <= MAX_ROW_LINES:
            return [values]
        count = max(-(-len(lines) // MAX_ROW_LINES) for lines in cells)
        return [
            ["\n".join(lines[k * MAX_ROW_LINES : (k + 1) * MAX_ROW_LINES]) for lines in cells] for k in range(count)
        ]

    def note(self, report: FaultTechnicalReportOut | FaultHandlingReportOut) -> None:
        pdf = self.pdf
        pdf.ln(4)
        pdf.set_font("main", size=8)
        pdf.set_text_color(*GREY)
        text = (
            "本报告由客户经理存档 (D-S1). Archived by the account manager."
            if report.report == "fault_technical"
            else "本报告呈交学校 (D-S1). Delivered to the school."
        )
        if report.level >= rules.FOLLOW_UP_LEVEL:
            text += "\n红色故障: 修复后继续跟踪设备运行状态 (D-S1). A red fault: the lamp's state is followed up after the fix."
        pdf.multi_cell(0, 4, text)
        pdf.set_text_color(0)
