"""A change to moto: transaction rollback by per-item undo instead of whole-table copies.

moto 5.2's `transact_write_items` deep-copies every table a transaction touches, once per
item of the transaction, so that it can roll back. Each transaction therefore costs
O(items in the touched tables x items in the transaction), and a 10,000-lamp import
(304 transactions of 99 items) takes hours instead of seconds. That cost is the
emulator's, not DynamoDB's, and it would swamp every number the benchmark prints.

`fast_transactions()` keeps moto's semantics (all of a transaction happens or none of
it) but backs up only the items the transaction names: before the call, each named
item is copied (or noted as absent); if moto raises, those items are put back. The
whole-table copy is skipped by handing moto a `copy` module whose `deepcopy` returns
tables as they are. Used by the benchmark, the functional tests and `make run`
(where a 10,000-row equipment list would otherwise take hours); the tests of
all-or-nothing writes run against it, so a rollback bug here fails them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as ddb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table


def _deepcopy_except_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _item_key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _patched_transact(original: Any) -> Any:
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        undo: list[tuple[str, dict[str, Any], Any]] = []
        try:
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                key = _item_key(self, op_type, op)
                undo.append((op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))))
        except Exception:  # noqa: BLE001 - a malformed request: let moto's own validation report it
            undo = []
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, before in reversed(undo):
                if before is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
            raise

    return transact_write_items


@contextmanager
def fast_transactions() -> Iterator[None]:
    original = DynamoDBBackend.transact_write_items
    original_copy_module = ddb_models.copy  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = _patched_transact(original)  # type: ignore[method-assign]
    ddb_models.copy = SimpleNamespace(deepcopy=_deepcopy_except_tables, copy=copy.copy)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        ddb_models.copy = original_copy_module  # type: ignore[attr-defined]
