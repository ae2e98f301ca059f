"""The write-ahead journal of the embedded moto: what makes an acknowledged local write durable.

Every successful write to moto's DynamoDB (PutItem, UpdateItem, DeleteItem, TransactWriteItems,
BatchWriteItem) and S3 (PutObject, presigned-POST uploads, DeleteObject, copies) appends one line
to `journal-NNNNNN.jsonl`. The line holds the after-image of every item or object the operation
touched (the item as it now is, or "deleted"), so replaying lines in order reproduces the exact
state: no request is re-evaluated, no counter can move twice. Lines are appended by the patches in
`local_aws.moto_patches` while they hold the process-wide moto lock, after moto applied the write
and before its response leaves moto: a response the client sees is already on disk.

A line is one `os.write` on an O_APPEND file descriptor followed by `os.fsync`. The write alone
survives `kill -9` (the data sits in the OS page cache); the fsync (~0.15 ms here) also survives a
power cut. A process killed in the middle of a write leaves a torn last line without its newline:
that operation was never acknowledged, and `read_entries` drops it.

Not journaled: table operations (every start creates the tables from the model definitions)
and PartiQL statements (ExecuteStatement and friends), which the app does not use.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.s3.models import FakeKey, S3Backend, s3_backends

DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
_NAME = re.compile(r"^journal-(\d{6,})\.jsonl$")


def journal_path(directory: Path, seq: int) -> Path:
    return directory / f"journal-{seq:06d}.jsonl"


def journal_files(directory: Path) -> list[tuple[int, Path]]:
    """Every journal in `directory`, oldest first."""
    found = [(int(m.group(1)), p) for p in directory.glob("journal-*.jsonl") if (m := _NAME.match(p.name))]
    return sorted(found)


def backends(region: str | None = None) -> tuple[DynamoDBBackend, S3Backend]:
    """The backends the local stack uses: fake credentials map to moto's default account."""
    region = region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region], s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def json_default(value: Any) -> Any:
    if isinstance(value, bytes):  # a binary attribute: DynamoDB's wire format is base64
        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Journal:
    """One open journal file; `rotate` closes it and starts the next number (compaction)."""

    def __init__(self, directory: Path, seq: int):
        self.directory = directory
        self.seq = seq
        self.dirty = False  # anything appended since the file was opened
        self._guard = threading.Lock()  # the moto lock already serialises callers; this keeps `close` safe
        self._fd: int | None = self._open(seq)

    def _open(self, seq: int) -> int:
        fd = os.open(journal_path(self.directory, seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_directory(self.directory)  # the new name itself must survive a power cut
        return fd

    def append(self, entry: dict[str, Any]) -> None:
        data = (json.dumps(entry, separators=(",", ":"), default=json_default) + "\n").encode()
        with self._guard:
            if self._fd is None:
                raise RuntimeError("the local journal is closed; the write cannot be made durable")
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
            self.dirty = True

    def rotate(self) -> int:
        """Start the next journal file; returns the number of the one just closed."""
        with self._guard:
            closed = self.seq
            if self._fd is not None:
                os.close(self._fd)
            self.seq += 1
            self._fd = self._open(self.seq)
            self.dirty = False
            return closed

    def close(self) -> None:
        with self._guard:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """The complete lines of one journal; a torn last line (a write cut by a kill) is dropped."""
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                return  # torn: never acknowledged
            try:
                yield json.loads(raw)
            except ValueError:
                return


# ---- after-images (taken under the moto lock, right after moto applied the write) ----------------


def _put_key(backend: DynamoDBBackend, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


def _touched_keys(backend: DynamoDBBackend, action: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if action == "PutItem":
        return [(params["TableName"], _put_key(backend, params["TableName"], params["Item"]))]
    if action in ("UpdateItem", "DeleteItem"):
        return [(params["TableName"], dict(params["Key"]))]
    touched: list[tuple[str, dict[str, Any]]] = []
    if action == "TransactWriteItems":
        for entry in params["TransactItems"]:
            op_type, op = next(iter(entry.items()))
            if op_type == "Put":
                touched.append((op["TableName"], _put_key(backend, op["TableName"], op["Item"])))
            elif op_type in ("Update", "Delete"):
                touched.append((op["TableName"], dict(op["Key"])))
    elif action == "BatchWriteItem":
        for table_name, requests in params["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    touched.append((table_name, _put_key(backend, table_name, request["PutRequest"]["Item"])))
                else:
                    touched.append((table_name, dict(request["DeleteRequest"]["Key"])))
    return touched


def dynamodb_entry(backend: DynamoDBBackend, action: str, params: dict[str, Any]) -> dict[str, Any]:
    images: list[dict[str, Any]] = []
    for table_name, key in _touched_keys(backend, action, params):
        item = backend.get_item(table_name, key)
        if item is None:
            images.append({"table": table_name, "delete": key})
        else:
            images.append({"table": table_name, "put": item.to_json()["Attributes"]})
    return {"dynamodb": images}


def s3_object(obj: FakeKey) -> dict[str, Any]:
    return {
        "content_type": obj.metadata.get("Content-Type", "binary/octet-stream"),  # case-insensitive keys
        "metadata": dict(obj.metadata),
        "data": base64.b64encode(obj.value).decode(),
    }


def s3_entry(backend: S3Backend, touched: Iterable[tuple[str, str]]) -> dict[str, Any]:
    images: list[dict[str, Any]] = []
    for bucket_name, key_name in dict.fromkeys(touched):  # once each, in first-touched order
        obj = backend.get_bucket(bucket_name).keys.get(key_name)
        if isinstance(obj, FakeKey):
            images.append({"bucket": bucket_name, "key": key_name, "put": s3_object(obj)})
        else:
            images.append({"bucket": bucket_name, "key": key_name, "delete": True})
    return {"s3": images}


# ---- replay ---------------------------------------------------------------------------------------


def put_s3_object(backend: S3Backend, bucket_name: str, key_name: str, obj: dict[str, Any]) -> None:
    new = backend.put_object(bucket_name, key_name, base64.b64decode(obj["data"]), disable_notification=True)
    new.set_metadata(dict(obj.get("metadata") or {"Content-Type": obj["content_type"]}))


def apply_entry(entry: dict[str, Any], dynamodb: DynamoDBBackend, s3: S3Backend) -> None:
    for image in entry.get("dynamodb", []):
        if "put" in image:
            dynamodb.put_item(image["table"], image["put"])
        elif dynamodb.get_item(image["table"], image["delete"]) is not None:
            dynamodb.delete_item(image["table"], image["delete"])
    for image in entry.get("s3", []):
        if "put" in image:
            put_s3_object(s3, image["bucket"], image["key"], image["put"])
        elif image["key"] in s3.get_bucket(image["bucket"]).keys:
            s3.delete_object(image["bucket"], image["key"])
