"""The engineer's visit (issue 11): the app's request bodies and the visit's parts of a ticket.

Every body takes an optional `device_at` (the phone's clock, stored beside the server's) and an optional
`version` (the ticket version the phone based the change on: a stale one is 409 with the current state).
Re-exported by `chalicelib.schemas`, so routes name them like every other schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.types import Id, Note, RequiredNote
from chalicelib.domain.visit import MAX_PARTS_LINES, FaultCategory


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    version: int | None = Field(
        default=None, ge=1, description="The ticket version the change is based on; stale: 409 with the current state."
    )
    device_at: dt.datetime | None = Field(
        default=None, description="When it happened on the phone, with a time zone; stored beside the server's time."
    )
    note: Note = ""

    @field_validator("device_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-11-24T09:30:00+08:00")
        if value is not None and not (1970 <= value.astimezone(dt.UTC).year <= 2999):
            raise ValueError("must be between 1970 and 2999")
        return value


class AcknowledgeIn(_In):
    pass


class StartTravelIn(_In):
    eta: dt.datetime = Field(description="Expected arrival, with a time zone, at most 30 days ahead (D-S7).")

    @field_validator("eta")
    @classmethod
    def _eta_aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-11-24T09:30:00+08:00")
        return value


class CheckInIn(_In):
    lat: float = Field(ge=-90, le=90, description="The phone's GPS latitude (WGS 84).")
    lon: float = Field(ge=-180, le=180, description="The phone's GPS longitude (WGS 84).")
    accuracy_m: float = Field(ge=0, le=100_000, description="The fix's accuracy radius in metres.")


class PartUsedIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    sku: Id
    qty: int = Field(ge=1, le=1000)
    location_id: Id | None = Field(default=None, description="The van or depot it came from; default: your van.")


class SwapIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    old_serial: Id = Field(description="The serial of the ticket's lamp taken out.")
    new_serial: Id = Field(description="The serial of the unit put in its place (registered now, D-A2).")
    model: Id | None = Field(default=None, description="The new unit's model when it differs (D-P2).")


class RecordWorkIn(_In):
    cause: RequiredNote = Field(description="What caused the fault.")
    category: FaultCategory = Field(description="D-O3: operation, software, configuration error or hardware fault.")
    actions: RequiredNote = Field(description="What was done.")
    parts: list[PartUsedIn] = Field(default_factory=list, max_length=MAX_PARTS_LINES)
    swap: SwapIn | None = Field(default=None, description="A unit swapped (D-S2 replace, don't repair).")


class CheckOutIn(_In):
    pass


class ChangesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    cursor: str | None = Field(default=None, max_length=500, description="From the last answer; none: from the start.")
    limit: int = Field(default=50, ge=1, le=100)


class WorkQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    cursor: str | None = Field(default=None, max_length=2000)
    limit: int = Field(default=10, ge=1, le=20)


# ---- the visit as a ticket shows it ----------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, from_attributes=True)


class VisitMessageOut(_Out):
    message_key: str
    purpose: Literal["eta"]
    channel: Literal["sms"]
    to: str = Field(description="The school contact's phone, masked unless you are the dispatcher or the assignee.")
    message: str
    at: dt.datetime
    result: Literal["pending", "sent", "failed"]
    message_id: str | None = Field(description="The SNS MessageId when sent.")
    error: str | None = Field(description="Why it was not sent.")


class TravelOut(_Out):
    started_at: dt.datetime
    eta: dt.datetime
    device_at: dt.datetime | None
    device_clock_ok: bool | None
    by: str
    message_key: str | None = Field(description="The ETA SMS to the school (see `messages`); None: no phone on record.")


class CheckInOut(_Out):
    at: dt.datetime = Field(description="Server time: the SLA's on-site milestone.")
    device_at: dt.datetime | None
    device_clock_ok: bool | None
    lat: float
    lon: float
    accuracy_m: float
    distance_m: float | None = Field(description="From the school's position; None: the school has none on record.")
    fence_m: int
    inside_fence: bool | None = Field(description="False: flagged, not refused (indoor GPS is poor).")
    by: str


class PartUsedOut(_Out):
    sku: str
    qty: int
    location_id: str
    movement_id: str


class SwapOut(_Out):
    old_lamp_id: str
    old_serial: str
    new_lamp_id: str
    new_serial: str


class WorkOut(_Out):
    cause: str
    category: FaultCategory
    actions: str
    parts: list[PartUsedOut]
    swap: SwapOut | None
    recorded_at: dt.datetime
    device_at: dt.datetime | None
    device_clock_ok: bool | None
    by: str


class CheckOutOut(_Out):
    at: dt.datetime
    device_at: dt.datetime | None
    device_clock_ok: bool | None
    by: str


class VisitOut(_Out):
    travel: TravelOut | None = None
    check_in: CheckInOut | None = None
    work: WorkOut | None = None
    check_out: CheckOutOut | None = None
    messages: list[VisitMessageOut] | None = Field(
        default=None, description="Messages to the school with their delivery result (on getTicket only)."
    )


class SiteOut(_Out):
    school_id: str
    name: str
    address: str
    latitude: float
    longitude: float
    fence_m: int
    hazards: list[str] = Field(description="D-O5: what to be briefed on before going.")


class HistoryLineOut(_Out):
    lamp_id: str
    at: dt.datetime
    kind: str
    summary: str
    ref: str


class PartToBringOut(_Out):
    sku: str
    name: str
    fits_models: list[str]
