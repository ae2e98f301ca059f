"""The school's monthly report (issue 13.5, D-A3, D-I3): the month's faults and deadlines met (the school's
report aggregate row: one GetItem-sized Query), visits, inspections done and due (one Query on the
inspection visits' by_school index), the cases still open (one Query per open status) and the lamps out of
warranty (the school's lamps in service: one Query), as JSON or an A4 PDF in Chinese with English glosses.

A school's staff read their own school's (services.scope: another school is 404). fpdf2 loads on the
first PDF only; fonts are parsed once per process (services.pdf_fonts). Never imports chalice or boto3.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain import reports as rules
from chalicelib.domain.lifecycle import OPEN_STATES
from chalicelib.models import access, report_aggregates
from chalicelib.schemas_reports import (
    MonthlyInspectionOut,
    MonthlyTicketOut,
    SchoolMonthlyReportOut,
)
from chalicelib.services import scope
from chalicelib.services.ids import utcnow
from chalicelib.services.reports import sla_period

OPEN_ITEMS_SHOWN = 50
CATEGORY_WORDS = {
    "operation_error": "操作错误",
    "software_error": "软件错误",
    "configuration_error": "配置错误",
    "hardware_fault": "硬件故障",
    "not_lit": "不亮",
    "flickering": "闪烁",
    "dim": "偏暗",
    "noise": "噪声",
    "physical_damage": "物理损坏",
    "controller_fault": "控制器故障",
    "other": "其他",
}
STATUS_WORDS = {
    "reported": "已报修",
    "triaged": "已分级",
    "assigned": "已派工",
    "acknowledged": "已响应",
    "en_route": "在途",
    "on_site": "在现场",
    "reopened": "已重开",
    "planned": "计划中",
    "in_progress": "进行中",
    "completed": "已完成",
    "cancelled": "已取消",
}


def _month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """The month in China time, as UTC instants [start, end)."""
    year, number = map(int, month.split("-"))
    start = dt.datetime(year, number, 1, tzinfo=rules.CHINA)
    end = dt.datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=rules.CHINA)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _utc_text(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def monthly_report(school_id: str, month: str | None, actor: Principal) -> SchoolMonthlyReportOut:
    scope.require_school(actor, school_id, what="school", key=school_id)
    month = month or rules.month_of(utcnow())
    school = access.get_school(school_id)
    rows = report_aggregates.query_rows("school", school_id, month, month)
    row = rules.add_rows(values for _, values in rows)
    start, end = _month_bounds(month)
    visits = report_aggregates.school_inspections(school_id, _utc_text(start), _utc_text(end))
    open_tickets = report_aggregates.school_open_tickets(school_id, sorted(OPEN_STATES), OPEN_ITEMS_SHOWN)
    last_day = (end - dt.timedelta(seconds=1)).astimezone(rules.CHINA).date().isoformat()
    lamps = report_aggregates.school_lamps(school_id)
    out_of_warranty = sum(1 for lamp in lamps if lamp.warranty_end and str(lamp.warranty_end) < last_day)
    return SchoolMonthlyReportOut(
        school_id=school_id,
        school_name=str(school.name),
        month=month,
        sla=sla_period(month, row),
        faults_by_category={c: int(row[f"cat_{c}"]) for c in rules.CATEGORIES if row.get(f"cat_{c}")},
        visits=int(row.get("onsite_met", 0) + row.get("onsite_late", 0)),
        open_items=[
            MonthlyTicketOut(
                ref=t.ref,
                status=t.status,
                level=int(t.level),
                category=t.category,
                room_id=t.room_id or None,
                reported_at=t.reported_at,
            )
            for t in open_tickets
        ],
        inspections=[
            MonthlyInspectionOut(visit_id=v.visit_id, status=v.status, due=v.window_end or None) for v in visits
        ],
        lamps_in_service=len(lamps),
        lamps_out_of_warranty=out_of_warranty,
    )


def monthly_pdf(school_id: str, month: str | None, actor: Principal) -> tuple[bytes, str]:
    report = monthly_report(school_id, month, actor)
    return render_pdf(report), f"monthly-{school_id}-{report.month}.pdf"


def _v(value: Any) -> str:
    return "—" if value is None else str(value)


def render_pdf(report: SchoolMonthlyReportOut) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    from chalicelib.services import pdf_fonts

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_title(f"{report.school_name} {report.month} 月度服务报告")
    pdf.set_creator("lampcare")
    pdf_fonts.use_fonts(pdf)
    pdf.set_fallback_fonts(["cjk"], exact_match=False)
    pdf.add_page()
    pdf.set_font("main", size=15)
    pdf.multi_cell(0, 8, f"{report.school_name} 月度服务报告 Monthly service report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("main", size=10)
    pdf.cell(0, 6, f"月份 Month: {report.month}", new_x="LMARGIN", new_y="NEXT")

    def section(title: str) -> None:
        pdf.ln(3)
        pdf.set_font("main", size=12)
        pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("main", size=9)

    def table(rows: list[list[str]]) -> None:
        # the shipped fonts have no bold face: headings are shaded instead
        with pdf.table(headings_style=FontFace(emphasis="", fill_color=(230, 230, 230)), line_height=5.5) as grid:
            for cells in rows:
                line = grid.row()
                for cell in cells:
                    line.cell(cell)

    sla = report.sla
    section("本月故障 Faults this month")
    table(
        [
            ["报修 Cases", "蓝 L1", "黄 L2", "橙 L3", "红 L4", "未完成 Open", "重开 Reopened"],
            [str(sla.tickets), *[str(sla.by_level[str(level)]) for level in rules.LEVELS], str(sla.open)]
            + [str(sla.reopened)],
        ]
    )
    if report.faults_by_category:
        pdf.ln(2)
        table(
            [["类别 Category", "数量 Cases"]]
            + [[f"{CATEGORY_WORDS.get(c, c)} {c}", str(n)] for c, n in report.faults_by_category.items()]
        )
    section("时限达成 Deadlines met")
    names = {"response": "响应 Response", "onsite": "到场 On site", "resolution": "解决 Resolution"}
    table(
        [["节点 Milestone", "按时 Met", "超时 Breached", "待定 Pending", "达成率 % met", "平均 Mean min"]]
        + [
            [
                names[m],
                str(getattr(sla, m).met),
                str(getattr(sla, m).breached),
                str(getattr(sla, m).pending),
                _v(getattr(sla, m).percent_met),
                _v(getattr(sla, m).times.mean_minutes if getattr(sla, m).times else None),
            ]
            for m in rules.MILESTONES
        ]
    )
    section(f"上门服务 Visits: {report.visits}")
    section("巡检 Inspections (done and due)")
    table(
        [["巡检 Visit", "状态 Status", "截止 Due"]]
        + [[i.visit_id, f"{STATUS_WORDS.get(i.status, i.status)} {i.status}", _v(i.due)] for i in report.inspections]
        if report.inspections
        else [["巡检 Visit", "状态 Status", "截止 Due"], ["本月无 none this month", "—", "—"]]
    )
    section("未完成事项 Open items")
    table(
        [["工单 Ticket", "状态 Status", "级别 Level", "教室 Room"]]
        + [
            [t.ref, f"{STATUS_WORDS.get(t.status, t.status)} {t.status}", str(t.level), _v(t.room_id)]
            for t in report.open_items
        ]
        if report.open_items
        else [["工单 Ticket", "状态 Status", "级别 Level", "教室 Room"], ["无 none", "—", "—", "—"]]
    )
    section("设备保修 Warranty")
    table(
        [
            ["在用灯具 Lamps in service", "已过保修期 Out of warranty"],
            [str(report.lamps_in_service), str(report.lamps_out_of_warranty)],
        ]
    )
    return bytes(pdf.output())
