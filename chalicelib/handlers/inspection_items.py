"""An inspection visit's checklists and readings, its sign-off and completion, its report, a room's light
trend and a contract's light targets (issue 12.3-12.5, 12.7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Response

from chalicelib.auth import STAFF, Role
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.handlers.visit_reports import WITH_SCHOOL_STAFF, _download, _pdf_media_type
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas_inspection_items import (
        InspectionCompletionOut,
        InspectionItemOut,
        InspectionPhotosOut,
        InspectionReportOut,
        LightTargetsOut,
        RoomLightTrendOut,
    )
    from chalicelib.schemas_sign_off import SignOffRequestOut, TicketPhotoUploadOut
    from chalicelib.services import inspection_items, inspection_reports
else:
    inspection_items = lazy_module("chalicelib.services.inspection_items")
    inspection_reports = lazy_module("chalicelib.services.inspection_reports")

api = Api(__name__)

FIELD = [Role.ENGINEER, Role.EXPERT]
TARGET_SETTERS = [Role.ADMIN, Role.PROJECT_LEAD, Role.TECHNICAL_MANAGER]


@api.route(
    "/inspection-visits/{visit_id}/items",
    "POST",
    operation_id="recordInspectionItem",
    response="InspectionItemOut",
    roles=FIELD,
    body="InspectionItemIn",
    guarded=True,
)
def record_inspection_item(ctx: RequestContext, visit_id: str) -> InspectionItemOut:
    """A lamp's checklist or a classroom's light readings, answered with the verdict.

    `kind: lamp` with `lamp_id` and `checks` (lit, flicker, damaged, controller_ok, clean); `kind: room` with
    `room_id` and `readings` (desk and blackboard illuminance and uniformity, Ra, visible flicker), judged
    against GB 7793's targets (desk >= 300 lx, >= 0.7; blackboard >= 500 lx, >= 0.8; Ra >= 80; no visible
    flicker) unless the contract changed them. A broken lamp or a non-compliant room not fixed on the spot
    (`fixed_on_spot`) is a finding: completing the visit opens a ticket for it. By the engineer the visit is
    assigned to, while it is in progress; the same lamp or room recorded again replaces the earlier item.
    """
    return inspection_items.record_item(visit_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/inspection-visits/{visit_id}/photo-uploads",
    "POST",
    operation_id="createInspectionPhotoUpload",
    response="TicketPhotoUploadOut",
    roles=FIELD,
    body="TicketPhotoUploadIn",
    status=201,
    guarded=True,
)
def create_inspection_photo_upload(ctx: RequestContext, visit_id: str) -> TicketPhotoUploadOut:
    """A presigned POST for a photo of the visit, as for a ticket's visit photo (createTicketPhotoUpload).

    Upload the file with it straight to storage, then attachInspectionPhoto. By the assigned engineer
    while the visit is in progress.
    """
    return inspection_items.create_photo_upload(visit_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/inspection-visits/{visit_id}/photos",
    "POST",
    operation_id="attachInspectionPhoto",
    response="InspectionPhotosOut",
    roles=FIELD,
    body="AttachTicketPhotoIn",
    status=201,
    guarded=True,
)
def attach_inspection_photo(ctx: RequestContext, visit_id: str) -> InspectionPhotosOut:
    """Attaches an uploaded photo to the visit once it is checked (exists, at most 10 MB, a real image).

    The report lists the visit's photos with links valid for 15 minutes.
    """
    return inspection_items.attach_photo(visit_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/inspection-visits/{visit_id}/sign-off-requests",
    "POST",
    operation_id="requestInspectionSignOff",
    response="SignOffRequestOut",
    roles=FIELD,
    body="SignOffRequestIn",
    status=201,
    guarded=True,
)
def request_inspection_sign_off(ctx: RequestContext, visit_id: str) -> SignOffRequestOut:
    """The school's sign-off of the visit, asked for like a ticket's (requestSignOff).

    `otp`: a 6-digit code by SMS to the school's contact on record (valid 10 minutes, 5 attempts);
    `signature`: an upload form for the contact's signature (PNG). Then completeInspectionVisit.
    """
    return inspection_items.request_visit_sign_off(visit_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/inspection-visits/{visit_id}/complete",
    "POST",
    operation_id="completeInspectionVisit",
    response="InspectionCompletionOut",
    roles=FIELD,
    body="CompleteInspectionVisitIn",
    guarded=True,
)
def complete_inspection_visit(ctx: RequestContext, visit_id: str) -> InspectionCompletionOut:
    """Completes the visit with the school's sign-off; each finding becomes a ticket (D-S6).

    The sign-off is checked as a ticket's (the code, or the uploaded signature). Each finding opens a ticket
    (source `inspection`, the contract's normal SLA) linked to the visit and its lamp or room. A retry with
    the same Idempotency-Key is answered with the first answer and opens nothing twice.
    """
    return inspection_items.complete_visit(visit_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/inspection-visits/{visit_id}/report",
    "GET",
    operation_id="getInspectionReport",
    response="InspectionReportOut",
    roles=WITH_SCHOOL_STAFF,
    query="VisitReportQuery",
)
def get_inspection_report(ctx: RequestContext, visit_id: str) -> InspectionReportOut | Response:
    """The visit's report for the school's managers (巡检反馈信息单), as JSON or an A4 PDF.

    Every lamp's condition, the rooms' readings against their targets, what was fixed on the spot, the
    findings' tickets still open, the school's sign-off, and for end-of-semester rounds the semester's
    evaluation (D-I3). The school's staff read their own school's; another school's visit is 404. The PDF
    comes with `Accept: application/pdf` or `?format=pdf`.
    """
    media_type = _pdf_media_type(ctx)
    if media_type is None:
        return inspection_reports.report(visit_id, ctx.principal)
    return _download(*inspection_reports.report_pdf(visit_id, ctx.principal), media_type)


@api.route(
    "/schools/{school_id}/rooms/{room_id}/light-trend",
    "GET",
    operation_id="getRoomLightTrend",
    response="RoomLightTrendOut",
    roles=WITH_SCHOOL_STAFF,
)
def get_room_light_trend(ctx: RequestContext, school_id: str, room_id: str) -> RoomLightTrendOut:
    """A classroom's light readings over time, a least-squares slope per measure and where it crosses the target.

    `flag`: `heading_below` when the readings still meet the target but the fitted line reaches it within
    180 days (`projected_crossing_on`), so the lamps are seen to before the room falls below; `below_target`
    when the latest reading is under it. The school's staff read their own school's rooms.
    """
    return inspection_items.room_light_trend(school_id, room_id, ctx.principal)


@api.route(
    "/contracts/{contract_id}/light-targets",
    "GET",
    operation_id="getLightTargets",
    response="LightTargetsOut",
    roles=STAFF,
)
def get_light_targets(ctx: RequestContext, contract_id: str) -> LightTargetsOut:
    """The light targets a contract's rooms are judged against: GB 7793's, with the contract's changes."""
    return inspection_items.get_light_targets(contract_id)


@api.route(
    "/contracts/{contract_id}/light-targets",
    "PUT",
    operation_id="putLightTargets",
    response="LightTargetsOut",
    roles=TARGET_SETTERS,
    body="LightTargetsIn",
)
def put_light_targets(ctx: RequestContext, contract_id: str) -> LightTargetsOut:
    """Changes a contract's light targets (the measures named; the rest stay GB 7793's).

    Send the `version` read (null for a contract's first change): a stale one is 409 `stale_version`.
    Readings already recorded keep the targets they were judged against.
    """
    return inspection_items.put_light_targets(contract_id, ctx.body, ctx.principal)
