"""Changes to moto: fast transaction rollback, and serializable, journaled operations.

## fast_transactions: rollback by per-item undo instead of whole-table copies

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

## serialized: one lock around every DynamoDB and S3 operation, and the write journal
moto's DynamoDB has no lock, and its server answers each request on its own thread: two
requests can interleave inside a transaction or a conditional write (lost updates, a counter
moved twice). `serialized()` runs every DynamoDB operation (reads included) and every S3 request
under one process-wide re-entrant lock, which makes the embedded DynamoDB serializable as the real
one is. While the lock is held, a successful write appends its after-images to the journal
(`local_aws.journal`) before the response leaves moto. In-process (the tests' `mock_aws`) the
lock is uncontended and no journal is set: harmless.

## key_limits: reads refuse a key DynamoDB refuses
DynamoDB answers a GetItem, BatchGetItem or Query whose partition key value is over 2,048 bytes (a sort
key over 1,024) with a ValidationException, as it does a write; moto 5.2 checks writes only, so a client's
oversized id that would fail on AWS is quietly "not found" here. `key_limits()` makes moto's reads check
the same sizes, with DynamoDB's messages.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as ddb_models
from moto.dynamodb.exceptions import HashKeyTooLong, RangeKeyTooLong
from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

from local_aws.journal import DYNAMODB_WRITES, Journal, dynamodb_entry, s3_entry


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
    ddb_models.copy = SimpleNamespace(deepcopy=_deepcopy_except_tables, copy=copy.copy)  # type: ignore[attr-defined,assignment]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        ddb_models.copy = original_copy_module  # type: ignore[attr-defined]


LOCK = threading.RLock()  # re-entrant: moto's own code may call back into a locked operation


class Serial:
    """The live switch of `serialized()`: `journal` is set once the local data is restored."""

    journal: Journal | None = None


_s3_request = threading.local()  # depth of S3 requests on this thread, and the objects they touched


def _locked_dynamodb(original: Any, serial: Serial) -> Any:
    def call_action(self: DynamoHandler) -> Any:
        with LOCK:
            response = original(self)
            journal = serial.journal
            if journal is not None and response[0] == 200:
                action = self._get_action()
                if action in DYNAMODB_WRITES:
                    journal.append(dynamodb_entry(self.dynamodb_backend, action, self.params))
            return response

    return call_action


def _locked_s3(original: Any, serial: Serial) -> Any:
    def response(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            depth = getattr(_s3_request, "depth", 0)
            if depth == 0:
                _s3_request.touched = []
            _s3_request.depth = depth + 1
            try:
                return original(self, *args, **kwargs)
            finally:
                _s3_request.depth = depth
                journal = serial.journal
                # after-images of whatever the request changed, even if it failed halfway: the journal
                # follows moto's state; a refused request touched nothing and writes no line
                if depth == 0 and journal is not None and _s3_request.touched:
                    journal.append(s3_entry(self.backend, _s3_request.touched))

    return response


def _noting_s3_write(original: Any) -> Any:
    def write(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        if getattr(_s3_request, "depth", 0):
            _s3_request.touched.append((bucket_name, key_name))
        return original(self, bucket_name, key_name, *args, **kwargs)

    return write


@contextmanager
def serialized() -> Iterator[Serial]:
    serial = Serial()
    originals: list[tuple[type, str, Any]] = [
        (DynamoHandler, "call_action", DynamoHandler.call_action),
        (S3Response, "bucket_response", S3Response.bucket_response),
        (S3Response, "key_response", S3Response.key_response),
        (S3Backend, "put_object", S3Backend.put_object),
        (S3Backend, "delete_object", S3Backend.delete_object),
    ]
    DynamoHandler.call_action = _locked_dynamodb(DynamoHandler.call_action, serial)  # type: ignore[method-assign]
    S3Response.bucket_response = _locked_s3(S3Response.bucket_response, serial)  # type: ignore[method-assign]
    S3Response.key_response = _locked_s3(S3Response.key_response, serial)  # type: ignore[method-assign]
    S3Backend.put_object = _noting_s3_write(S3Backend.put_object)  # type: ignore[method-assign]
    S3Backend.delete_object = _noting_s3_write(S3Backend.delete_object)  # type: ignore[method-assign]
    try:
        yield serial
    finally:
        serial.journal = None
        for owner, name, original in originals:
            setattr(owner, name, original)


def _too_long(value: DynamoType | None, limit: int) -> bool:
    return isinstance(value, DynamoType) and value.size() > limit


def _sized_get(original: Any) -> Any:
    def get_item(
        self: Table, hash_key: DynamoType, range_key: DynamoType | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        if _too_long(hash_key, HASH_KEY_MAX_LENGTH):
            raise HashKeyTooLong
        if _too_long(range_key, RANGE_KEY_MAX_LENGTH):
            raise RangeKeyTooLong
        return original(self, hash_key, range_key, *args, **kwargs)

    return get_item


def _sized_query(original: Any) -> Any:
    def query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
        if _too_long(hash_key, HASH_KEY_MAX_LENGTH):
            raise HashKeyTooLong
        return original(self, hash_key, *args, **kwargs)

    return query


@contextmanager
def key_limits() -> Iterator[None]:
    """GetItem (and so BatchGetItem) and Query refuse an oversized key value as DynamoDB does."""
    original_get, original_query = Table.get_item, Table.query
    Table.get_item = _sized_get(original_get)  # type: ignore[method-assign]
    Table.query = _sized_query(original_query)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.get_item = original_get  # type: ignore[method-assign]
        Table.query = original_query  # type: ignore[method-assign]
