"""An inspection visit's checklist items, its completion and report, a room's light trend and a contract's
light targets (issue 12.3, 12.4, 12.5, 12.7; D-I3..D-I5): requests and answers.

Re-exported by `chalicelib.schemas`, so routes name them like every other schema.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from chalicelib.domain.assets import Code
from chalicelib.domain.inspection_checks import Measure, TrendFlag
from chalicelib.domain.types import Id, Note
from chalicelib.schemas_sign_off import SignOffIn, TicketPhotoOut


class ItemKind(StrEnum):
    LAMP = "lamp"
    ROOM = "room"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, from_attributes=True)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-11-24T09:30:00+08:00")
    return value


MAX_LUX = 100_000.0  # direct sunlight; anything above is a typo


class LampChecksIn(_In):
    """The lamp checklist (D-I3, D-I5); each true when the lamp passes, except `flicker` and `damaged`."""

    lit: bool = Field(description="The lamp lights when switched on.")
    flicker: bool = Field(description="Visible flicker.")
    damaged: bool = Field(description="Cracked diffuser, loose fitting, burn marks.")
    controller_ok: bool = Field(description="The controller / driver switches and dims as it should.")
    clean: bool = Field(description="Diffuser and fitting clean (dust cuts light).")


class RoomReadingsIn(_In):
    """Measured readings of a classroom; leave out what was not measured (it is then not judged)."""

    desk_lux: float | None = Field(default=None, ge=0, le=MAX_LUX, description="Average desk illuminance, lx.")
    desk_uniformity: float | None = Field(default=None, ge=0, le=1, description="Desk uniformity (min / avg).")
    board_lux: float | None = Field(default=None, ge=0, le=MAX_LUX, description="Average blackboard illuminance, lx.")
    board_uniformity: float | None = Field(default=None, ge=0, le=1, description="Blackboard uniformity.")
    ra: float | None = Field(default=None, ge=0, le=100, description="Colour rendering index Ra.")
    flicker_visible: bool = Field(default=False, description="Visible flicker in the room.")


class InspectionItemIn(_In):
    kind: ItemKind = Field(description="lamp: a lamp's checklist; room: a classroom's readings.")
    lamp_id: Id | None = Field(default=None, validate_default=True, description="kind lamp: the lamp checked.")
    room_id: Code | None = Field(default=None, validate_default=True, description="kind room: the room measured.")
    checks: LampChecksIn | None = Field(default=None, validate_default=True, description="kind lamp.")
    readings: RoomReadingsIn | None = Field(default=None, validate_default=True, description="kind room.")
    fixed_on_spot: Note = Field(
        default="", description="What was fixed there and then; a fault fixed on the spot becomes no ticket."
    )
    note: Note = ""
    device_at: dt.datetime | None = Field(default=None, description="The phone's time, with a time zone.")

    _device_at = field_validator("device_at")(_aware)

    @field_validator("lamp_id", "checks")
    @classmethod
    def _for_lamp(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("kind")
        if kind == ItemKind.LAMP and value is None:
            raise ValueError("required for kind lamp")
        if kind == ItemKind.ROOM and value is not None:
            raise ValueError("only for kind lamp")
        return value

    @field_validator("room_id", "readings")
    @classmethod
    def _for_room(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("kind")
        if kind == ItemKind.ROOM and value is None:
            raise ValueError("required for kind room")
        if kind == ItemKind.LAMP and value is not None:
            raise ValueError("only for kind room")
        return value


class MeasureOut(_Out):
    measure: Measure
    label: str = Field(description="The measure's Chinese name, as the report prints it.")
    value: float | None = Field(description="null: not measured.")
    minimum: float = Field(description="The target: GB 7793's unless the contract changed it.")
    unit: str
    ok: bool | None = Field(description="null: not measured, so not judged.")


class InspectionItemOut(_Out):
    visit_id: str
    item_key: str = Field(description="lamp#<lamp_id> or room#<room_id>: one item per lamp or room per visit.")
    kind: ItemKind
    school_id: str
    lamp_id: str | None
    room_id: str | None
    checks: LampChecksIn | None
    readings: RoomReadingsIn | None
    ok: bool = Field(description="lamp: every check passed; room: compliant with every target.")
    problems: list[str] = Field(
        description="lamp: not_lit, damaged, controller_fault, flicker, dirty; room: the measures below "
        "target and flicker."
    )
    measures: list[MeasureOut] = Field(description="room: each reading against its target.")
    targets_source: str | None = Field(description="room: GB 7793, or contract when the contract changed a target.")
    finding: bool = Field(description="A fault not fixed on the spot: completing the visit opens a ticket (D-S6).")
    category: str | None = Field(description="The finding's ticket category.")
    fixed_on_spot: str
    note: str
    recorded_by: str
    recorded_at: dt.datetime
    device_at: dt.datetime | None
    ticket_id: str | None = Field(default=None, description="The finding's ticket, once the visit is completed.")


class InspectionPhotosOut(_Out):
    visit_id: str
    version: int = Field(description="The visit's version after the change.")
    items: list[TicketPhotoOut]


class CompleteInspectionVisitIn(_In):
    sign_off: SignOffIn = Field(
        description="The school's sign-off, as for a ticket (signOff): the code from requestInspectionSignOff, "
        "or the signature uploaded with its form."
    )
    evaluation: Note = Field(
        default="", description="End-of-semester rounds (D-I3): the semester's evaluation, printed in the report."
    )
    device_at: dt.datetime | None = Field(default=None, description="The phone's time, with a time zone.")

    _device_at = field_validator("device_at")(_aware)


class FindingOut(_Out):
    item_key: str
    kind: ItemKind
    lamp_id: str | None
    room_id: str | None
    category: str
    ticket_id: str
    ticket_ref: str


class InspectionSignOffOut(_Out):
    method: str
    signer_name: str
    signer_role: str
    at: dt.datetime
    sent_to: str | None = Field(description="otp: the masked number the code went to.")
    lat: float | None
    lon: float | None
    satisfaction: int | None
    comment: str


class InspectionCompletionOut(_Out):
    visit_id: str
    status: Literal["completed"]
    completed_at: dt.datetime
    findings: list[FindingOut] = Field(description="One ticket per finding, linked to the visit and the lamp / room.")
    sign_off: InspectionSignOffOut


class ReportVisitOut(_Out):
    visit_id: str
    school_id: str
    school_name: str
    contract_id: str
    style: str
    period: str
    window_start: dt.date | None
    due_on: dt.date | None
    status: str
    assignee_id: str | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None


class ReportLampOut(_Out):
    lamp_id: str
    asset_no: str
    room_id: str
    room_name: str
    position: str
    ok: bool
    problems: list[str]
    fixed_on_spot: str
    note: str
    ticket_id: str | None
    ticket_ref: str | None


class ReportRoomOut(_Out):
    room_id: str
    room_name: str
    compliant: bool
    measures: list[MeasureOut]
    flicker_visible: bool
    fixed_on_spot: str
    note: str
    ticket_id: str | None
    ticket_ref: str | None


class ReportTicketOut(_Out):
    ticket_id: str
    ref: str
    status: str
    category: str
    room_id: str
    lamp_ids: list[str]


class SemesterEvaluationOut(_Out):
    lamps_in_school: int = Field(description="Lamps installed in the school now.")
    lamps_inspected: int
    lamps_ok: int
    fixed_on_spot: int
    tickets_opened: int
    rooms_measured: int
    rooms_compliant: int
    evaluation: str = Field(description="The engineer's evaluation of the semester (D-I3).")


class InspectionReportOut(_Out):
    visit: ReportVisitOut
    targets_source: str
    targets: list[MeasureOut] = Field(description="The targets the rooms were judged against (value: null).")
    lamps: list[ReportLampOut] = Field(description="Every lamp checked, its condition.")
    rooms: list[ReportRoomOut] = Field(description="Every room measured, its readings against the targets.")
    fixed_on_spot: list[str] = Field(description="What was fixed on the spot, one line per lamp or room.")
    open_tickets: list[ReportTicketOut] = Field(description="The visit's findings' tickets that are still open.")
    photos: list[TicketPhotoOut] = Field(description="The visit's photos, with links valid for 15 minutes.")
    semester_evaluation: SemesterEvaluationOut | None = Field(description="End-of-semester rounds only (D-I3).")
    sign_off: InspectionSignOffOut | None = Field(description="The school's sign-off; null before completion.")


class InspectionReportQuery(_In):
    format: Literal["json", "pdf"] | None = Field(
        default=None, description="pdf: the A4 report for the school's managers (as `Accept: application/pdf`)."
    )


class ReadingOut(_Out):
    visit_id: str
    measured_at: dt.datetime
    values: dict[str, float | None]
    flicker_visible: bool
    compliant: bool


class MeasureTrendOut(_Out):
    measure: Measure
    minimum: float
    unit: str
    readings: int
    slope_per_day: float | None = Field(description="Least-squares slope, units per day; null: fewer than 2 days.")
    slope_per_30_days: float | None
    latest: float | None
    projected_crossing_on: dt.date | None = Field(
        description="When the fitted line reaches the target (falling trends only); may be in the past."
    )
    flag: TrendFlag


class RoomLightTrendOut(_Out):
    school_id: str
    room_id: str
    room_name: str
    targets_source: str
    flag: TrendFlag = Field(
        description="The room's worst measure: below_target, heading_below (compliant now, the fitted line "
        "crosses the target within 180 days), ok, insufficient_data."
    )
    readings: list[ReadingOut] = Field(description="Oldest first, one per visit.")
    trends: list[MeasureTrendOut]


class LightTargetMinimumsIn(_In):
    desk_lux: float | None = Field(default=None, ge=0, le=MAX_LUX)
    desk_uniformity: float | None = Field(default=None, ge=0, le=1)
    board_lux: float | None = Field(default=None, ge=0, le=MAX_LUX)
    board_uniformity: float | None = Field(default=None, ge=0, le=1)
    ra: float | None = Field(default=None, ge=0, le=100)


class LightTargetsIn(_In):
    minimums: LightTargetMinimumsIn = Field(description="The measures this contract changes; the rest stay GB 7793's.")
    flicker_allowed: bool | None = Field(default=None, description="null: GB 7793's (no visible flicker).")
    note: Note = ""
    version: int | None = Field(default=None, ge=1, description="The version read; null for a contract's first.")


class LightTargetsOut(_Out):
    contract_id: str
    source: str
    targets: list[MeasureOut] = Field(description="Every measure's target now (value: null).")
    overrides: dict[str, float] = Field(description="The measures the contract changed.")
    flicker_allowed: bool
    note: str
    version: int = Field(description="0: the contract has no changes.")
    updated_at: dt.datetime | None
    updated_by: str | None
