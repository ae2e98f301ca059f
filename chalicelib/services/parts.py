"""Spare parts and stock (issue 11.6, D-P1..D-P3): the catalogue, depots and vans, stock levels with the
3 % flag, and movements between them.

Stock changes only through `chalicelib.models.stock`: a movement here (moveStock) is one transaction of
its own; parts used on a ticket are taken in the ticket's transaction by the work record
(`stock.add_consumption`), so a refused write changes neither the ticket nor the stock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from chalicelib.auth import Principal, Role
from chalicelib.domain import parts as rules
from chalicelib.domain.lifecycle import FIELD_ROLES
from chalicelib.domain.parts import LocationKind, MovementKind
from chalicelib.errors import FieldProblem, Forbidden, InvalidInput, InvalidQuery, NotFound, StaleVersion
from chalicelib.guards import WriteGuard
from chalicelib.models import access, stock
from chalicelib.models.stock import LocationModel, PartModel, StockLevelModel, StockMovementModel
from chalicelib.schemas import PageQuery
from chalicelib.schemas_parts import (
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
from chalicelib.services.ids import new_id, utcnow
from chalicelib.services.paging import decode_cursor, encode_cursor

# Who sees any location's stock; an engineer sees his own van's (and may return parts from it).
STOCK_KEEPERS = frozenset({Role.PARTS_MANAGER, Role.ADMIN})
STOCK_READERS = STOCK_KEEPERS | {Role.DISPATCHER, Role.MANAGER, Role.PROJECT_LEAD, Role.TECHNICAL_MANAGER}


# ---- the catalogue ----------------------------------------------------------------------------------


def part_view(part: PartModel) -> PartOut:
    installed = int(part.installed_qty or 0)
    return PartOut(
        sku=part.sku,
        name=part.name,
        unit=part.unit,
        fits_models=list(part.fits_models or []),
        installed_qty=installed,
        minimum_stock=rules.minimum_stock(installed),
        version=int(part.version or 1),
        created_at=part.created_at,
        updated_at=part.updated_at,
    )


def create_part(body: PartIn, actor: Principal, now: dt.datetime | None = None) -> PartOut:
    now = now or utcnow()
    part = PartModel(
        body.sku,
        name=body.name,
        unit=body.unit,
        fits_models=list(dict.fromkeys(body.fits_models)),
        installed_qty=body.installed_qty,
        created_at=now,
        updated_at=now,
        created_by=actor.sub,
    )
    stock.create_part(part)
    return part_view(part)


def _part(sku: str) -> PartModel:
    part = stock.get_part(sku)
    if part is None:
        raise NotFound(f"part '{sku}' does not exist")
    return part


def get_part(sku: str, actor: Principal) -> PartOut:
    return part_view(_part(sku))


def update_part(sku: str, body: PartUpdateIn, actor: Principal, now: dt.datetime | None = None) -> PartOut:
    """An edit of the sent fields, if nobody edited the part since `version` was read."""
    part = _part(sku)
    read_version = int(part.version or 1)
    if body.version != read_version:
        raise StaleVersion(
            f"part '{sku}' was changed by someone else meanwhile; reload it", extra={"current_version": read_version}
        )
    old_fits = list(part.fits_models or [])
    if body.name is not None:
        part.name = body.name
    if body.unit is not None:
        part.unit = body.unit
    if body.fits_models is not None:
        part.fits_models = list(dict.fromkeys(body.fits_models))
    if body.installed_qty is not None:
        part.installed_qty = body.installed_qty
    part.updated_at = now or utcnow()
    stock.update_part(part, read_version, old_fits)
    return part_view(part)


def list_parts(query: PartListQuery, actor: Principal) -> PartPageOut:
    """The catalogue by SKU; with `lamp_model`, the parts that fit it (one Query on the fits, one BatchGet)."""
    cursor = decode_cursor(query.cursor)
    if query.lamp_model is None:
        page = stock.query_parts(query.limit, cursor)
        return PartPageOut(items=[part_view(p) for p in page.items], next_cursor=encode_cursor(page.next_key))
    fits = stock.query_part_fits(query.lamp_model, query.limit, cursor)
    found = stock.batch_get_parts([f.sku for f in fits.items]) if fits.items else {}
    items = [part_view(found[f.sku]) for f in fits.items if f.sku in found]
    return PartPageOut(items=items, next_cursor=encode_cursor(fits.next_key))


# ---- locations -----------------------------------------------------------------------------------------


def location_view(location: LocationModel) -> LocationOut:
    return LocationOut(
        location_id=location.location_id,
        kind=LocationKind(location.kind).value,
        name=location.name,
        engineer_id=location.engineer_id,
        created_at=location.created_at,
    )


def create_location(body: LocationIn, actor: Principal, now: dt.datetime | None = None) -> LocationOut:
    now = now or utcnow()
    kind = LocationKind(body.kind)
    if kind is LocationKind.VAN and not body.engineer_id:
        raise InvalidInput("a van belongs to an engineer", details=[FieldProblem("engineer_id", "required for a van")])
    if kind is LocationKind.DEPOT and body.engineer_id:
        raise InvalidInput(
            "a depot belongs to no engineer", details=[FieldProblem("engineer_id", "only a van has an engineer")]
        )
    if body.engineer_id:
        user = stock.user_exists(body.engineer_id)
        if user is None or user.role != Role.ENGINEER.value:
            raise InvalidInput(
                f"'{body.engineer_id}' is not an engineer", details=[FieldProblem("engineer_id", "not an engineer")]
            )
    location_id = new_id(kind.value)
    location = LocationModel(
        location_id,
        kind=kind.value,
        name=body.name,
        engineer_id=body.engineer_id,
        sort_key=stock.location_sort_key(kind.value, body.name, location_id),
        created_at=now,
    )
    stock.create_location(location)
    return location_view(location)


def list_locations(query: LocationListQuery, actor: Principal) -> LocationPageOut:
    """By kind, then name; or an engineer's van."""
    cursor = decode_cursor(query.cursor)
    if query.engineer_id is not None:
        if query.kind == LocationKind.DEPOT.value:
            raise InvalidQuery(
                "a depot belongs to no engineer",
                details=[FieldProblem("query.kind", "leave it out, or 'van', with engineer_id")],
            )
        page = stock.query_engineer_locations(query.engineer_id, query.limit, cursor)
    else:
        page = stock.query_locations(query.kind, query.limit, cursor)
    return LocationPageOut(items=[location_view(x) for x in page.items], next_cursor=encode_cursor(page.next_key))


def _readable_location(location_id: str, actor: Principal) -> LocationModel:
    location = stock.find_location(location_id)
    if location is None:
        raise NotFound(f"location '{location_id}' does not exist")
    if actor.has_any(STOCK_READERS):
        return location
    if Role.ENGINEER in actor.roles and location.engineer_id == actor.sub:
        return location
    raise Forbidden("an engineer reads his own van's stock only")


# ---- stock levels ---------------------------------------------------------------------------------------


def _level_view(sku: str, part: PartModel | None, level: StockLevelModel | None, depot: bool) -> StockLevelOut:
    quantity = int(level.quantity or 0) if level is not None else 0
    installed = int(part.installed_qty or 0) if part is not None else 0
    return StockLevelOut(
        sku=sku,
        name=part.name if part is not None else "",
        unit=part.unit if part is not None else "",
        quantity=quantity,
        installed_qty=installed,
        minimum_stock=rules.minimum_stock(installed) if depot else None,
        below_minimum=rules.below_minimum(quantity, installed) if depot else None,
        version=int(level.version or 0) if level is not None else 0,
        updated_at=level.updated_at if level is not None else None,
    )


def get_stock(location_id: str, actor: Principal) -> StockOut:
    """The levels at a depot (every catalogue part, flagged under D-P1's 3 %) or a van (what it holds)."""
    location = _readable_location(location_id, actor)
    levels = {level.sku: level for level in stock.levels_at(location_id)}
    depot = location.kind == LocationKind.DEPOT.value
    if depot:
        parts = {p.sku: p for p in stock.all_parts()}
        skus: Iterable[str] = sorted(set(parts) | set(levels))
    else:
        parts = stock.batch_get_parts(list(levels)) if levels else {}
        skus = sorted(levels)
    items = [_level_view(sku, parts.get(sku), levels.get(sku), depot) for sku in skus]
    return StockOut(
        location=location_view(location),
        items=items,
        below_minimum_count=sum(1 for i in items if i.below_minimum),
    )


# ---- movements ---------------------------------------------------------------------------------------------


def movement_view(m: stock.Movement) -> StockMovementOut:
    return StockMovementOut(
        movement_id=m.movement_id,
        kind=m.kind.value,
        sku=m.sku,
        qty=m.qty,
        from_location_id=m.from_location_id,
        to_location_id=m.to_location_id,
        ticket_id=m.ticket_id,
        lamp_id=m.lamp_id,
        actor=m.actor,
        at=m.at,
        device_at=m.device_at,
        note=m.note,
    )


def move_stock(
    body: MoveStockIn, actor: Principal, guard: WriteGuard | None = None, now: dt.datetime | None = None
) -> StockMovementOut:
    """One movement in one transaction (D-P3: parts prepared for a ticket go to the engineer's van, and
    unused ones come back), with its Idempotency-Key's guard and the answer a retry gets. An engineer may
    only return parts from his own van."""
    kind = MovementKind(body.kind)
    problems = rules.movement_problems(kind, body.from_location_id, body.to_location_id, body.ticket_id, body.note)
    if problems:
        raise InvalidInput(f"this '{kind}' movement is incomplete", details=problems)
    keeper = actor.has_any(STOCK_KEEPERS)
    if not keeper and kind is not MovementKind.RETURNED:
        raise Forbidden(
            "an engineer returns parts from his van; the parts manager records other movements",
            details=[FieldProblem("kind", "only 'returned' for an engineer")],
        )
    rule = rules.RULES[kind]
    movement = stock.Movement(
        kind,
        body.sku,
        body.qty,
        actor.sub,
        now or utcnow(),
        from_location_id=body.from_location_id,
        to_location_id=body.to_location_id,
        ticket_id=body.ticket_id,
        device_at=body.device_at.astimezone(dt.UTC) if body.device_at else None,  # stored as UTC
        note=body.note,
    )
    checks = stock.MoveChecks(
        source_kind=rule.source if isinstance(rule.source, LocationKind) else None,
        target_kind=rule.target if isinstance(rule.target, LocationKind) else None,
        source_engineer=None if keeper else actor.sub,
        ticket=bool(body.ticket_id),
    )
    answer = movement_view(movement)
    stock.move_stock(movement, checks, guard.seal(answer) if guard is not None else None)
    return answer


def _leg_view(leg: StockMovementModel) -> StockMovementLegOut:
    return StockMovementLegOut(
        location_id=leg.location_id,
        delta=int(leg.delta),
        movement_id=leg.movement_id,
        kind=MovementKind(leg.kind).value,
        sku=leg.sku,
        qty=int(leg.qty),
        from_location_id=leg.from_location_id,
        to_location_id=leg.to_location_id,
        ticket_id=leg.ticket_id,
        lamp_id=leg.lamp_id,
        actor=leg.actor,
        at=leg.at,
        device_at=leg.device_at,
        note=leg.note,
    )


def list_movements(location_id: str, query: PageQuery, actor: Principal) -> StockMovementPageOut:
    """A location's movement log, newest first; each entry's `delta` is the change there."""
    _readable_location(location_id, actor)
    page = stock.query_movements(location_id, query.limit, decode_cursor(query.cursor))
    return StockMovementPageOut(items=[_leg_view(x) for x in page.items], next_cursor=encode_cursor(page.next_key))


def ticket_parts(ticket_id: str, actor: Principal) -> TicketPartsOut:
    """What was prepared, used and returned for a ticket (D-P2, D-P3), per part and movement by movement.
    Engineers and experts read the tickets assigned to them or opened by them."""
    ticket = access.get_ticket(ticket_id)
    if actor.roles <= FIELD_ROLES and actor.sub not in (ticket.assignee_id, ticket.owner_id):
        raise Forbidden("engineers see the tickets assigned to them or opened by them")
    legs = stock.ticket_movements(ticket_id)
    totals = rules.ticket_parts([(leg.kind, leg.sku, int(leg.qty)) for leg in legs])
    return TicketPartsOut(
        ticket_id=ticket_id,
        parts=[
            TicketPartOut(
                sku=t.sku, prepared=t.prepared, consumed=t.consumed, returned=t.returned, outstanding=t.outstanding
            )
            for t in totals
        ],
        movements=[_leg_view(leg) for leg in legs],
    )
