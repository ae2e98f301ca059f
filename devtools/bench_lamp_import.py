"""The big equipment-list import: a 10,000-row CSV posted once, then the same file again.

The first import registers every lamp (transactions of 33 lamps); the second must be
idempotent (nothing created) and should cost reads only. Runs in its own moto account,
so the 10,000 lamps never slow down the per-route measurements.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from devtools.bench_stack import Stack
from local_aws.calls import record_calls

ROOMS_PER_FLOOR = 10
LAMPS_PER_ROOM = 40


@dataclass
class ImportRun:
    label: str
    rows: int
    status: int
    seconds: float
    calls: Counter[str]
    body: Any

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")

    @property
    def scans(self) -> int:
        return self.calls["Scan"] + self.calls["ParallelScan"]


def equipment_csv(rows: int) -> bytes:
    """Rooms of 40 lamps, 10 rooms a floor, as a school's equipment list would be laid out."""
    lines = ["room_id,building,floor,position,model,serial,batch,installed_on,accepted_on"]
    for n in range(rows):
        room, position = divmod(n, LAMPS_PER_ROOM)
        floor = room // ROOMS_PER_FLOOR + 1
        lines.append(
            f"R{floor}-{room % ROOMS_PER_FLOOR + 1:02d},A,{floor},{position + 1},EP-LED-40,"
            f"BULK{n:07d},2025-B07,2025-08-18,2025-09-01"
        )
    return ("\n".join(lines) + "\n").encode()


def measure(stack: Stack, rows: int) -> list[ImportRun]:
    contract = stack.ok(
        stack.request("POST", "/contracts", "admin", {"code": "BULK", "name": "Bulk import"}), 201, "contract"
    )
    school = stack.ok(
        stack.request(
            "POST",
            "/schools",
            "admin",
            {
                "contract_id": contract["contract_id"],
                "code": "BULK1",
                "name": "Bulk school",
                "address": "3 Xueyuan Road",
                "latitude": 31.2,
                "longitude": 121.4,
            },
        ),
        201,
        "school",
    )
    body = equipment_csv(rows)
    path = f"/schools/{school['school_id']}/lamps/import"
    runs = []
    for label in ("first import", "same file again (idempotent)"):
        with record_calls() as log:
            started = time.perf_counter()
            reply = stack.request("POST", path, "dispatcher", body, content_type="text/csv")
            seconds = time.perf_counter() - started
        runs.append(ImportRun(label, rows, reply.status, seconds, Counter(log.dynamodb()), reply.body))
    return runs
