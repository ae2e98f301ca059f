"""Spare parts and stock (issue 11.6, D-P): the catalogue, depots and vans, stock levels with D-P1's
3 % flag, and the movement log.

Re-exported by `chalicelib.schemas`, so routes name them like every other schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.domain.types import Id, Note

PartName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
LampModelName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
MAX_QTY = 100_000
LocationKindName = Literal["depot", "van"]
MoveKind = Literal["received", "issued", "prepared", "returned", "adjusted"]
AnyMoveKind = Literal["received", "issued", "prepared", "returned", "consumed", "adjusted"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, from_attributes=True)


class _PageQuery(_In):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)


class _PageOut(_Out):
    next_cursor: str | None = Field(
        description="Opaque. Pass it back as `cursor` for the next page; null on the last page."
    )


# ---- the catalogue ----------------------------------------------------------------------------------


class PartIn(_In):
    sku: Id = Field(description="The part's stock-keeping unit, unique: DRV-40W.")
    name: PartName = Field(description="What the stores call it; Chinese is fine: 驱动电源 40W.")
    unit: Unit = Field(default="pcs", description="pcs, 个, m ...")
    fits_models: list[LampModelName] = Field(
        default_factory=list,
        max_length=50,
        description="The lamp models it fits (D-P2: a similar model may substitute).",
    )
    installed_qty: int = Field(
        default=0,
        ge=0,
        le=100_000_000,
        description="How many of this part are installed across the projects (from their equipment lists): "
        "D-P1's base. Depots holding less than 3 % of it are flagged.",
    )


class PartUpdateIn(_In):
    """Only the fields sent change; `version` is the one read (a stale one is 409 `stale_version`)."""

    version: int = Field(ge=1)
    name: PartName | None = None
    unit: Unit | None = None
    fits_models: list[LampModelName] | None = Field(default=None, max_length=50, description="Replaces the list.")
    installed_qty: int | None = Field(
        default=None, ge=0, le=100_000_000, description="E.g. after a project's lamps were installed (D-P1)."
    )


class PartOut(_Out):
    sku: str
    name: str
    unit: str
    fits_models: list[str]
    installed_qty: int
    minimum_stock: int = Field(description="D-P1: 3 % of installed_qty, rounded up; what a depot should hold.")
    version: int = Field(description="Send it back with an edit (updatePart).")
    created_at: dt.datetime
    updated_at: dt.datetime


class PartListQuery(_PageQuery):
    lamp_model: LampModelName | None = Field(default=None, description="Only the parts that fit this lamp model.")


class PartPageOut(_PageOut):
    items: list[PartOut]


# ---- locations -----------------------------------------------------------------------------------------


class LocationIn(_In):
    kind: LocationKindName
    name: PartName = Field(description="静安备件库, Li Qiang's van ...")
    engineer_id: Id | None = Field(default=None, description="A van's engineer (required for a van; one van each).")


class LocationOut(_Out):
    location_id: str
    kind: LocationKindName
    name: str
    engineer_id: str | None
    created_at: dt.datetime


class LocationListQuery(_PageQuery):
    kind: LocationKindName | None = None
    engineer_id: Id | None = Field(default=None, description="The engineer's van.")


class LocationPageOut(_PageOut):
    items: list[LocationOut]


# ---- stock levels ---------------------------------------------------------------------------------------


class StockLevelOut(_Out):
    sku: str
    name: str = Field(description="The part's name ('' if the part left the catalogue).")
    unit: str
    quantity: int = Field(ge=0)
    installed_qty: int
    minimum_stock: int | None = Field(description="D-P1 at a depot: 3 % of installed_qty, rounded up; null at a van.")
    below_minimum: bool | None = Field(
        description="D-P1: a depot holds less than minimum_stock (flag it for purchase); null at a van."
    )
    version: int = Field(description="+1 per change of this level.")
    updated_at: dt.datetime | None


class StockOut(_Out):
    location: LocationOut
    items: list[StockLevelOut] = Field(
        description="At a depot: every part of the catalogue (one never received shows 0, flagged); "
        "at a van: the parts it holds or has held."
    )
    below_minimum_count: int = Field(description="How many parts are flagged (0 at a van).")


# ---- movements ---------------------------------------------------------------------------------------------


class MoveStockIn(_In):
    kind: MoveKind = Field(
        description="received: into a depot; issued: depot to van; prepared: depot to van for a ticket (D-P3); "
        "returned: van to depot (unused prepared parts come back, D-P3); adjusted: a count's correction "
        "into (to_location_id) or out of (from_location_id) one location, with a note. Parts used on a "
        "ticket are recorded with the work (recordWork), in the ticket's own transaction."
    )
    sku: Id
    qty: int = Field(ge=1, le=MAX_QTY)
    from_location_id: Id | None = None
    to_location_id: Id | None = None
    ticket_id: Id | None = Field(default=None, description="Required for prepared; may be given for returned.")
    note: Note = ""
    device_at: AwareDatetime | None = Field(default=None, description="The device's clock when it was done.")


class StockMovementOut(_Out):
    movement_id: str
    kind: AnyMoveKind
    sku: str
    qty: int = Field(ge=1)
    from_location_id: str | None
    to_location_id: str | None
    ticket_id: str | None
    lamp_id: str | None = Field(description="The lamp the part was used on (consumed).")
    actor: str
    at: dt.datetime = Field(description="Server time.")
    device_at: dt.datetime | None
    note: str


class StockMovementLegOut(StockMovementOut):
    location_id: str
    delta: int = Field(description="The change at this location: -qty when parts left it, +qty when they came.")


class StockMovementPageOut(_PageOut):
    items: list[StockMovementLegOut] = Field(description="Newest first.")


class TicketPartOut(_Out):
    sku: str
    prepared: int = Field(description="Prepared for the ticket by the parts manager (D-P3).")
    consumed: int = Field(description="Used on the ticket (D-P2), from a van or a depot.")
    returned: int = Field(description="Brought back to stock for the ticket.")
    outstanding: int = Field(description="Prepared and neither used nor returned yet: what should come back (D-P3).")


class TicketPartsOut(_Out):
    ticket_id: str
    parts: list[TicketPartOut] = Field(description="Per SKU.")
    movements: list[StockMovementLegOut] = Field(
        description="Every movement made for the ticket, oldest first, as seen at its source (or, for a "
        "receipt, its target)."
    )
