"""The reports of a visit (issue 11.7, D-S1): the fault technical report and the fault handling report.

JSON by default; the printable A4 PDF when `Accept` names application/pdf or the query says `format=pdf`,
served as the label sheet is (application/octet-stream to a client whose Accept names that and not PDF).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Response

from chalicelib.auth import STAFF, Role
from chalicelib.errors import FieldProblem, InvalidHeader
from chalicelib.handlers._api import JSON, Api, RequestContext
from chalicelib.lazy import lazy_module
from chalicelib.media_types import OCTET_STREAM, PDF

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas_visit_reports import FaultHandlingReportOut, FaultTechnicalReportOut
    from chalicelib.services import visit_reports
else:
    visit_reports = lazy_module("chalicelib.services.visit_reports")

api = Api(__name__)

# The handling report goes to the school (D-S1): its staff read their own school's (services/scope.py, D-A3).
WITH_SCHOOL_STAFF = [*STAFF, Role.SCHOOL_STAFF]


def _pdf_media_type(ctx: RequestContext) -> str | None:
    """The media type to answer with the PDF, or None for JSON. Binary answers need an Accept header that
    admits them (API Gateway converts a binary body only then), so `format=pdf` with an Accept that names
    only other types is refused here, naming the header, rather than by the gateway."""
    accept = ctx.headers.get("accept", "").lower()
    asked = ctx.query.format
    pdf_named, octet_named = PDF in accept, OCTET_STREAM in accept
    if asked == "json" or (asked is None and not pdf_named and not (octet_named and JSON not in accept)):
        return None
    if not (pdf_named or octet_named or "*/*" in accept):
        raise InvalidHeader(
            "the PDF needs an Accept header that admits it",
            details=[FieldProblem("Accept", f"send {PDF} (or */*) with format=pdf")],
        )
    return OCTET_STREAM if octet_named and not pdf_named else PDF


def _download(pdf: bytes, filename: str, media_type: str) -> Response:
    return Response(
        body=pdf,
        status_code=200,
        headers={"Content-Type": media_type, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@api.route(
    "/tickets/{ticket_id}/reports/technical",
    "GET",
    operation_id="getFaultTechnicalReport",
    response="FaultTechnicalReportOut",
    roles=STAFF,
    query="VisitReportQuery",
)
def get_fault_technical_report(ctx: RequestContext, ticket_id: str) -> FaultTechnicalReportOut | Response:
    """The fault technical report (故障技术报告) of a visit, as JSON or an A4 PDF.

    Filled for every level and archived by the account manager (D-S1): the fault, the lamps, the SLA
    deadlines and when they were met, travel and check-in (position, geofence), the work done with parts
    and a unit swapped, photos, the school's sign-off and check-out. Available at any stage: what is not
    recorded yet is null and listed in `missing` (未填写 in the PDF). By id or reference (T-2026-000123);
    engineers read the reports of their own tickets. The PDF comes with `Accept: application/pdf` or
    `?format=pdf`.
    """
    media_type = _pdf_media_type(ctx)
    if media_type is None:
        return visit_reports.technical_report(ticket_id, ctx.principal)
    return _download(*visit_reports.technical_pdf(ticket_id, ctx.principal), media_type)


@api.route(
    "/tickets/{ticket_id}/reports/handling",
    "GET",
    operation_id="getFaultHandlingReport",
    response="FaultHandlingReportOut",
    roles=WITH_SCHOOL_STAFF,
    query="VisitReportQuery",
)
def get_fault_handling_report(ctx: RequestContext, ticket_id: str) -> FaultHandlingReportOut | Response:
    """The fault handling report (故障处理报告) for the school, as JSON or an A4 PDF.

    Delivered to the school for a yellow, orange or red fault (D-S1): the fault, the deadlines met or
    missed, arrival and completion, what was done and the parts replaced, and the school's sign-off; no
    positions, stock locations or phone numbers. A blue fault has none (409). The school's staff read their
    own school's; another school's ticket is 404. The PDF comes with `Accept: application/pdf` or
    `?format=pdf`.
    """
    media_type = _pdf_media_type(ctx)
    if media_type is None:
        return visit_reports.handling_report(ticket_id, ctx.principal)
    return _download(*visit_reports.handling_pdf(ticket_id, ctx.principal), media_type)
