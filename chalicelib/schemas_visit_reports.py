"""The reports of a visit (issue 11.7, D-S1): `getFaultTechnicalReport` and `getFaultHandlingReport`, as JSON
(these models) or as an A4 PDF with the same content.

A report can be pulled at any stage after check-in: every part of the visit not recorded yet is null (a
list is empty) and named in `missing`; the PDF prints 未填写 there. The handling report goes to the school,
so it leaves out what only the supplier needs (positions, stock locations, user ids); neither report carries
a phone number.

Re-exported by `chalicelib.schemas`, so routes name them like every other schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.lifecycle import Status
from chalicelib.domain.policy import Colour
from chalicelib.domain.types import Level

MilestoneName = Literal["response", "onsite", "resolution"]
VisitPart = Literal["travel", "check_in", "work", "photos", "sign_off", "check_out"]
ReportFormat = Literal["json", "pdf"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, from_attributes=True)


class VisitReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    format: ReportFormat | None = Field(
        default=None,
        description="pdf: the printable A4 report (as `Accept: application/pdf` asks); json: these fields. "
        "Without it the Accept header decides, JSON by default.",
    )


class ReportSchoolOut(_Out):
    school_id: str
    name: str
    address: str | None


class ReportRoomOut(_Out):
    room_id: str
    building: str | None
    floor: str | None
    name: str | None


class ReportLampOut(_Out):
    lamp_id: str
    asset_no: str | None = Field(description="The number on the lamp's label (D-A1).")
    serial: str | None
    model: str | None
    room_id: str | None
    position: str | None
    state: str | None = Field(description="The lamp's state now: in_service, replaced (by a swap), retired.")


class ReportMilestoneOut(_Out):
    milestone: MilestoneName = Field(description="response: acknowledged; onsite: checked in on site; resolution.")
    deadline: dt.datetime | None = Field(description="None: the contract sets no target for it.")
    met_at: dt.datetime | None
    met_in_time: bool | None = Field(description="None while it is not met or has no deadline.")
    lateness_seconds: float | None = Field(
        description="How late it was met, or is so far when unmet and past its deadline; None when not late."
    )


class ReportTravelOut(_Out):
    started_at: dt.datetime | None = Field(description="When the engineer set off (server time).")
    eta: dt.datetime | None = Field(description="The expected arrival the school was told (D-S7).")
    device_at: dt.datetime | None = Field(description="The phone's clock when it set off.")


class ReportCheckInOut(_Out):
    at: dt.datetime | None = Field(description="Server time: the on-site milestone.")
    device_at: dt.datetime | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    distance_m: float | None = Field(description="From the school's position.")
    inside_fence: bool | None = Field(description="False: checked in outside the school's geofence (flagged).")
    device_clock_ok: bool | None = Field(description="False: the phone's clock was far from the server's.")


class ReportCheckOutOut(_Out):
    at: dt.datetime | None
    device_at: dt.datetime | None


class ReportSwapOut(_Out):
    old_serial: str | None = Field(description="The unit taken out (D-A2: its history is kept).")
    new_serial: str | None
    new_lamp_id: str | None


class ReportPartOut(_Out):
    sku: str | None
    name: str | None
    qty: int | None


class TechnicalPartOut(ReportPartOut):
    location_id: str | None = Field(description="The van or depot it was taken from (D-P2).")


class _WorkOut(_Out):
    cause: str | None
    category: str | None = Field(description="D-O3: operation_error, software_error, configuration_error, ...")
    actions: list[str] = Field(description="What was done.")
    swap: ReportSwapOut | None = Field(description="A unit swapped (D-S2), if any.")
    recorded_at: dt.datetime | None


class ReportWorkOut(_WorkOut):
    parts: list[ReportPartOut]


class TechnicalWorkOut(_WorkOut):
    parts: list[TechnicalPartOut]
    by: str | None = Field(description="The user who recorded it.")


class ReportPhotoOut(_Out):
    photo_id: str | None
    stage: str | None = Field(description="before or after the work.")
    content_type: str | None
    size: int | None = Field(description="Bytes.")
    at: dt.datetime | None


class ReportSignOffOut(_Out):
    method: str | None = Field(description="otp: a code sent to the school contact; signature: signed on screen.")
    signer_name: str | None
    signer_role: str | None
    at: dt.datetime | None
    satisfaction: int | None = Field(ge=1, le=5, description="D-O4, 1 to 5.")
    comment: str | None


class TechnicalSignOffOut(ReportSignOffOut):
    lat: float | None
    lon: float | None


class _ReportOut(_Out):
    title: str = Field(description="The report's name as printed.")
    ticket_id: str
    ref: str
    status: Status
    level: Level
    colour: Colour
    category: str = Field(description="As reported.")
    description: str
    reported_at: dt.datetime
    school: ReportSchoolOut
    room: ReportRoomOut | None
    lamps: list[ReportLampOut]
    milestones: list[ReportMilestoneOut] = Field(description="The SLA deadlines and when they were met (D-S3).")
    engineer_name: str | None
    missing: list[VisitPart] = Field(description="The parts of the visit not recorded yet (printed as 未填写).")
    generated_at: dt.datetime


class FaultTechnicalReportOut(_ReportOut):
    """故障技术报告: filled for every visit, archived by the account manager (D-S1)."""

    report: Literal["fault_technical"]
    engineer_id: str | None
    travel: ReportTravelOut | None
    check_in: ReportCheckInOut | None
    work: TechnicalWorkOut | None
    photos: list[ReportPhotoOut]
    sign_off: TechnicalSignOffOut | None
    check_out: ReportCheckOutOut | None


class FaultHandlingReportOut(_ReportOut):
    """故障处理报告: for yellow, orange and red faults, delivered to the school (D-S1)."""

    report: Literal["fault_handling"]
    eta: dt.datetime | None = Field(description="The expected arrival the school was told (D-S7).")
    arrived_at: dt.datetime | None = Field(description="The engineer's check-in.")
    work: ReportWorkOut | None
    photos_before: int = Field(description="How many photos were taken before the work.")
    photos_after: int
    sign_off: ReportSignOffOut | None
    completed_at: dt.datetime | None = Field(description="The engineer's check-out.")
