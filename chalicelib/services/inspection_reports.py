"""An inspection visit's report for the school's managers (issue 12.5, D-I3, D-I4: 巡检反馈信息单): every
lamp's condition, the rooms' readings against their targets, what was fixed on the spot, the findings'
tickets still open, the school's sign-off and, for end-of-semester rounds, the semester's evaluation.

Structured data, and an A4 PDF in Chinese with English glosses set in the app's fonts (parsed once per
process: services.pdf_fonts), laid out with the visit reports' page writer (services.visit_reports).
Reads: the visit, its items (one Query), the school, its rooms (one Query), the lamps checked and the
tickets (BatchGets), the contract's targets; an end-of-semester round also counts the school's lamps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.inspection_checks import GB_7793
from chalicelib.domain.inspection_plans import CHINA, Style
from chalicelib.domain.lifecycle import FINAL_STATES, Status
from chalicelib.models import access
from chalicelib.models import inspection_items as store
from chalicelib.schemas_inspection_items import (
    InspectionReportOut,
    InspectionSignOffOut,
    ItemKind,
    ReportLampOut,
    ReportRoomOut,
    ReportTicketOut,
    ReportVisitOut,
    SemesterEvaluationOut,
)
from chalicelib.services import pdf_fonts, ticket_photos
from chalicelib.services.ids import utcnow
from chalicelib.services.inspection_items import (
    item_view,
    measures_view,
    readable_visit,
    sign_off_view,
    targets_for,
)

__all__ = ["report", "report_pdf", "render_pdf"]

PROBLEM_WORDS = {
    "not_lit": "不亮 not lit",
    "damaged": "损坏 damaged",
    "controller_fault": "控制器故障 controller fault",
    "flicker": "频闪 flicker",
    "dirty": "脏污 dirty",
}
STYLE_WORDS = {
    Style.MONTHLY.value: "月度巡检 Monthly inspection",
    Style.END_OF_SEMESTER.value: "期末全面巡检 End-of-semester inspection",
    Style.QUARTERLY.value: "季度巡检 Quarterly inspection",
    Style.HALF_YEARLY.value: "半年巡检 Half-yearly inspection",
    Style.RETURN_VISIT.value: "回访 Return visit",
}


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def report(
    visit_id: str, actor: Principal, now: dt.datetime | None = None, *, with_links: bool = True
) -> InspectionReportOut:
    visit = readable_visit(visit_id, actor)
    items = store.visit_items(visit_id)
    school = access.get_school(visit.school_id)
    room_names = {r.room_id: r.name for r in access.query_rooms(visit.school_id)}
    lamp_items = [i for i in items if i.kind == ItemKind.LAMP.value]
    room_items = [i for i in items if i.kind == ItemKind.ROOM.value]
    lamps = access.batch_get_lamps([i.lamp_id for i in lamp_items]) if lamp_items else {}
    found: dict[str, Any] = dict((visit.report or {}).get("findings") or {})
    tickets = store.batch_get_tickets([f["ticket_id"] for f in found.values()]) if found else {}
    targets = targets_for(visit.contract_id)

    def ticket_of(key: str) -> tuple[str | None, str | None]:
        link = found.get(key)
        return (link["ticket_id"], link.get("ref")) if link else (None, None)

    lamp_lines = []
    for item in sorted(lamp_items, key=lambda i: _lamp_order(lamps.get(i.lamp_id), i.lamp_id)):
        lamp = lamps.get(item.lamp_id)
        view = item_view(item)
        ticket_id, ref = ticket_of(item.item_key)
        room_id = lamp.room_id if lamp else ""
        lamp_lines.append(
            ReportLampOut(
                lamp_id=item.lamp_id,
                asset_no=lamp.asset_no if lamp else "",
                room_id=room_id,
                room_name=room_names.get(room_id, "") or room_id,
                position=lamp.position if lamp else "",
                ok=view.ok,
                problems=view.problems,
                fixed_on_spot=item.fixed_on_spot,
                note=item.note,
                ticket_id=ticket_id,
                ticket_ref=ref,
            )
        )
    room_lines = []
    for item in sorted(room_items, key=lambda i: i.room_id):
        view = item_view(item)
        ticket_id, ref = ticket_of(item.item_key)
        room_lines.append(
            ReportRoomOut(
                room_id=item.room_id,
                room_name=room_names.get(item.room_id, "") or item.room_id,
                compliant=view.ok,
                measures=view.measures,
                flicker_visible=bool(view.readings and view.readings.flicker_visible),
                fixed_on_spot=item.fixed_on_spot,
                note=item.note,
                ticket_id=ticket_id,
                ticket_ref=ref,
            )
        )
    fixed = [
        f"{line.asset_no or line.lamp_id} ({line.room_name}): {line.fixed_on_spot}"
        for line in lamp_lines
        if line.fixed_on_spot
    ]
    fixed += [f"{line.room_name}: {line.fixed_on_spot}" for line in room_lines if line.fixed_on_spot]
    open_tickets = [
        ReportTicketOut(
            ticket_id=t.ticket_id,
            ref=t.ref,
            status=t.status,
            category=t.category,
            room_id=t.room_id or "",
            lamp_ids=[str(x) for x in t.lamp_ids or []],
        )
        for t in sorted(tickets.values(), key=lambda t: t.ref)
        if Status(t.status) not in FINAL_STATES
    ]
    semester = None
    if visit.style == Style.END_OF_SEMESTER.value:
        semester = SemesterEvaluationOut(
            lamps_in_school=len(access.all_lamps_in_school(visit.school_id)),
            lamps_inspected=len(lamp_lines),
            lamps_ok=sum(1 for line in lamp_lines if line.ok),
            fixed_on_spot=len(fixed),
            tickets_opened=len(found),
            rooms_measured=len(room_lines),
            rooms_compliant=sum(1 for line in room_lines if line.compliant),
            evaluation=str((visit.report or {}).get("evaluation") or ""),
        )
    return InspectionReportOut(
        visit=ReportVisitOut(
            visit_id=visit.visit_id,
            school_id=visit.school_id,
            school_name=school.name,
            contract_id=visit.contract_id,
            style=visit.style,
            period=visit.period,
            window_start=_date(visit.window_start),
            due_on=_date(visit.window_end),
            status=visit.status,
            assignee_id=visit.assignee_id,
            started_at=visit.started_at,
            completed_at=visit.completed_at,
        ),
        targets_source=targets.source,
        targets=measures_view(targets),
        lamps=lamp_lines,
        rooms=room_lines,
        fixed_on_spot=fixed,
        open_tickets=open_tickets,
        photos=[ticket_photos.photo_view(p, link=with_links) for p in visit.visit_photos or []],
        semester_evaluation=semester,
        sign_off=sign_off_view(visit.sign_off) if visit.sign_off else None,
    )


def _lamp_order(lamp: Any, lamp_id: str) -> tuple[str, str, str]:
    return (lamp.room_id, lamp.position, lamp_id) if lamp is not None else ("", "", lamp_id)


def report_pdf(visit_id: str, actor: Principal, now: dt.datetime | None = None) -> tuple[bytes, str]:
    now = now or utcnow()
    data = report(visit_id, actor, now, with_links=False)  # the PDF names the photos, it links none
    return render_pdf(data, now), f"inspection-{data.visit.visit_id}.pdf"


# ---- the PDF ------------------------------------------------------------------------------------------

DASH = "—"
GREY = (110, 110, 110)


def _t(moment: dt.datetime | None) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment else DASH


def _num(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:.0f}" if value >= 10 else f"{value:.2f}"


def _ok(value: bool | None) -> str:
    return DASH if value is None else ("合格 pass" if value else "不合格 FAIL")


def render_pdf(data: InspectionReportOut, now: dt.datetime) -> bytes:
    from fpdf import FPDF

    from chalicelib.services.visit_reports import PAGE_MARGIN, _Page

    visit = data.visit

    class _Document(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("main", size=7.5)
            self.set_text_color(*GREY)
            self.cell(0, 4, f"LampCare · 巡检反馈信息单 · {visit.visit_id} · {self.page_no()}/{{nb}}")

    pdf = _Document(orientation="P", unit="mm", format="A4")
    pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(f"巡检反馈信息单 {visit.school_name} {visit.period}")
    pdf.set_creator("lampcare")
    pdf.set_creation_date(now)
    pdf_fonts.use_fonts(pdf)
    pdf.set_fallback_fonts(["cjk"], exact_match=False)
    pdf.add_page()
    page = _Page(pdf)

    pdf.set_font("main", size=18)
    pdf.cell(0, 9, "巡检反馈信息单", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("main", size=10)
    pdf.set_text_color(*GREY)
    pdf.cell(0, 5, f"Inspection report · {STYLE_WORDS.get(visit.style, visit.style)}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("main", size=8)
    pdf.cell(0, 4, f"生成时间 Generated {_t(now)} (北京时间 Beijing time, UTC+8)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)

    page.section("巡检 Visit")
    page.rows(
        [
            ("学校 School", visit.school_name),
            ("类型 Round", f"{STYLE_WORDS.get(visit.style, visit.style)} · {visit.period}"),
            ("期限 Window", f"{visit.window_start or DASH} – {visit.due_on or DASH}"),
            ("状态 Status", visit.status),
            ("工程师 Engineer", visit.assignee_id or DASH),
            ("到场 Started", _t(visit.started_at)),
            ("完成 Completed", _t(visit.completed_at)),
        ]
    )

    page.section(f"灯具状况 Lamps ({len(data.lamps)})")
    page.table(
        ["资产号 Asset", "教室 Room", "位置 Pos.", "状况 Condition", "现场处理 Fixed", "工单 Ticket"],
        [
            [
                line.asset_no or line.lamp_id,
                line.room_name,
                line.position,
                "正常 OK" if line.ok else ", ".join(PROBLEM_WORDS.get(p, p) for p in line.problems),
                line.fixed_on_spot or DASH,
                line.ticket_ref or DASH,
            ]
            for line in data.lamps
        ],
        (1.0, 1.2, 0.6, 1.6, 1.4, 1.1),
    )

    page.section(f"照明测量 Light readings (目标 targets: {data.targets_source})")
    targets = {m.measure: m for m in data.targets}
    for room in data.rooms:
        verdict = "达标 compliant" if room.compliant else "不达标 NON-COMPLIANT"
        page.caption(
            f"{room.room_name} ({room.room_id}) · {verdict}" + (f" · 工单 {room.ticket_ref}" if room.ticket_ref else "")
        )
        rows = [[m.label, _num(m.value), f"≥ {_num(m.minimum)} {m.unit}".strip(), _ok(m.ok)] for m in room.measures]
        rows.append(
            [
                "频闪 Flicker",
                "可见 visible" if room.flicker_visible else "无 none",
                "无可见频闪 none",
                _ok(not room.flicker_visible),
            ]
        )
        page.table(["项目 Measure", "测量值 Value", "目标 Target", "结果 Result"], rows, (1.6, 0.9, 1.0, 1.0))
    if not data.rooms:
        page.caption("未测量 No readings: " + ", ".join(f"{t.label} ≥ {_num(t.minimum)}" for t in targets.values()))

    page.section("现场处理 Fixed on the spot")
    page.table(["内容 What was done"], [[line] for line in data.fixed_on_spot], (1.0,))

    page.section(f"照片 Photos ({len(data.photos)})")
    page.table(
        ["阶段 Stage", "时间 At", "大小 Size"],
        [[p.stage.value, _t(p.at), f"{p.size / 1024:.0f} KB"] for p in data.photos],
        (1.0, 1.4, 1.0),
    )

    page.section("未关闭工单 Open tickets")
    page.table(
        ["工单 Ticket", "类别 Category", "状态 Status", "教室 Room"],
        [[t.ref, t.category, t.status, t.room_id or DASH] for t in data.open_tickets],
        (1.0, 1.2, 1.0, 1.0),
    )

    if data.semester_evaluation is not None:
        ev = data.semester_evaluation
        page.section("学期评价 Semester evaluation")
        page.rows(
            [
                ("在用灯具 Lamps in school", str(ev.lamps_in_school)),
                ("已检灯具 Lamps inspected", str(ev.lamps_inspected)),
                ("正常 OK", str(ev.lamps_ok)),
                ("现场处理 Fixed on the spot", str(ev.fixed_on_spot)),
                ("新开工单 Tickets opened", str(ev.tickets_opened)),
                ("达标教室 Rooms compliant", f"{ev.rooms_compliant} / {ev.rooms_measured}"),
                ("评价 Evaluation", ev.evaluation or DASH),
            ]
        )

    page.section("学校签认 School sign-off")
    page.rows(_sign_off_rows(data.sign_off))
    pdf.ln(4)
    pdf.set_font("main", size=8)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(
        0,
        4,
        f"本信息单呈交学校管理人员 (D-I3, D-I4). Sent to the school's managers. 照明目标 GB 7793 ({GB_7793.source}).",
    )
    return bytes(pdf.output())


def _sign_off_rows(sign_off: InspectionSignOffOut | None) -> list[tuple[str, str]]:
    if sign_off is None:
        return [("签认 Signed", "尚未签认 Not signed yet")]
    method = "短信验证码 SMS code" if sign_off.method == "otp" else "手写签名 Signature"
    rows = [
        ("签认人 Signed by", f"{sign_off.signer_name} {sign_off.signer_role}".strip()),
        ("方式 Method", method + (f" ({sign_off.sent_to})" if sign_off.sent_to else "")),
        ("时间 At", _t(sign_off.at)),
    ]
    if sign_off.satisfaction is not None:
        rows.append(("满意度 Satisfaction", f"{sign_off.satisfaction} / 5"))
    if sign_off.comment:
        rows.append(("意见 Comment", sign_off.comment))
    return rows
