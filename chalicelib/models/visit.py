"""The engineer's visit (issue 11): the checks a work record adds to the ticket's transaction beyond
`access.apply_transition` and `stock.add_movement`. Here because it needs both modules (stock imports access)."""

from __future__ import annotations

from chalicelib.domain.parts import LocationKind
from chalicelib.errors import FieldProblem, Forbidden
from chalicelib.models.stock import LocationModel
from chalicelib.models.transactions import Transaction, TransactionRefused

LOCATION_LABEL = "visit-location:"


def add_location_check(tx: Transaction, location_id: str, engineer_id: str) -> None:
    """Parts are taken from a depot or from the engineer's own van, never another engineer's: a condition
    check in the same transaction (no extra round trip). A location that does not exist holds nothing: its
    stock level's condition refuses the decrement (409 insufficient_stock, available 0)."""
    condition = (LocationModel.kind != str(LocationKind.VAN)) | (LocationModel.engineer_id == engineer_id)
    tx.check(LocationModel, location_id, condition=condition, label=f"{LOCATION_LABEL}{location_id}")


def raise_for_location(exc: TransactionRefused, fields: dict[str, str]) -> None:
    """`fields`: location id -> the request field that named it."""
    for location_id in exc.failed_with(LOCATION_LABEL):
        raise Forbidden(
            f"'{location_id}' is another engineer's van: take parts from your van or a depot",
            details=[FieldProblem(fields.get(location_id, "parts"), "not your van")],
        ) from exc
