"""Request and query schemas (pydantic). Unknown fields are refused, so typos surface as 422."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chalicelib.domain.assets import Code, Day, LampSpec, OptionalText, Text
from chalicelib.domain.lifecycle import ACTIONS
from chalicelib.domain.policy import ServicePolicy, WarrantyTerms, default_policy
from chalicelib.domain.tickets import MAX_LAMPS_PER_TICKET, Category, Source

Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
# A light check on purpose: email_validator + dnspython would cost ~60 ms of every cold start.
# Empty means "no email"; one pattern rather than a union, so an error names just the field.
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


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
    contacts: list[Contact] = Field(default_factory=list, max_length=20)
    hazards: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=50
    )


class SchoolListQuery(PageQuery):
    contract_id: Id | None = None


class LampIn(LampSpec):
    school_id: Id


class LampListQuery(PageQuery):
    room_id: Code | None = None


class ImportQuery(Strict):
    mode: Literal["partial", "all_or_nothing"] = "partial"


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
    school_id: Id | None = None
    assignee_id: Id | None = None
    status: (
        Literal[
            "reported",
            "triaged",
            "assigned",
            "acknowledged",
            "en_route",
            "on_site",
            "resolved",
            "signed_off",
            "closed",
            "cancelled",
            "merged",
            "reopened",
        ]
        | None
    ) = None
    level: int | None = Field(default=None, ge=1, le=4)


class TransitionIn(Strict):
    action: str = Field(json_schema_extra={"enum": list(ACTIONS)})
    version: int = Field(ge=1, description="the ticket version this change is based on")
    note: Note = ""
    level: int | None = Field(default=None, ge=1, le=4)
    category: Category | None = None
    assignee_id: Id | None = None
    eta: dt.datetime | None = None
    merge_into: Id | None = None
    signer_name: OptionalText | None = None
    signer_role: OptionalText | None = None

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if value not in ACTIONS:
            raise ValueError(f"must be one of: {', '.join(ACTIONS)}")
        return value

    @field_validator("eta")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-11-24T09:30:00+08:00")
        return value
