"""One DynamoDB transaction whose refusals say which item refused.

Each operation is added with a label ("ticket", "serial:ABC123", "lamp:l_1"). When DynamoDB
cancels the transaction, its cancellation reasons come back one per item, in the order the
items were sent; pynamodb sends condition checks, then deletes, then puts, then updates. The
labels are lined up in that order, so `TransactionRefused.failed` names exactly the items
whose conditions failed, and the named write functions in `access.py` turn those into the
right domain error. Nothing outside `chalicelib/models/` sees this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

_ORDER = ("check", "delete", "put", "update")
CONDITION_FAILED = "ConditionalCheckFailed"


class TransactionRefused(Exception):
    """The transaction changed nothing. `failed`: labels whose condition failed; `contended`: another
    transaction held an item (DynamoDB's TransactionConflict), so the same request may succeed on retry."""

    def __init__(self, failed: list[str], contended: bool):
        super().__init__(f"transaction refused: failed={failed} contended={contended}")
        self.failed = failed
        self.contended = contended

    def failed_with(self, prefix: str) -> list[str]:
        return [label.removeprefix(prefix) for label in self.failed if label.startswith(prefix)]


@dataclass
class _Op:
    kind: str
    label: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


class Transaction:
    """Collects labelled writes; `commit()` sends them as one TransactWriteItems (at most 100 items)."""

    def __init__(self) -> None:
        self._ops: list[_Op] = []

    def __len__(self) -> int:
        return len(self._ops)

    def put(self, item: Model, *, condition: Condition | None = None, label: str = "") -> None:
        self._ops.append(_Op("put", label, (item,), {"condition": condition}))

    def update(
        self, item: Model, actions: list[Action], *, condition: Condition | None = None, label: str = ""
    ) -> None:
        self._ops.append(_Op("update", label, (item, actions), {"condition": condition}))

    def delete(self, item: Model, *, condition: Condition | None = None, label: str = "") -> None:
        self._ops.append(_Op("delete", label, (item,), {"condition": condition}))

    def check(
        self, model: type[Model], hash_key: Any, range_key: Any = None, *, condition: Condition, label: str = ""
    ) -> None:
        self._ops.append(_Op("check", label, (model, hash_key, range_key), {"condition": condition}))

    def commit(self, connection: Connection) -> None:
        if not self._ops:
            return
        ordered = sorted(self._ops, key=lambda op: _ORDER.index(op.kind))  # stable: keeps order within a kind
        try:
            with TransactWrite(connection=connection) as tx:
                for op in self._ops:
                    if op.kind == "put":
                        tx.save(op.args[0], condition=op.kwargs["condition"])
                    elif op.kind == "update":
                        tx.update(op.args[0], actions=op.args[1], condition=op.kwargs["condition"])
                    elif op.kind == "delete":
                        tx.delete(op.args[0], condition=op.kwargs["condition"])
                    else:
                        tx.condition_check(op.args[0], op.args[1], op.args[2], condition=op.kwargs["condition"])
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            reasons = exc.cancellation_reasons or []
            failed = [
                op.label
                for op, r in zip(ordered, reasons, strict=False)
                if r is not None and r.code == CONDITION_FAILED
            ]
            contended = any(r is not None and r.code == "TransactionConflict" for r in reasons)
            raise TransactionRefused(failed, contended) from exc
