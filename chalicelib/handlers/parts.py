"""Spare parts and stock (issue 11.6, D-P): catalogue, locations, levels, movements."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.auth import STAFF, Role
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas_parts import (
        LocationOut,
        LocationPageOut,
        PartOut,
        PartPageOut,
        StockMovementOut,
        StockMovementPageOut,
        StockOut,
        TicketPartsOut,
    )
    from chalicelib.services import parts
else:
    parts = lazy_module("chalicelib.services.parts")

api = Api(__name__)

KEEPERS = [Role.PARTS_MANAGER, Role.ADMIN]
# Engineers read their own van only (the service checks); the others read any location.
READERS = [
    Role.PARTS_MANAGER,
    Role.ADMIN,
    Role.DISPATCHER,
    Role.MANAGER,
    Role.PROJECT_LEAD,
    Role.TECHNICAL_MANAGER,
    Role.ENGINEER,
]


@api.route("/parts", "GET", operation_id="listParts", response="PartPageOut", roles=STAFF, query="PartListQuery")
def list_parts(ctx: RequestContext) -> PartPageOut:
    """The parts catalogue by SKU, each with D-P1's minimum stock; `lamp_model` lists the parts that fit
    that model (D-P2: a similar model may substitute)."""
    return parts.list_parts(ctx.query, ctx.principal)


@api.route("/parts", "POST", operation_id="createPart", response="PartOut", roles=KEEPERS, body="PartIn", status=201)
def create_part(ctx: RequestContext) -> PartOut:
    """Adds a part to the catalogue. A SKU already there is 409 `conflict` naming `sku`."""
    return parts.create_part(ctx.body, ctx.principal)


@api.route("/parts/{sku}", "GET", operation_id="getPart", response="PartOut", roles=STAFF)
def get_part(ctx: RequestContext, sku: str) -> PartOut:
    """One part of the catalogue, with its `version` for an edit."""
    return parts.get_part(sku, ctx.principal)


@api.route("/parts/{sku}", "PATCH", operation_id="updatePart", response="PartOut", roles=KEEPERS, body="PartUpdateIn")
def update_part(ctx: RequestContext, sku: str) -> PartOut:
    """Edits a part: name, unit, the lamp models it fits, or the installed quantity D-P1's 3 % is taken of
    (e.g. when a project's lamps are installed). Send the `version` you read: a stale one is 409
    `stale_version` with `current_version`."""
    return parts.update_part(sku, ctx.body, ctx.principal)


@api.route(
    "/locations",
    "GET",
    operation_id="listLocations",
    response="LocationPageOut",
    roles=STAFF,
    query="LocationListQuery",
)
def list_locations(ctx: RequestContext) -> LocationPageOut:
    """Depots and vans by kind and name; `engineer_id` finds an engineer's van."""
    return parts.list_locations(ctx.query, ctx.principal)


@api.route(
    "/locations",
    "POST",
    operation_id="createLocation",
    response="LocationOut",
    roles=KEEPERS,
    body="LocationIn",
    status=201,
)
def create_location(ctx: RequestContext) -> LocationOut:
    """A depot (the local store, D-P1) or an engineer's van (one per engineer: a second is 409)."""
    return parts.create_location(ctx.body, ctx.principal)


@api.route("/stock/{location_id}", "GET", operation_id="getStock", response="StockOut", roles=READERS)
def get_stock(ctx: RequestContext, location_id: str) -> StockOut:
    """The stock at a depot or van. At a depot every catalogue part is listed with D-P1's flag
    (`below_minimum`: less than 3 % of the installed quantity); a van lists what it holds.
    An engineer reads his own van only (403 otherwise)."""
    return parts.get_stock(location_id, ctx.principal)


@api.route(
    "/stock/movements",
    "POST",
    operation_id="moveStock",
    response="StockMovementOut",
    roles=[*KEEPERS, Role.ENGINEER],
    body="MoveStockIn",
    status=201,
    guarded=True,
)
def move_stock(ctx: RequestContext) -> StockMovementOut:
    """Records one movement: received, issued, prepared (for a ticket, D-P3), returned or adjusted; the
    levels and the log change together or not at all. Taking more than a location holds is 409
    `insufficient_stock` naming `sku`, `location_id` and `available`; nothing changes. An engineer may
    only return parts from his own van. The `Idempotency-Key` is required and kept in the movement's own
    transaction: a retry gets the first answer and moves nothing."""
    return parts.move_stock(ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/stock/{location_id}/movements",
    "GET",
    operation_id="listStockMovements",
    response="StockMovementPageOut",
    roles=READERS,
    query="PageQuery",
)
def list_stock_movements(ctx: RequestContext, location_id: str) -> StockMovementPageOut:
    """A location's movement log, newest first; each entry's `delta` is its change there, so the log adds
    up to the level. An engineer reads his own van's only."""
    return parts.list_movements(location_id, ctx.query, ctx.principal)


@api.route(
    "/tickets/{ticket_id}/stock-movements",
    "GET",
    operation_id="getTicketParts",
    response="TicketPartsOut",
    roles=[*READERS, Role.EXPERT],
)
def get_ticket_parts(ctx: RequestContext, ticket_id: str) -> TicketPartsOut:
    """The parts prepared, used and returned for a ticket (D-P2, D-P3): totals per SKU, with what was
    prepared and is neither used nor returned yet (`outstanding`: it should come back to stock), and every
    movement, oldest first. Engineers and experts read the tickets assigned to them or opened by them."""
    return parts.ticket_parts(ticket_id, ctx.principal)
