"""The lamp import through the real `make run` server over HTTP, not only in-process (issue 8).

In-process (section d) the app calls moto directly; under `make run` every DynamoDB call goes
over HTTP to moto's server and through the lock and the journal that make the local stack
serializable and durable (`local_aws`). This posts a CSV equipment list (the same generator as
section d) to a demo school of a freshly started server, as an admin, then the same file again
(idempotent: nothing created), and reports rows per second for each.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.bench_keepalive import HOST, ServerProcess, free_port
from devtools.bench_lamp_import import equipment_csv


@dataclass
class ServerImport:
    label: str
    rows: int
    status: int
    seconds: float
    body: Any
    startup_seconds: float
    stopped_cleanly: bool

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")


def _call(port: int, method: str, path: str, token: str, body: bytes | None, content_type: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=1800)  # a slow import is a figure, not an error
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw or b"null")
    finally:
        conn.close()


def measure(original_env: dict[str, str], rows: int = 2000) -> list[ServerImport]:
    """`original_env`: the environment the benchmark was started with (the server sets its own AWS_* and LAMPCARE_*)."""
    from devtools.token import token_for

    env = {k: v for k, v in original_env.items() if not k.startswith(("AWS_", "LAMPCARE_"))}
    body = equipment_csv(rows)
    timed: list[tuple[str, int, float, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lampcare-bench-server-import-") as tmp:
        started = time.perf_counter()
        server = ServerProcess(Path(tmp), free_port(), env)
        try:
            server.wait_ready(timeout=120)
            startup = time.perf_counter() - started
            token = token_for("admin", None, Path(tmp))
            status, schools = _call(server.port, "GET", "/schools", token, None, "application/json")
            if status != 200 or not schools["items"]:
                raise RuntimeError(f"bench: GET /schools returned {status}: {schools}")
            path = f"/schools/{schools['items'][0]['school_id']}/lamps/import"
            for label in ("first import", "same file again (idempotent)"):
                began = time.perf_counter()
                status, reply = _call(server.port, "POST", path, token, body, "text/csv")
                timed.append((label, status, time.perf_counter() - began, reply))
        finally:
            clean = server.stop()
    return [ServerImport(label, rows, status, s, reply, startup, clean) for label, status, s, reply in timed]


if __name__ == "__main__":
    for run in measure(dict(os.environ), int(sys.argv[1]) if len(sys.argv) > 1 else 2000):
        summary = (
            {k: run.body.get(k) for k in ("created", "unchanged", "failed")} if isinstance(run.body, dict) else run.body
        )
        print(
            f"{run.label}: status {run.status} {summary}, {run.seconds:.1f} s, {run.rows_per_second:,.0f} rows/s "
            f"(server started in {run.startup_seconds:.0f} s, stopped {'cleanly' if run.stopped_cleanly else 'badly'})",
            file=sys.stderr,
        )
