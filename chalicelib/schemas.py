"""Every shape the API speaks, defined once (pydantic): request bodies and queries (`*In`,
`*Query`), and the responses services return (`*Out`), from which the OpenAPI document is
generated. Unknown request fields are refused, so typos surface as 422.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, field_validator

from chalicelib.domain.assets import Code, Day, LampSpec, LampStatus, OptionalText, Text
from chalicelib.domain.lifecycle import ACTIONS, Status, TicketChange
from chalicelib.domain.policy import Colour, ServicePolicy, WarrantyTerms, default_policy
from chalicelib.domain.public_reports import MAX_PHOTOS, PHOTO_MAX_BYTES, Fault, Stage
from chalicelib.domain.tickets import MAX_LAMPS_PER_TICKET, Category, Source
from chalicelib.domain.types import Id, Level, Note
from chalicelib.schemas_inspection_items import (  # noqa: F401 - inspection checklists, readings, reports (issue 12)
    CompleteInspectionVisitIn,
    InspectionCompletionOut,
    InspectionItemIn,
    InspectionItemOut,
    InspectionPhotosOut,
    InspectionReportOut,
    LightTargetsIn,
    LightTargetsOut,
    RoomLightTrendOut,
)
from chalicelib.schemas_inspections import (  # noqa: F401 - inspection rounds: plans, calendars, visits (issue 12)
    AssignInspectionVisitIn,
    InspectionPlanIn,
    InspectionPlanOut,
    InspectionPlanSchoolIn,
    InspectionPlanSchoolOut,
    InspectionVisitOut,
    InspectionVisitPageOut,
    InspectionVisitQuery,
    SchoolCalendarIn,
    SchoolCalendarOut,
    SemesterIn,
    SemesterOut,
    StartInspectionVisitIn,
)
from chalicelib.schemas_open311 import (  # noqa: F401 - Open311 GeoReport v2's own shapes, named like every other
    Open311CreatedListOut,
    Open311CreatedOut,
    Open311DiscoveryOut,
    Open311EndpointOut,
    Open311ErrorOut,
    Open311ErrorsOut,
    Open311RequestIn,
    Open311RequestOut,
    Open311RequestsOut,
    Open311RequestsQuery,
    Open311ServiceOut,
    Open311ServicesOut,
)
from chalicelib.schemas_parts import (  # noqa: F401 - parts and stock (issue 11.6), named like every other
    LocationIn,
    LocationListQuery,
    LocationOut,
    LocationPageOut,
    MoveStockIn,
    PartIn,
    PartListQuery,
    PartOut,
    PartPageOut,
    PartUpdateIn,
    StockLevelOut,
    StockMovementLegOut,
    StockMovementOut,
    StockMovementPageOut,
    StockOut,
    TicketPartOut,
    TicketPartsOut,
)
from chalicelib.schemas_reports import (  # noqa: F401 - reports (issue 13), named like every other
    EngineerReportOut,
    FaultTrendsOut,
    PartsReportOut,
    ReportQuery,
    SchoolMonthlyQuery,
    SchoolMonthlyReportOut,
    SlaReportOut,
)
from chalicelib.schemas_sign_off import (  # noqa: F401 - visit photos and sign-off (issue 11.4, 11.8)
    AttachTicketPhotoIn,
    SignOffIn,
    SignOffRequestIn,
    SignOffRequestOut,
    TicketPhotosOut,
    TicketPhotoUploadIn,
    TicketPhotoUploadOut,
)
from chalicelib.schemas_sla import (  # noqa: F401 - the ticket's SLA view (issue 10), named like every other
    SlaMilestoneOut,
    SlaNotificationOut,
    SlaRecordOut,
    TicketSlaViewOut,
)
from chalicelib.schemas_visit import (  # noqa: F401 - the engineer's visit (issue 11), named like every other
    AcknowledgeIn,
    ChangesQuery,
    CheckInIn,
    CheckInOut,
    CheckOutIn,
    CheckOutOut,
    HistoryLineOut,
    PartToBringOut,
    PartUsedIn,
    PartUsedOut,
    RecordWorkIn,
    SiteOut,
    StartTravelIn,
    SwapIn,
    SwapOut,
    TravelOut,
    VisitMessageOut,
    VisitOut,
    WorkOut,
    WorkQuery,
)
from chalicelib.schemas_visit_reports import (  # noqa: F401 - a visit's reports (issue 11.7), named like every other
    FaultHandlingReportOut,
    FaultTechnicalReportOut,
    VisitReportQuery,
)

# A light check on purpose: email_validator + dnspython would cost ~60 ms of every cold start.
# Empty means "no email"; one pattern rather than a union, so an error names just the field.
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


ImportMode = Literal["partial", "all_or_nothing"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class PageQuery(Strict):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)


class ContractIn(Strict):
    code: Code
    name: Text
    customer: OptionalText = ""
    policy: ServicePolicy = Field(default_factory=default_policy)
    warranty: WarrantyTerms = Field(default_factory=WarrantyTerms)


class Contact(Strict):
    name: Text
    role: OptionalText = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)] = ""
    email: Email = ""


class SchoolIn(Strict):
    contract_id: Id
    code: Code
    name: Text
    address: Text
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    province: OptionalText = Field(default="", description="For in-province / out-of-province SLA terms (D-S5).")
    contacts: list[Contact] = Field(default_factory=list, max_length=20)
    hazards: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=50
    )
    geofence_m: int | None = Field(
        default=None, ge=50, le=5000, description="The check-in fence's radius in metres (issue 11.3); default 300."
    )


class SchoolListQuery(PageQuery):
    contract_id: Id | None = None


class LampIn(LampSpec):
    school_id: Id


class LampListQuery(PageQuery):
    room_id: Code | None = None


class ImportQuery(Strict):
    mode: ImportMode = "partial"


class LabelsQuery(Strict):
    room_id: Code | None = None


class LampReplacementIn(Strict):
    serial: Code
    model: Text | None = None
    batch: OptionalText = ""
    installed_on: Day
    reason: Note = ""
    ticket_id: Id | None = None


class Reporter(Strict):
    name: OptionalText = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)] = ""
    role: OptionalText = ""


class TicketIn(Strict):
    source: Source
    school_id: Id
    room_id: Code | None = None
    lamp_ids: list[Id] = Field(default_factory=list, max_length=MAX_LAMPS_PER_TICKET)
    category: Category
    level: int | None = Field(default=None, ge=1, le=4)
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    reporter: Reporter = Field(default_factory=Reporter)


class TicketListQuery(PageQuery):
    """One or two of school_id, assignee_id, status and level (each combination is its own index)."""

    school_id: Id | None = None
    assignee_id: Id | None = None
    status: Status | None = None
    level: Level | None = None


class TransitionHead(BaseModel):
    """What every change has: validated alone when `action` names no action, so that the refusal
    lists the actions there are (and any problem with `version`) instead of a union's noise."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    action: str
    version: int = Field(ge=1)

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if value not in ACTIONS:
            raise ValueError(f"must be one of: {', '.join(ACTIONS)}")
        return value


class TransitionIn(RootModel[TicketChange]):
    """One request model per action, told apart by `action` (see the lifecycle table)."""

    model_config = ConfigDict(defer_build=True)

    @classmethod
    def variant_for(cls, data: object) -> type[BaseModel]:
        """The model to validate a decoded body with: its action's own, so that errors name plain
        fields (`assignee_id`, not `assign.assignee_id`); `TransitionHead` when `action` is unknown."""
        action = data.get("action") if isinstance(data, dict) else None
        spec = ACTIONS.get(action) if isinstance(action, str) else None
        return spec.request if spec else TransitionHead

    @classmethod
    def from_variant(cls, change: BaseModel) -> TransitionIn:
        return cls(root=change)  # type: ignore[arg-type]


# ---- responses ------------------------------------------------------------------------------
# Fields without a default are always present (null where typed so); fields with a default are
# present only when the service set them (serialised with exclude_unset).


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, from_attributes=True)


class HealthTablesOut(Out):
    reachable: bool
    problem: str = Field(default="", description="Why the tables do not answer; only when they do not.")


class HealthOut(Out):
    status: Literal["ok", "degraded"]
    version: str
    stage: str
    tables: HealthTablesOut


class FieldProblemOut(Out):
    field: str
    problem: str


class ImportRowErrorOut(Out):
    row: int = Field(description="1 is the header row; data starts at 2.")
    column: str
    problem: str


class ErrorDetailOut(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    code: str = Field(
        description="Stable, machine-readable: branch on this, not on the message.",
        examples=["validation_failed", "stale_version", "illegal_transition"],
    )
    message: str = Field(description="For people; may change wording.")
    details: list[FieldProblemOut] = Field(description="At most 20; `more_details` counts the rest.")
    more_details: int = Field(default=0, description="How many further problems were left out of `details`.")
    current_version: int = Field(default=0, description="stale_version: the version to reload.")
    current_status: str = Field(default="", description="illegal_transition: the ticket's state now.")
    allowed_actions: list[str] = Field(
        default_factory=list, description="illegal_transition: what this user may do from the current state."
    )
    required_roles: list[str] = Field(default_factory=list, description="forbidden: one of these roles is needed.")
    rows: list[ImportRowErrorOut] = Field(default_factory=list, description="import_rejected: every bad row.")


class ErrorOut(Out):
    error: ErrorDetailOut


class ContractOut(Out):
    contract_id: str
    code: str
    name: str
    customer: str
    policy: ServicePolicy
    warranty: WarrantyTerms
    created_at: dt.datetime


class SlaPolicyIn(Strict):
    revision: int = Field(
        ge=1, description="The revision this edit is based on (getSlaPolicy); an older one is 409 stale_version."
    )
    policy: ServicePolicy


class SlaPolicyOut(Out):
    contract_id: str
    revision: int = Field(description="1 as the contract was created; each putSlaPolicy adds one.")
    updated_at: dt.datetime = Field(description="When this revision took effect: tickets reported since use it.")
    updated_by: str | None = Field(description="Who wrote it; null for the contract's first policy.")
    policy: ServicePolicy


class ContactOut(Out):
    name: str
    role: str
    phone: str
    email: str


class SchoolOut(Out):
    school_id: str
    contract_id: str
    code: str
    name: str
    address: str
    latitude: float
    longitude: float
    province: str | None = Field(default=None, description="Compared with the service centre's (D-S5).")
    contacts: list[ContactOut]
    hazards: list[str] = Field(description="Site hazard notes shown to engineers (D-O5).")
    created_at: dt.datetime


class RoomOut(Out):
    room_id: str
    building: str
    floor: str
    name: str


class SchoolWithRoomsOut(SchoolOut):
    rooms: list[RoomOut]


class LampWarrantyOut(Out):
    years: float
    extension_days: int
    ends_on: dt.date
    in_warranty: bool


class LampOut(Out):
    lamp_id: str
    asset_no: str = Field(description="Printed on the label, e.g. SCH01-0007 (D-A1).")
    school_id: str
    room_id: str
    position: str
    model: str
    serial: str
    batch: str
    configuration: str
    installed_on: dt.date
    accepted_on: dt.date
    warranty: LampWarrantyOut
    status: LampStatus
    has_open_fault: bool
    open_tickets: int
    qr_token: str = Field(description="128 random bits; rotating it invalidates the printed label.")
    report_url: str = Field(json_schema_extra={"format": "uri"})
    predecessor_id: str | None = Field(description="The unit this one replaced.")
    successor_id: str | None = Field(description="The unit that replaced this one.")
    created_at: dt.datetime


class LampHistoryEntryOut(Out):
    at: dt.datetime
    kind: str = Field(examples=["registered", "ticket_opened", "ticket_resolve", "qr_rotated", "replaced"])
    ref: str = Field(description="The ticket reference or the other lamp's id, if any.")
    actor: str
    summary: str
    data: dict[str, Any]


class LampReplacementOut(Out):
    replaced: LampOut
    successor: LampOut


class QrLampOut(Out):
    asset_no: str
    room_id: str
    position: str
    model: str
    has_open_fault: bool


class QrSchoolOut(Out):
    name: str


class QrResolutionOut(Out):
    lamp: QrLampOut
    school: QrSchoolOut
    report_url: str = Field(json_schema_extra={"format": "uri"})


class ImportReportOut(Out):
    mode: ImportMode
    rows: int = Field(description="Non-empty data rows read.")
    created: int
    unchanged: int = Field(description="Serials already registered at this school (idempotent re-import).")
    failed: int = Field(description="Rows with at least one error; not imported.")
    errors: list[ImportRowErrorOut]


class TicketSlaOut(Out):
    response_met: bool | None
    onsite_met: bool | None


class TicketContactOut(Out):
    phone: str = Field(description="Masked (138****5678) except on the ticket to its dispatcher and assigned engineer.")
    at: dt.datetime = Field(description="When the reporter left it.")


class TicketOut(Out):
    ticket_id: str
    ref: str = Field(pattern=r"^T-\d{4}-\d{6}$", description="Human-friendly, sequential per year.")
    public_ref: str = Field(description="Unguessable; given to the reporter to follow the case.")
    version: int = Field(description="Send it back with every transition (optimistic locking).")
    status: Status
    source: Source
    category: Category
    level: Level
    colour: Colour
    level_confirmed: bool = Field(description="False until a dispatcher triages the reported level.")
    school_id: str
    room_id: str | None
    lamp_ids: list[str]
    description: str
    photos: list[str]
    reporter: dict[str, Any] = Field(
        description="name, phone, role. The phone is personal data: shown in full on the ticket to dispatchers, "
        "admins and the assigned engineer, masked for everyone else and in every list."
    )
    contacts: list[TicketContactOut] = Field(
        default_factory=list, description="Phones reporters left when joining the case, masked as `reporter.phone`."
    )
    assignee_id: str | None
    owner_id: str | None
    merged_into: str | None
    reported_at: dt.datetime
    response_due: dt.datetime
    onsite_due: dt.datetime
    resolution_due: dt.datetime | None = Field(
        default=None, description="Only when the contract sets a resolution target (D-S5, D-S8)."
    )
    eta: dt.datetime | None
    milestones: dict[str, str] = Field(description="e.g. acknowledged_at, on_site_at, resolved_at, signed_off_at.")
    resolution: dict[str, Any] | None
    sign_off: dict[str, Any] | None
    sla: TicketSlaOut
    updated_at: dt.datetime
    suggested_level: int | None = Field(
        description="For a school's report: the level the rules suggested (D-S3); `level` is the one confirmed."
    )
    report_count: int = Field(description="Reports this case gathered (a scan of a lamp with an open case joins it).")
    allowed_actions: list[str] = Field(default_factory=list, description="What the caller may do next.")
    visit: VisitOut | None = Field(
        default=None, description="The engineer's visit (issue 11): travel, check-in, work, check-out."
    )


class MyWorkItemOut(Out):
    ticket: TicketOut
    site: SiteOut | None = Field(description="The school: address, GPS, geofence, hazards (D-O5).")
    lamp_history: list[HistoryLineOut] = Field(description="The latest lines of the ticket's lamps' history (D-S7).")
    parts_to_bring: list[PartToBringOut] = Field(description="Parts that fit the ticket's lamp models (D-O1).")


class MyWorkPageOut(Out):
    items: list[MyWorkItemOut]
    next_cursor: str | None
    inspection_visits: list[InspectionVisitOut] = Field(
        default_factory=list,
        description="Your open inspection visits (assigned, in progress), nearest due first (D-I4): on the first "
        "page only.",
    )


class ChangesOut(Out):
    items: list[TicketOut] = Field(description="Tickets changed since the cursor, oldest change first.")
    next_cursor: str = Field(description="Send it with the next call; opaque.")
    has_more: bool = Field(description="True: call again at once with `next_cursor`.")


class TicketEventOut(Out):
    seq: int
    at: dt.datetime
    actor: str
    actor_role: str
    action: str
    from_status: str | None
    to_status: str
    before: dict[str, Any]
    after: dict[str, Any]
    note: str


class PageOut(Out):
    next_cursor: str | None = Field(
        description="Opaque. Pass it back as `cursor` for the next page; null on the last page."
    )


class SchoolPageOut(PageOut):
    items: list[SchoolOut]


class LampPageOut(PageOut):
    items: list[LampOut]


class LampHistoryLampOut(Out):
    lamp_id: str
    asset_no: str
    status: LampStatus
    predecessor_id: str | None = Field(description="The unit this one replaced.")
    successor_id: str | None = Field(description="The unit that replaced this one.")


class LampHistoryPageOut(PageOut):
    items: list[LampHistoryEntryOut]
    lamp: LampHistoryLampOut


class TicketPageOut(PageOut):
    items: list[TicketOut]


class TicketEventPageOut(PageOut):
    items: list[TicketEventOut]


# ---- the school's side: scan, report, follow (D-S6, no account) -------------------------------

Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=30, pattern=r"^$|^\+?[0-9][0-9 ()-]{4,28}[0-9]$")
]


class PublicReportIn(Strict):
    fault: Fault
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    photo_ids: list[Id] = Field(
        default_factory=list, max_length=MAX_PHOTOS, description="From createPublicPhotoUpload."
    )
    contact_phone: Phone = Field(default="", description="Optional; shown only to the dispatcher and the engineer.")
    website: Annotated[str, StringConstraints(max_length=200)] = Field(
        default="", description="Leave empty: a field people never see, filled only by bots."
    )


class PhotoUploadIn(Strict):
    content_type: Literal["image/jpeg", "image/png", "image/heic", "image/webp"]
    size: int = Field(ge=1, le=PHOTO_MAX_BYTES, description="Bytes; at most 10 MB.")


class PresignedPostOut(Out):
    url: str
    fields: dict[str, str] = Field(description="Send them, then the file as `file`, in a multipart/form-data POST.")
    expires_at: dt.datetime


class PhotoUploadOut(Out):
    photo_id: str
    upload: PresignedPostOut


class PublicReportOut(Out):
    reference: str = Field(description="Quote it on the phone: T-2026-000123.")
    public_ref: str = Field(description="The reporter's handle on the case: /s/{public_ref} shows its progress.")
    status_url: str = Field(json_schema_extra={"format": "uri"})
    joined: bool = Field(description="True when the report joined a case that was already open.")
    report_count: int
    stage: Stage
    reported_at: dt.datetime
    expected_by: dt.datetime | None = Field(description="When an engineer is expected on site.")


class PublicStatusStepOut(Out):
    at: dt.datetime
    stage: Stage


class PublicStatusOut(Out):
    reference: str
    stage: Stage
    school: str
    room_id: str | None
    asset_no: str | None
    reported_at: dt.datetime
    expected_by: dt.datetime | None
    report_count: int
    history: list[PublicStatusStepOut]
