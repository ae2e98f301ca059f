"""Spare parts and stock (D-P): the catalogue, depots and vans, stock levels and the movement log.

Access patterns, each a Query or a key read:
- the catalogue in SKU order (`PartModel.by_listing`); the parts that fit a lamp model (`PartFitModel`,
  one item per model and part, written with the part);
- locations by kind and name (`LocationModel.by_listing`), an engineer's van (`by_engineer`);
- the levels at a location (`StockLevelModel`, keyed by location then SKU);
- a location's movements, newest first (`StockMovementModel`: one item, a "leg", per location a movement
  touches, with the signed change there), and a ticket's movements (`by_ticket`, sparse: one leg each).

Stock never goes below zero: every decrement is an update conditioned on `quantity >= qty`, inside the
transaction of the change it belongs to (`add_movement`, `add_consumption`). The log is append-only:
legs are put only where none exists. A refused decrement becomes `InsufficientStock` naming the SKU,
the location and what it holds (`raise_for_stock`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.domain.parts import InsufficientStock, LocationKind, MovementKind, Shortage
from chalicelib.errors import AlreadyApplied, Conflict, FieldProblem, Forbidden, InvalidInput, StaleVersion
from chalicelib.models.access import Page, _connection, _cursor, _page, _unexpected
from chalicelib.models.base import bind_tables, register
from chalicelib.models.registry import UniqueKeyModel, UserModel
from chalicelib.models.tickets import TicketModel
from chalicelib.models.transactions import Transaction, TransactionRefused
from chalicelib.models.write_guards import GUARD_LABEL, add_guard

if TYPE_CHECKING:
    from chalicelib.guards import SealedGuard

STOCK_LABEL = "stock:"  # f"stock:{location_id}:{sku}": a conditional decrement
CONTENDED_ATTEMPTS = 3  # DynamoDB cancels a transaction that meets another on one item: retry a few times


# ---- the catalogue --------------------------------------------------------------------------------


class PartsByListing(GlobalSecondaryIndex["PartModel"]):
    class Meta:
        index_name = "by_listing"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)  # constant "part": a catalogue is hundreds of SKUs
    sku = UnicodeAttribute(range_key=True)


@register
class PartModel(Model):
    class Meta:
        table_name = "parts"

    sku = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()  # 驱动电源 40W
    unit = UnicodeAttribute(default="pcs")
    fits_models = cast("ListAttribute[str]", ListAttribute(of=UnicodeAttribute, default=list))
    # D-P1's base: how many of this part are installed, set by the parts manager from the projects'
    # equipment lists (lamps x parts per lamp); a figure, not a count of lamps, so a part that several
    # lamp models share, or that a lamp holds twice, is counted as installed.
    installed_qty = NumberAttribute(default=0)
    listing = UnicodeAttribute(default="part")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute(default="")
    version = NumberAttribute(default=1)  # +1 per edit: a stale edit is refused (`update_part`)

    by_listing = PartsByListing()


@register
class PartFitModel(Model):
    """ "This part fits that lamp model": the catalogue filtered by lamp model is one Query (D-P2: a similar
    model may substitute, so a part lists every model it fits)."""

    class Meta:
        table_name = "part-fits"

    lamp_model = UnicodeAttribute(hash_key=True)
    sku = UnicodeAttribute(range_key=True)


# ---- locations --------------------------------------------------------------------------------------


class LocationsByListing(GlobalSecondaryIndex["LocationModel"]):
    class Meta:
        index_name = "by_listing"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)  # constant "location"
    sort_key = UnicodeAttribute(range_key=True)  # "<kind>#<lower-cased name>#<id>": by kind, then name


class LocationsByEngineer(GlobalSecondaryIndex["LocationModel"]):
    class Meta:
        index_name = "by_engineer"
        projection = AllProjection()

    engineer_id = UnicodeAttribute(hash_key=True)  # sparse: vans only


@register
class LocationModel(Model):
    class Meta:
        table_name = "stock-locations"

    location_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # LocationKind
    name = UnicodeAttribute()
    engineer_id = UnicodeAttribute(null=True)  # a van's engineer (the token's sub)
    listing = UnicodeAttribute(default="location")
    sort_key = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    by_listing = LocationsByListing()
    by_engineer = LocationsByEngineer()


def location_sort_key(kind: str, name: str, location_id: str) -> str:
    return f"{kind}#{name.casefold()}#{location_id}"


# ---- levels and the movement log ---------------------------------------------------------------------


@register
class StockLevelModel(Model):
    class Meta:
        table_name = "stock-levels"

    location_id = UnicodeAttribute(hash_key=True)
    sku = UnicodeAttribute(range_key=True)
    quantity = NumberAttribute(default=0)  # never below zero: every decrement is conditioned
    version = NumberAttribute(default=0)  # +1 per change
    updated_at = UTCDateTimeAttribute(null=True)


class MovementsByTicket(GlobalSecondaryIndex["StockMovementModel"]):
    class Meta:
        index_name = "by_ticket"
        projection = AllProjection()

    ticket_key = UnicodeAttribute(hash_key=True)  # sparse: the first leg of a movement made for a ticket
    entry_key = UnicodeAttribute(range_key=True)


@register
class StockMovementModel(Model):
    """One leg of a movement: the change it made at one location. A transfer has two legs (the same
    movement_id), a receipt or a consumption one; each location's log adds up to its level."""

    class Meta:
        table_name = "stock-movements"

    location_id = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)  # "<UTC time, fixed width>#<movement_id>": chronological
    movement_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # MovementKind
    sku = UnicodeAttribute()
    qty = NumberAttribute()  # the movement's quantity, > 0
    delta = NumberAttribute()  # the change at this location: -qty or +qty
    from_location_id = UnicodeAttribute(null=True)
    to_location_id = UnicodeAttribute(null=True)
    ticket_id = UnicodeAttribute(null=True)
    ticket_key = UnicodeAttribute(null=True)
    lamp_id = UnicodeAttribute(null=True)  # D-P2: parts used are recorded against the lamp too
    actor = UnicodeAttribute()
    at = UTCDateTimeAttribute()  # server time
    device_at = UTCDateTimeAttribute(null=True)  # the phone's clock, kept beside the server's
    note = UnicodeAttribute(default="")

    by_ticket = MovementsByTicket()


@dataclass
class Movement:
    """A movement before it is written: `add_movement` turns it into the level changes and the legs."""

    kind: MovementKind
    sku: str
    qty: int
    actor: str
    at: dt.datetime
    from_location_id: str | None = None
    to_location_id: str | None = None
    ticket_id: str | None = None
    lamp_id: str | None = None
    device_at: dt.datetime | None = None
    note: str = ""
    movement_id: str = field(default_factory=lambda: f"mv_{secrets.token_hex(8)}")


def entry_key(at: dt.datetime, movement_id: str) -> str:
    return f"{at.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{movement_id}"


def stock_label(location_id: str, sku: str) -> str:
    return f"{STOCK_LABEL}{location_id}:{sku}"


def _leg(m: Movement, location_id: str, delta: int, first: bool) -> StockMovementModel:
    return StockMovementModel(
        location_id,
        entry_key(m.at, m.movement_id),
        movement_id=m.movement_id,
        kind=str(m.kind),
        sku=m.sku,
        qty=m.qty,
        delta=delta,
        from_location_id=m.from_location_id,
        to_location_id=m.to_location_id,
        ticket_id=m.ticket_id,
        ticket_key=m.ticket_id if first else None,
        lamp_id=m.lamp_id,
        actor=m.actor,
        at=m.at,
        device_at=m.device_at,
        note=m.note,
    )


def add_movement(tx: Transaction, m: Movement) -> None:
    """Adds a movement to `tx`: the conditional decrement at its source (labelled `stock:<location>:<sku>`),
    the increment at its target (an ADD: the level is created at its first receipt) and one log leg per
    location. All happen with the rest of `tx` or not at all."""
    if m.qty <= 0:
        raise ValueError("a movement moves a positive quantity")
    legs = []
    if m.from_location_id:
        tx.update(
            StockLevelModel(m.from_location_id, m.sku),
            [
                StockLevelModel.quantity.add(-m.qty),
                StockLevelModel.version.add(1),
                StockLevelModel.updated_at.set(m.at),
            ],
            condition=StockLevelModel.quantity >= m.qty,
            label=stock_label(m.from_location_id, m.sku),
        )
        legs.append(_leg(m, m.from_location_id, -m.qty, first=True))
    if m.to_location_id:
        tx.update(
            StockLevelModel(m.to_location_id, m.sku),
            [
                StockLevelModel.quantity.add(m.qty),
                StockLevelModel.version.add(1),
                StockLevelModel.updated_at.set(m.at),
            ],
            label=f"level:{m.to_location_id}:{m.sku}",
        )
        legs.append(_leg(m, m.to_location_id, m.qty, first=not legs))
    for leg in legs:
        tx.put(leg, condition=StockMovementModel.entry_key.does_not_exist(), label=f"movement:{leg.location_id}")


def add_consumption(
    tx: Transaction,
    location_id: str,
    sku: str,
    qty: int,
    *,
    ticket_id: str,
    actor: str,
    at: dt.datetime,
    lamp_id: str | None = None,
    device_at: dt.datetime | None = None,
    note: str = "",
) -> Movement:
    """Parts used on a ticket (D-P2), taken from a van or depot in the ticket's own transaction: adds the
    decrement (condition `quantity >= qty`, label `stock:<location_id>:<sku>`) and the log leg to `tx`.
    On `TransactionRefused`, call `raise_for_stock(exc)` first: a shortage becomes `InsufficientStock`."""
    movement = Movement(
        MovementKind.CONSUMED,
        sku,
        qty,
        actor,
        at,
        from_location_id=location_id,
        ticket_id=ticket_id,
        lamp_id=lamp_id,
        device_at=device_at,
        note=note,
    )
    add_movement(tx, movement)
    return movement


def get_quantity(location_id: str, sku: str) -> int:
    bind_tables()
    try:
        level = StockLevelModel.get(location_id, sku, consistent_read=True, attributes_to_get=["quantity"])
    except StockLevelModel.DoesNotExist:
        return 0
    return int(level.quantity or 0)


def raise_for_stock(exc: TransactionRefused, field: str = "qty") -> None:
    """Raises `InsufficientStock` (409 `insufficient_stock`, naming each SKU, location and the quantity it
    holds now) if a decrement of `exc` was refused; returns otherwise, for the caller's other labels.
    `field` is what the details name (e.g. "parts[0].qty")."""
    short = exc.failed_with(STOCK_LABEL)
    if not short:
        return
    shortages = []
    for label in short:
        location_id, _, sku = label.partition(":")  # location ids have no ':'; a SKU may
        shortages.append(Shortage(location_id, sku, get_quantity(location_id, sku)))
    raise InsufficientStock(shortages, field) from exc


# ---- writes with their own transaction ---------------------------------------------------------------


def _commit(tx: Transaction) -> None:
    tx.commit(_connection())


def create_part(part: PartModel) -> None:
    """The part and one fit per lamp model, all or nothing; a SKU is created once."""
    tx = Transaction()
    tx.put(part, condition=PartModel.sku.does_not_exist(), label="part")
    for lamp_model in part.fits_models:
        tx.put(PartFitModel(lamp_model, part.sku), label=f"fit:{lamp_model}")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if "part" in exc.failed:
            raise Conflict(
                f"a part with SKU '{part.sku}' already exists",
                details=[FieldProblem("sku", "already in the catalogue")],
            ) from exc
        raise _unexpected(exc, "the part") from exc


def update_part(part: PartModel, read_version: int, old_fits: list[str]) -> None:
    """The edited part (version +1, if still at `read_version`: else `StaleVersion` naming the current one)
    and its fits in step with `fits_models`, all or nothing."""
    part.version = read_version + 1
    tx = Transaction()
    tx.put(part, condition=PartModel.version == read_version, label="part")
    new_fits = list(part.fits_models or [])
    for lamp_model in set(old_fits) - set(new_fits):
        tx.delete(PartFitModel(lamp_model, part.sku), label=f"fit:{lamp_model}")
    for lamp_model in set(new_fits) - set(old_fits):
        tx.put(PartFitModel(lamp_model, part.sku), label=f"fit:{lamp_model}")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if "part" in exc.failed:
            current = get_part(part.sku)
            raise StaleVersion(
                f"part '{part.sku}' was changed by someone else meanwhile; reload it",
                extra={"current_version": int(current.version) if current is not None else 0},
            ) from exc
        raise _unexpected(exc, "the part") from exc


def create_location(location: LocationModel) -> None:
    """A depot, or a van with a guard that gives each engineer one van (so recording work knows where the
    engineer's parts come from)."""
    tx = Transaction()
    tx.put(location, condition=LocationModel.location_id.does_not_exist(), label="location")
    if location.engineer_id:
        tx.put(
            UniqueKeyModel(f"van#{location.engineer_id}", owner_id=location.location_id),
            condition=UniqueKeyModel.key.does_not_exist(),
            label="van",
        )
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if "van" in exc.failed:
            raise Conflict(
                f"engineer '{location.engineer_id}' already has a van",
                details=[FieldProblem("engineer_id", "already has a van")],
            ) from exc
        raise _unexpected(exc, "the location") from exc


@dataclass(frozen=True)
class MoveChecks:
    """What a stand-alone movement's transaction checks beside the stock, at no extra round trip."""

    source_kind: LocationKind | None = None
    target_kind: LocationKind | None = None
    source_engineer: str | None = None  # the source must be this engineer's van
    ticket: bool = False  # the ticket must exist


def _location_condition(kind: LocationKind | None, engineer: str | None = None) -> Condition:
    condition = LocationModel.location_id.exists()
    if kind is not None:
        condition &= LocationModel.kind == str(kind)
    if engineer is not None:
        condition &= LocationModel.engineer_id == engineer
    return condition


def _explain_refusal(exc: TransactionRefused, m: Movement, checks: MoveChecks) -> None:
    """Which rule refused the movement: reads only now, on the refusal's path."""
    for label, location_id, kind, field_name in (
        ("location:from", m.from_location_id, checks.source_kind, "from_location_id"),
        ("location:to", m.to_location_id, checks.target_kind, "to_location_id"),
    ):
        if label not in exc.failed or location_id is None:
            continue
        found = find_location(location_id)
        if found is None:
            raise InvalidInput(
                f"location '{location_id}' does not exist",
                details=[FieldProblem(field_name, "no such depot or van")],
            ) from exc
        if kind is not None and found.kind != str(kind):
            raise InvalidInput(
                f"a '{m.kind}' movement goes {field_name.split('_')[0]} a {kind}; '{location_id}' is a {found.kind}",
                details=[FieldProblem(field_name, f"must be a {kind}")],
            ) from exc
        raise Forbidden(
            "an engineer moves stock out of his own van only",
            details=[FieldProblem(field_name, "not your van")],
        ) from exc
    if "part" in exc.failed:
        raise InvalidInput(f"no part has SKU '{m.sku}'", details=[FieldProblem("sku", "not in the catalogue")]) from exc
    if "ticket" in exc.failed:
        raise InvalidInput(
            f"ticket '{m.ticket_id}' does not exist", details=[FieldProblem("ticket_id", "no such ticket")]
        ) from exc
    raise_for_stock(exc)


def move_stock(m: Movement, checks: MoveChecks, guard: SealedGuard | None = None) -> None:
    """A stand-alone movement (moveStock) in one transaction: the level changes and legs of
    `add_movement`, with condition checks that the part exists, the locations exist and are of the kinds
    `checks` names, and the ticket exists, and the app's write guard (a used key: `AlreadyApplied`,
    whatever else failed). Refusals: `InsufficientStock` (409), `InvalidInput` (422) naming the field,
    `Forbidden`. A transaction cancelled by a concurrent one is retried."""
    for attempt in range(CONTENDED_ATTEMPTS):
        tx = Transaction()
        tx.check(PartModel, m.sku, condition=PartModel.sku.exists(), label="part")
        if m.from_location_id:
            condition = _location_condition(checks.source_kind, checks.source_engineer)
            tx.check(LocationModel, m.from_location_id, condition=condition, label="location:from")
        if m.to_location_id:
            tx.check(
                LocationModel, m.to_location_id, condition=_location_condition(checks.target_kind), label="location:to"
            )
        if checks.ticket and m.ticket_id:
            tx.check(TicketModel, m.ticket_id, condition=TicketModel.ticket_id.exists(), label="ticket")
        add_movement(tx, m)
        add_guard(tx, guard)
        try:
            _commit(tx)
            return
        except TransactionRefused as exc:
            if GUARD_LABEL in exc.failed:  # a retry: the spine answers with the first answer
                raise AlreadyApplied("this Idempotency-Key was used before") from exc
            _explain_refusal(exc, m, checks)
            if not exc.contended or attempt == CONTENDED_ATTEMPTS - 1:
                raise _unexpected(exc, "the stock") from exc
            time.sleep(0.05 * (attempt + 1))


# ---- reads ---------------------------------------------------------------------------------------------


def get_part(sku: str) -> PartModel | None:
    bind_tables()
    try:
        return PartModel.get(sku)
    except PartModel.DoesNotExist:
        return None


def batch_get_parts(skus: list[str]) -> dict[str, PartModel]:
    bind_tables()
    return {p.sku: p for p in PartModel.batch_get(list(dict.fromkeys(skus)))}


def query_parts(limit: int, cursor: dict[str, Any] | None) -> Page[PartModel]:
    bind_tables()
    cursor = _cursor(cursor, PartModel, PartModel.by_listing, "part")
    return _page(PartModel.by_listing.query("part", limit=limit, last_evaluated_key=cursor))


def all_parts() -> list[PartModel]:
    bind_tables()
    return list(PartModel.by_listing.query("part"))


def query_part_fits(lamp_model: str, limit: int, cursor: dict[str, Any] | None) -> Page[PartFitModel]:
    bind_tables()
    cursor = _cursor(cursor, PartFitModel, hash_value=lamp_model)
    return _page(PartFitModel.query(lamp_model, limit=limit, last_evaluated_key=cursor))


def find_location(location_id: str) -> LocationModel | None:
    bind_tables()
    try:
        return LocationModel.get(location_id)
    except LocationModel.DoesNotExist:
        return None


def van_of(engineer_id: str) -> LocationModel | None:
    """The engineer's van (one per engineer), or None."""
    bind_tables()
    found = list(LocationModel.by_engineer.query(engineer_id, limit=1))
    return found[0] if found else None


def query_locations(kind: str | None, limit: int, cursor: dict[str, Any] | None) -> Page[LocationModel]:
    bind_tables()
    condition = LocationModel.sort_key.startswith(f"{kind}#") if kind else None
    cursor = _cursor(cursor, LocationModel, LocationModel.by_listing, "location")
    return _page(LocationModel.by_listing.query("location", condition, limit=limit, last_evaluated_key=cursor))


def query_engineer_locations(engineer_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[LocationModel]:
    bind_tables()
    cursor = _cursor(cursor, LocationModel, LocationModel.by_engineer, engineer_id)
    return _page(LocationModel.by_engineer.query(engineer_id, limit=limit, last_evaluated_key=cursor))


def levels_at(location_id: str) -> list[StockLevelModel]:
    bind_tables()
    return list(StockLevelModel.query(location_id, consistent_read=True))


def query_movements(location_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[StockMovementModel]:
    """A location's log, newest first."""
    bind_tables()
    cursor = _cursor(cursor, StockMovementModel, hash_value=location_id)
    return _page(
        StockMovementModel.query(location_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
    )


def ticket_movements(ticket_id: str) -> list[StockMovementModel]:
    """Every movement made for a ticket (prepared, consumed, returned), oldest first: one leg each."""
    bind_tables()
    return list(StockMovementModel.by_ticket.query(ticket_id))


def user_exists(user_id: str) -> UserModel | None:
    bind_tables()
    try:
        return UserModel.get(user_id)
    except UserModel.DoesNotExist:
        return None


__all__ = [
    "LocationModel",
    "Movement",
    "MoveChecks",
    "PartFitModel",
    "PartModel",
    "StockLevelModel",
    "StockMovementModel",
    "add_consumption",
    "add_movement",
    "raise_for_stock",
]
