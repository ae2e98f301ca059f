"""Local data on disk for the embedded moto: a snapshot plus the write journal since it.

`.local/snapshot.json` holds every table and object as of one moment; `journal-NNNNNN.jsonl`
files hold every write acknowledged after it (`local_aws.journal`). Start: load the snapshot,
replay the newer journals in order. Compaction (every 30 s while writes arrive, and on stop):
copy the state and switch to the next journal file under the moto lock (measured: 130 ms for
20,000 items, so requests wait that long at most once per period),
then write the snapshot to a temporary file, fsync it, rename it over the old one and delete the
journals it covers. A kill at any point leaves either the old snapshot and every journal, or the
new snapshot, which names the last journal it covers ("journal"), and the journals after it.

Snapshot format 1 (still read as written by earlier versions, which had no "journal" and no
"metadata"): {"format": 1, "journal": N, "tables": {base table name: [items in DynamoDB JSON]},
"s3": {key: {"content_type", "metadata", "data": base64}}}.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from moto.s3.models import FakeKey

from chalicelib.domain.assets import location_key
from chalicelib.models.base import MODELS
from local_aws.journal import (
    Journal,
    apply_entry,
    backends,
    journal_files,
    journal_path,
    json_default,
    put_s3_object,
    read_entries,
    s3_object,
)
from local_aws.moto_patches import LOCK, Serial

SNAPSHOT_NAME = "snapshot.json"


def _current_location_key(item: dict[str, Any]) -> dict[str, Any]:
    """Snapshots written before a change to the key's format still list their rooms."""
    if "location_key" in item:
        key = location_key(item["room_id"]["S"], item["position"]["S"], item["lamp_id"]["S"])
        item = {**item, "location_key": {"S": key}}
    return item


def capture(bucket: str) -> dict[str, Any]:
    """Every table and object as it is now; the caller holds LOCK so that no write is half-seen."""
    dynamodb, s3 = backends()
    tables: dict[str, list[dict[str, Any]]] = {}
    for model in MODELS:
        table = dynamodb.get_table(model.Meta.table_name)
        tables[model.Meta.base_name] = [item.to_json()["Attributes"] for item in table.all_items()]  # type: ignore[attr-defined]
    objects: dict[str, Any] = {}
    for key_name in list(s3.get_bucket(bucket).keys):
        obj = s3.get_bucket(bucket).keys.get(key_name)
        if isinstance(obj, FakeKey):  # not a delete marker
            objects[key_name] = s3_object(obj)
    return {"format": 1, "tables": tables, "s3": objects}


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        json.dump(data, f, separators=(",", ":"), default=json_default)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic: a kill mid-write leaves the previous snapshot whole
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself
    finally:
        os.close(fd)


def load_snapshot(path: Path, bucket: str) -> tuple[int, int]:
    """Puts the snapshot's items and objects into moto; returns (items, last journal it covers)."""
    data = json.loads(path.read_text())
    dynamodb, s3 = backends()
    count = 0
    for model in MODELS:
        items = data["tables"].get(model.Meta.base_name, [])  # type: ignore[attr-defined]
        if model.Meta.base_name == "lamps":  # type: ignore[attr-defined]
            items = [_current_location_key(item) for item in items]
        for item in items:
            dynamodb.put_item(model.Meta.table_name, item)
        count += len(items)
    for key_name, obj in data.get("s3", {}).items():
        put_s3_object(s3, bucket, key_name, obj)
    return count, int(data.get("journal", 0))


class LocalStore:
    """The data directory of `make run`: restore on start, journal while serving, compact."""

    def __init__(self, data_dir: Path, bucket: str, serial: Serial):
        self.data_dir, self.bucket, self.serial = data_dir, bucket, serial
        self.snapshot_path = data_dir / SNAPSHOT_NAME
        self.journal: Journal | None = None
        self._next_seq = 1
        self._compacting = threading.Lock()  # one compaction at a time (the timer and the stop)

    def discard(self) -> None:
        """`--fresh`: forget the saved data (the journals first: they only make sense on their snapshot)."""
        for _, path in journal_files(self.data_dir):
            path.unlink()
        self.snapshot_path.unlink(missing_ok=True)

    def restore(self) -> tuple[int, int] | None:
        """Loads the snapshot and replays the journals after it, in order.

        Returns (items in the snapshot, operations replayed), or None when there was no saved data.
        """
        journals = journal_files(self.data_dir)
        found = self.snapshot_path.exists() or bool(journals)
        covered = replayed = items = 0
        dynamodb, s3 = backends()
        with LOCK:
            if self.snapshot_path.exists():
                items, covered = load_snapshot(self.snapshot_path, self.bucket)
            for seq, path in journals:
                if seq > covered:
                    for entry in read_entries(path):
                        apply_entry(entry, dynamodb, s3)
                        replayed += 1
        self._next_seq = max([covered, *(seq for seq, _ in journals)]) + 1
        return (items, replayed) if found else None

    def start_journal(self) -> None:
        """From now on every acknowledged write is on disk before its answer leaves moto.

        Called after `restore` (and after loading demo data, which is then saved by the first
        compaction as a whole: a start that fails halfway through the demo data leaves nothing)."""
        with LOCK:
            self.journal = Journal(self.data_dir, self._next_seq)
            self.serial.journal = self.journal

    def compact(self, *, force: bool = False) -> bool:
        """Folds the journal into a new snapshot; False if nothing was written since the last one."""
        with self._compacting:
            journal = self.journal
            if journal is None:
                return False
            with LOCK:
                if not (force or journal.dirty):
                    return False
                data = capture(self.bucket)
                data["journal"] = journal.rotate()  # every write so far is in `data`, later ones go on
            _write_atomically(self.snapshot_path, data)
            for seq, path in journal_files(self.data_dir):
                if seq <= data["journal"]:
                    path.unlink(missing_ok=True)
            return True

    def close(self) -> None:
        """Final compaction, then the journal refuses writes: a straggling request fails instead of
        being acknowledged without a trace on disk."""
        self.compact(force=True)
        with LOCK:
            if self.journal is not None:
                self.journal.close()
                if not self.journal.dirty:  # nothing after the final snapshot: leave no empty file
                    journal_path(self.data_dir, self.journal.seq).unlink(missing_ok=True)
