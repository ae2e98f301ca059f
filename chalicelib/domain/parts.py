"""Spare parts and stock (D-P1..D-P4): the 3 % rule, the kinds of stock movement and what each needs.

Plain Python: no AWS, no HTTP, no storage. The models layer enforces quantities (a conditional
decrement never lets stock go below zero); this module says which movements make sense.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chalicelib.errors import Conflict, FieldProblem

# D-P1: the local store keeps at least 3 % of the installed quantity of each part.
MIN_STOCK_PERCENT = 3


def minimum_stock(installed_qty: int) -> int:
    """The least a depot must hold: 3 % of the installed quantity, rounded up (3 % of 40 lamps is 1.2:
    one part is not enough, two are). Integer arithmetic: no float rounding at the boundary."""
    if installed_qty <= 0:
        return 0
    return (installed_qty * MIN_STOCK_PERCENT + 99) // 100


def below_minimum(quantity: int, installed_qty: int) -> bool:
    """D-P1's flag: the stock is under 3 % of the installed quantity."""
    return quantity < minimum_stock(installed_qty)


class LocationKind(StrEnum):
    DEPOT = "depot"  # the local spare-parts store (D-P1)
    VAN = "van"  # an engineer's stock on the road


class MovementKind(StrEnum):
    RECEIVED = "received"  # into a depot from a supplier (D-P4)
    ISSUED = "issued"  # depot -> van
    PREPARED = "prepared"  # depot -> van for a yellow-or-worse ticket (D-P3)
    RETURNED = "returned"  # van -> depot: e.g. prepared parts not used (D-P3)
    CONSUMED = "consumed"  # used on a ticket, from a van or depot (D-P2): only with the ticket's own write
    ADJUSTED = "adjusted"  # a stock count's correction, into or out of one location; a note says why


@dataclass(frozen=True)
class MovementRule:
    source: LocationKind | None | bool  # the kind the stock leaves from; None: no source; True: any kind
    target: LocationKind | None | bool
    ticket_required: bool = False
    note_required: bool = False


RULES: dict[MovementKind, MovementRule] = {
    MovementKind.RECEIVED: MovementRule(None, LocationKind.DEPOT),
    MovementKind.ISSUED: MovementRule(LocationKind.DEPOT, LocationKind.VAN),
    MovementKind.PREPARED: MovementRule(LocationKind.DEPOT, LocationKind.VAN, ticket_required=True),
    MovementKind.RETURNED: MovementRule(LocationKind.VAN, LocationKind.DEPOT),
    MovementKind.CONSUMED: MovementRule(True, None, ticket_required=True),
    MovementKind.ADJUSTED: MovementRule(True, True, note_required=True),
}


def movement_problems(
    kind: MovementKind, from_location: str | None, to_location: str | None, ticket_id: str | None, note: str
) -> list[FieldProblem]:
    """What a movement of this kind lacks or must not have, each naming its field (empty: fine).
    An adjustment goes into one location or out of one, never both."""
    rule = RULES[kind]
    problems: list[FieldProblem] = []
    for field, wanted, value in (
        ("from_location_id", rule.source, from_location),
        ("to_location_id", rule.target, to_location),
    ):
        if wanted is None and value:
            problems.append(FieldProblem(field, f"a '{kind}' movement has no {field.split('_')[0]} location"))
        elif wanted not in (None, True) and not value:
            problems.append(FieldProblem(field, f"required: the {wanted} the parts go {field.split('_')[0]}"))
    if kind is MovementKind.ADJUSTED and bool(from_location) == bool(to_location):
        problems.append(
            FieldProblem("from_location_id", "an adjustment names either from_location_id or to_location_id")
        )
    if from_location and to_location and from_location == to_location:
        problems.append(FieldProblem("to_location_id", "must differ from from_location_id"))
    if rule.ticket_required and not ticket_id:
        problems.append(FieldProblem("ticket_id", f"required: a '{kind}' movement is for a ticket (D-P2, D-P3)"))
    if rule.note_required and not note.strip():
        problems.append(FieldProblem("note", f"required: say why the stock is {kind}"))
    return problems


@dataclass(frozen=True)
class TicketParts:
    """One part's movements for one ticket (D-P2, D-P3)."""

    sku: str
    prepared: int = 0
    consumed: int = 0
    returned: int = 0

    @property
    def outstanding(self) -> int:
        """Prepared for the ticket and neither used nor returned yet: what should come back to stock (D-P3).
        Parts used from the van's own stock may exceed what was prepared: never below zero."""
        return max(0, self.prepared - self.consumed - self.returned)


def ticket_parts(movements: list[tuple[str, str, int]]) -> list[TicketParts]:
    """Totals per SKU, in SKU order, of a ticket's (kind, sku, qty) movements."""
    totals: dict[str, dict[str, int]] = {}
    for kind, sku, qty in movements:
        counts = totals.setdefault(sku, {"prepared": 0, "consumed": 0, "returned": 0})
        if kind in counts:
            counts[kind] += qty
    return [TicketParts(sku, **counts) for sku, counts in sorted(totals.items())]


@dataclass(frozen=True)
class Shortage:
    location_id: str
    sku: str
    available: int


class InsufficientStock(Conflict):
    """A movement would take more of a part than a location holds: nothing was written."""

    code = "insufficient_stock"

    def __init__(self, shortages: list[Shortage], field: str = "qty"):
        first = shortages[0]
        super().__init__(
            f"not enough '{first.sku}' at '{first.location_id}': {first.available} available",
            details=[FieldProblem(field, f"only {s.available} of '{s.sku}' at '{s.location_id}'") for s in shortages],
            extra={
                "sku": first.sku,
                "location_id": first.location_id,
                "available": first.available,
                "shortages": [
                    {"sku": s.sku, "location_id": s.location_id, "available": s.available} for s in shortages
                ],
            },
        )
        self.shortages = shortages
