"""Reports (issue 13): SLA compliance, fault trends, engineers (JSON, CSV or an SVG chart) and the school's
monthly report (JSON or an A4 PDF).

The format: `?format=` when given, else the `Accept` header (text/csv, image/svg+xml, application/pdf),
JSON by default. Files are served as the label sheet is, with a Content-Disposition filename.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalice import Response

from chalicelib.auth import Principal, Role
from chalicelib.errors import FieldProblem, InvalidHeader
from chalicelib.handlers._api import JSON, Api, RequestContext
from chalicelib.lazy import lazy_module
from chalicelib.media_types import CSV_TYPES, OCTET_STREAM, PDF, SVG

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas_reports import (
        EngineerReportOut,
        FaultTrendsOut,
        PartsReportOut,
        SchoolMonthlyReportOut,
        SlaReportOut,
    )
    from chalicelib.services import reports, school_monthly
else:
    reports = lazy_module("chalicelib.services.reports")
    school_monthly = lazy_module("chalicelib.services.school_monthly")

api = Api(__name__)

MANAGERS = [Role.MANAGER, Role.ADMIN, Role.PROJECT_LEAD, Role.TECHNICAL_MANAGER, Role.DISPATCHER]
# D-A3: a school's staff read their own school's figures (services.scope), nothing wider.
WITH_SCHOOL_STAFF = [*MANAGERS, Role.SCHOOL_STAFF]
CSV = CSV_TYPES[0]
FILE_TYPES = {"csv": CSV, "svg": SVG, "pdf": PDF}
T = TypeVar("T")
File = Callable[[Any, Principal], tuple[bytes, str]]  # a report as a file: its bytes and its name


def _format(ctx: RequestContext, offered: tuple[str, ...]) -> str:
    """json, or one of `offered` (csv, svg, pdf): the query's `format`, else the first the Accept names."""
    asked = ctx.query.format
    accept = ctx.headers.get("accept", "").lower()
    if asked is None:
        named = [f for f in offered if FILE_TYPES[f] in accept or (f == "csv" and CSV_TYPES[1] in accept)]
        return named[0] if named and JSON not in accept.split(",")[0] else "json"
    if asked != "json" and accept and not any(t in accept for t in (FILE_TYPES[asked], "*/*", OCTET_STREAM)):
        if not (asked == "csv" and CSV_TYPES[1] in accept):
            raise InvalidHeader(
                f"format={asked} needs an Accept header that admits it",
                details=[FieldProblem("Accept", f"send {FILE_TYPES[asked]} (or */*) with format={asked}")],
            )
    return str(asked)


def _file(content: bytes, filename: str, media_type: str) -> Response:
    text = media_type in (CSV, SVG)  # text: sent as it is (binary types are base64 through the gateway)
    return Response(
        body=content.decode("utf-8") if text else content,
        status_code=200,
        headers={
            "Content-Type": media_type + ("; charset=utf-8" if text else ""),
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


def _answer(
    ctx: RequestContext, json_view: Callable[[Any, Principal], T], csv_view: File, svg_view: File
) -> T | Response:
    chosen = _format(ctx, ("csv", "svg"))
    if chosen == "csv":
        return _file(*csv_view(ctx.query, ctx.principal), CSV)
    if chosen == "svg":
        return _file(*svg_view(ctx.query, ctx.principal), SVG)
    return json_view(ctx.query, ctx.principal)


@api.route(
    "/reports/sla",
    "GET",
    operation_id="getSlaReport",
    response="SlaReportOut",
    roles=WITH_SCHOOL_STAFF,
    query="ReportQuery",
)
def get_sla_report(ctx: RequestContext) -> SlaReportOut | Response:
    """SLA compliance for whole months, by contract, school, engineer or level (D-S, D-S4).

    Per month and in total: cases by level; for response, on site and resolution the deadlines met and
    breached (met late, or missed), still pending, and the percentage met; mean, median, p90 and worst
    response and on-site times (minutes from the report); tickets that reached each escalation step.
    Cases count in the month they were reported (China time), at their current level. CSV with
    `Accept: text/csv` or `?format=csv` (UTF-8 with a byte-order mark); an SVG line chart of the
    percentage met per month with `Accept: image/svg+xml` or `?format=svg`. A school's staff send
    their own school_id.
    """
    return _answer(ctx, reports.sla_report, reports.sla_report_csv, reports.sla_report_svg)


@api.route(
    "/reports/fault-trends",
    "GET",
    operation_id="getFaultTrends",
    response="FaultTrendsOut",
    roles=WITH_SCHOOL_STAFF,
    query="ReportQuery",
)
def get_fault_trends(ctx: RequestContext) -> FaultTrendsOut | Response:
    """Fault trends for whole months, by contract, school, engineer or level (D-C2).

    Per month and in total: cases by category and level, the school reports they gathered, cases
    reopened (a fault that came back, the raw material of D-W4) and, for a school, faults per 1,000
    lamps in service. CSV as for getSlaReport; the SVG is a stacked bar chart of faults by category.
    """
    return _answer(ctx, reports.fault_trends, reports.fault_trends_csv, reports.fault_trends_svg)


@api.route(
    "/reports/engineers",
    "GET",
    operation_id="getEngineerReport",
    response="EngineerReportOut",
    roles=MANAGERS,
    query="ReportQuery",
)
def get_engineer_report(ctx: RequestContext) -> EngineerReportOut | Response:
    """Engineers' work for whole months (usually `engineer_id`; any scope works): workload, first-time fix
    rate, travel, response and on-site times, the schools' satisfaction scores (D-O4, D-C3).

    CSV as for getSlaReport; the SVG charts the first-time fix rate and the share of satisfied scores.
    """
    return _answer(ctx, reports.engineer_report, reports.engineer_report_csv, reports.engineer_report_svg)


@api.route(
    "/reports/parts",
    "GET",
    operation_id="getPartsReport",
    response="PartsReportOut",
    roles=[*MANAGERS, Role.PARTS_MANAGER],
    query="ReportQuery",
)
def get_parts_report(ctx: RequestContext) -> PartsReportOut | Response:
    """Parts used per month by contract, school or engineer (the cases' work records, D-P2), and every
    depot's stock now against D-P1 (at least 3 % of the installed quantity of each part).

    CSV (one line per month and part, then the totals) as for getSlaReport; the SVG is a stacked bar chart
    of the parts used per month.
    """
    return _answer(ctx, reports.parts_report, reports.parts_report_csv, reports.parts_report_svg)


@api.route(
    "/schools/{school_id}/reports/monthly",
    "GET",
    operation_id="getSchoolMonthlyReport",
    response="SchoolMonthlyReportOut",
    roles=WITH_SCHOOL_STAFF,
    query="SchoolMonthlyQuery",
)
def get_school_monthly_report(ctx: RequestContext, school_id: str) -> SchoolMonthlyReportOut | Response:
    """The school's monthly report (D-A3, D-I3) for its managers: the month's faults, visits, deadlines
    met, inspections done and due, open items and lamps out of warranty; JSON, or an A4 PDF in Chinese
    with `Accept: application/pdf` or `?format=pdf`. A school's staff read their own school's only.
    """
    chosen = _format(ctx, ("pdf",))
    if chosen == "pdf":
        accept = ctx.headers.get("accept", "").lower()
        media_type = OCTET_STREAM if OCTET_STREAM in accept and PDF not in accept else PDF
        return _file(*school_monthly.monthly_pdf(school_id, ctx.query.month, ctx.principal), media_type)
    return school_monthly.monthly_report(school_id, ctx.query.month, ctx.principal)
