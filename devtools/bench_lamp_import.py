"""The big equipment-list import: a 10,000-row CSV posted once, then the same file again; and the
peak memory of a 10,000-row XLSX import and of refusing hostile workbooks.

The first import registers every lamp (transactions of 33 lamps); the second must be
idempotent (nothing created) and should cost reads only. Runs in its own moto account,
so the 10,000 lamps never slow down the per-route measurements.

Memory (issue 8: an equipment list must fit in a 512 MB Lambda): each file is posted by a
fresh interpreter that holds only what the Lambda holds (the app, boto3, chalice's test
client), against a moto server in another process, so moto's copy of 10,000 lamps is not
counted. The figure is that process's peak resident set over its whole life (VmHWM in
/proc/self/status; see `_memory_child` for why not ru_maxrss), as a Lambda's "Max Memory Used" is.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devtools.bench_stack import Stack

ROOMS_PER_FLOOR = 10
LAMPS_PER_ROOM = 40
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROJECT_DIR = Path(__file__).resolve().parent.parent


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


def _equipment_rows(rows: int) -> list[list[Any]]:
    """Rooms of 40 lamps, 10 rooms a floor, as a school's equipment list would be laid out."""
    table: list[list[Any]] = []
    for n in range(rows):
        room, position = divmod(n, LAMPS_PER_ROOM)
        floor = room // ROOMS_PER_FLOOR + 1
        table.append(
            [
                f"R{floor}-{room % ROOMS_PER_FLOOR + 1:02d}",
                "A",
                floor,
                position + 1,
                "EP-LED-40",
                f"BULK{n:07d}",
                "2025-B07",
                dt.date(2025, 8, 18),
                dt.date(2025, 9, 1),
            ]
        )
    return table


HEADER = ["room_id", "building", "floor", "position", "model", "serial", "batch", "installed_on", "accepted_on"]


def equipment_csv(rows: int) -> bytes:
    lines = [",".join(HEADER)]
    lines += [",".join(str(cell) for cell in row) for row in _equipment_rows(rows)]
    return ("\n".join(lines) + "\n").encode()


def equipment_xlsx(rows: int) -> bytes:
    """The same list as Excel saves it: shared strings, a declared size, dates as dates."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in _equipment_rows(rows):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def measure(stack: Stack, rows: int) -> list[ImportRun]:
    from local_aws.calls import record_calls

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


# ---- peak memory -------------------------------------------------------------------------------


@dataclass
class MemoryRun:
    label: str
    file_bytes: int
    expected_status: int
    status: int
    outcome: str
    seconds: float
    before_mb: float  # the app process's peak before the request (imports, tables, a school)
    peak_mb: float  # its peak over its whole life, the request included

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.before_mb


def memory_cases(rows: int) -> list[tuple[str, int, Callable[[], bytes]]]:
    """(label, the status it must get, the file)."""
    from tests import workbooks

    return [
        (f"{rows:,}-row XLSX (as Excel saves it)", 200, lambda: equipment_xlsx(rows)),
        ("size bomb: 1.5 KB XLSX declaring 2,000 x 16,384 cells", 422, workbooks.size_bomb),
        ("zip bomb: 60 MB of shared strings in 100 KB", 422, workbooks.zip_bomb),
        ("no declared size: 10 KB XLSX of a million empty rows", 422, workbooks.undeclared_rows),
    ]


def measure_memory(rows: int, progress: Callable[[str], None] = lambda _: None) -> list[MemoryRun]:
    """Each case in a fresh app process against its own moto server; the environment is the caller's
    (TEST_ENV and a signing key, as bench_stack.bench_environment sets them)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="lampcare-bench-memory-") as tmp:
        for label, expected, build in memory_cases(rows):
            path = Path(tmp) / "list.xlsx"
            path.write_bytes(build())
            progress(f"memory: {label}")
            with _moto_server() as endpoint:
                env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": str(PROJECT_DIR)}
                child = subprocess.run(
                    [sys.executable, "-m", "devtools.bench_lamp_import", "--memory-child", str(path), XLSX],
                    env=env,
                    cwd=PROJECT_DIR,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            if child.returncode != 0:
                raise RuntimeError(f"bench memory child failed ({label}): {child.stderr[-2000:]}")
            result = json.loads(child.stdout.strip().splitlines()[-1])
            runs.append(MemoryRun(label, path.stat().st_size, expected, **result))
    return runs


_MOTO_SERVER = """
import logging, os, sys
from moto.server import ThreadedMotoServer
from local_aws.moto_patches import fast_transactions
logging.getLogger("werkzeug").setLevel(logging.ERROR)
speedup = fast_transactions()
speedup.__enter__()  # held for the server's life
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{sys.argv[1]}"
from chalicelib.models.all import bind_tables, create_all_tables
bind_tables("test-")
create_all_tables()  # here, not in the app's process: a Lambda never creates its tables
print("ready", flush=True)
sys.stdin.read()  # until the benchmark closes the pipe
server.stop()
"""


@contextmanager
def _moto_server() -> Iterator[str]:
    """A moto server with every table, in its own process (its items are not the app's memory)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, "-c", _MOTO_SERVER, str(port)],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR), "MOTO_PORT": str(port)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("bench: the moto server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _memory_child(path: str, content_type: str) -> None:
    """Runs in the fresh process: sets up a school, posts the file once, prints JSON."""
    import resource

    from chalice.test import Client

    from chalicelib.auth import issue_local_token

    def peak_mb() -> float:
        # VmHWM, not ru_maxrss: on Linux ru_maxrss carries the parent's peak across fork and exec
        # (a child of a 300 MB parent starts at "300 MB"); VmHWM belongs to this process's own memory.
        try:
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
        except (OSError, StopIteration):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS

    from app import app

    token = issue_local_token(
        key_path=os.environ["LAMPCARE_AUTH_LOCAL_KEY_PATH"],
        issuer="lampcare-local",
        audience="lampcare-local",
        sub="bench-admin",
        roles=["admin"],
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with Client(app, stage_name="test") as client:

        def post(path: str, body: Any) -> Any:
            response = client.http.post(path, headers=headers, body=json.dumps(body))
            if response.status_code != 201:
                raise RuntimeError(f"bench setup: {path} returned {response.status_code}: {response.body!r}")
            return response.json_body

        contract = post("/contracts", {"code": "MEM", "name": "Memory"})
        school = post(
            "/schools",
            {
                "contract_id": contract["contract_id"],
                "code": "MEM1",
                "name": "Memory school",
                "address": "3 Xueyuan Road",
                "latitude": 31.2,
                "longitude": 121.4,
            },
        )
        body = Path(path).read_bytes()
        before = peak_mb()
        started = time.perf_counter()
        response = client.http.post(
            f"/schools/{school['school_id']}/lamps/import",
            headers={**headers, "Content-Type": content_type},
            body=body,
        )
        seconds = time.perf_counter() - started
        peak = peak_mb()
    reply = response.json_body or {}
    if "error" in reply:
        outcome = reply["error"]["message"]
        details = reply["error"].get("details") or []
        if details:
            outcome += f" ({details[0]['field']}: {details[0]['problem']})"
    else:
        outcome = f"{reply.get('created')} created, {reply.get('failed')} failed"
    print(
        json.dumps(
            {
                "status": response.status_code,
                "outcome": outcome,
                "seconds": seconds,
                "before_mb": before,
                "peak_mb": peak,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m devtools.bench_lamp_import [--rows N]`: the memory figures alone, as a small table."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--memory-child", nargs=2, metavar=("FILE", "CONTENT_TYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        _memory_child(*args.memory_child)
        return 0

    from devtools.bench_stack import bench_environment

    with bench_environment():
        runs = measure_memory(args.rows, progress=lambda m: print(m, file=sys.stderr, flush=True))
    for run in runs:
        print(
            f"{run.label}: {run.file_bytes:,} bytes → {run.status} {run.outcome}; {run.seconds:.2f} s; "
            f"peak RSS {run.peak_mb:.0f} MB (before the request {run.before_mb:.0f} MB, +{run.growth_mb:.0f} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
