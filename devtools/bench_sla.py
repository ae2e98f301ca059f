"""SLA timers (issue 10): how close to its deadline a timer records a breach, and what the
reconciliation reads.

(h1) Timer precision on the real `make run` server (moto's Step Functions running
     infra/sla_timer.asl.json, its DynamoDB and SNS behind the lock and the journal): a contract whose
     policy counts in seconds, `tickets` red tickets opened a second apart, nobody acting
     on them; each breach and escalation the timers record (response, on-site, and the technical
     manager's rung) is one sample: the time the timer recorded it (Step Functions' clock) minus the
     time it fell due. The reconciliation is off (`--reconcile-every 0`): every sample is a timer's.
(h2) The reconciliation's DynamoDB reads per run, in-process on moto: the same few due tickets
     beside 10 and beside 10,000 tickets that are watched but not due (in the due index, due a day
     later). Items read = the Query's items + one consistent GetItem per due ticket; it must be the
     same number both times (it reads a due-time index, never the table).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.bench_keepalive import HOST, READY, free_port
from devtools.tiny_sla import TINY_POLICY

PROJECT_DIR = Path(__file__).resolve().parent.parent
RECORDS_PER_TICKET = 3  # response, onsite, onsite.3


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---- h1: timer precision on the make run server ---------------------------------------------------------


@dataclass
class Precision:
    tickets: int
    lateness_s: list[float]  # recorded_at - due_at, every record
    by_kind: dict[str, list[float]]
    recorded_by: Counter[str]
    missing: int  # records that never appeared
    startup_seconds: float
    stopped_cleanly: bool

    def p50(self, values: list[float] | None = None) -> float:
        data = self.lateness_s if values is None else values
        return statistics.median(data) if data else float("nan")

    def max(self, values: list[float] | None = None) -> float:
        data = self.lateness_s if values is None else values
        return max(data) if data else float("nan")

    def min(self) -> float:
        return min(self.lateness_s) if self.lateness_s else float("nan")


class _Server:
    """`python -m devtools.run_local --fresh` with extra options; output drained by a thread."""

    def __init__(self, data_dir: Path, port: int, env: dict[str, str], *options: str):
        self.port, self.data_dir = port, data_dir
        self.tail: deque[str] = deque(maxlen=80)
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.run_local",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--fresh",
                *options,
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.tail.append(line)
            if line.startswith(READY):
                self.ready.set()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the local server did not start:\n" + "".join(self.tail))

    def stop(self) -> bool:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return False
        return any("Snapshot written" in line for line in self.tail)

    def call(self, method: str, path: str, role: str, body: Any = None) -> tuple[int, Any]:
        from devtools.token import token_for

        request = urllib.request.Request(
            f"http://{HOST}:{self.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {token_for(role, None, self.data_dir)}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def ok(self, method: str, path: str, role: str, body: Any = None, status: int = 200) -> Any:
        code, answer = self.call(method, path, role, body)
        if code != status:
            raise RuntimeError(f"bench setup: {method} {path} returned {code}: {answer}")
        return answer


def measure_precision(
    original_env: dict[str, str], tickets: int = 24, spacing: float = 1.0, patience: float = 120.0
) -> Precision:
    """`original_env`: the environment the benchmark was started with (the server sets its own AWS_* and LAMPCARE_*)."""
    env = {k: v for k, v in original_env.items() if not k.startswith(("AWS_", "LAMPCARE_"))}
    with tempfile.TemporaryDirectory(prefix="lampcare-bench-sla-") as tmp:
        started = time.perf_counter()
        server = _Server(Path(tmp), free_port(), env, "--reconcile-every", "0")
        try:
            server.wait_ready(timeout=120)
            startup = time.perf_counter() - started
            contract = server.ok(
                "POST", "/contracts", "admin", {"code": "BENCH-SLA", "name": "Seconds", "policy": TINY_POLICY}, 201
            )
            school = server.ok(
                "POST",
                "/schools",
                "admin",
                {
                    "contract_id": contract["contract_id"],
                    "code": "BENCH-SLA",
                    "name": "Timer school",
                    "address": "1 Xueyuan Road",
                    "latitude": 31.23,
                    "longitude": 121.47,
                },
                201,
            )
            opened = []
            for _ in range(tickets):
                body = {
                    "source": "dispatcher",
                    "school_id": school["school_id"],
                    "category": "not_lit",
                    "level": 4,
                    "description": "bench",
                }
                opened.append(server.ok("POST", "/tickets", "dispatcher", body, 201)["ticket_id"])
                time.sleep(spacing)  # deadlines spread over seconds and their fractions
            views: dict[str, Any] = {}
            deadline = time.monotonic() + patience
            while time.monotonic() < deadline:
                for ticket_id in opened:
                    if len(views.get(ticket_id, {}).get("breaches", [])) < RECORDS_PER_TICKET:
                        views[ticket_id] = server.ok("GET", f"/tickets/{ticket_id}/sla", "dispatcher")
                if all(len(v["breaches"]) >= RECORDS_PER_TICKET for v in views.values()) and len(views) == tickets:
                    break
                time.sleep(0.5)
        finally:
            clean = server.stop()
    lateness: list[float] = []
    by_kind: dict[str, list[float]] = {}
    recorded_by: Counter[str] = Counter()
    for view in views.values():
        for record in view["breaches"]:
            late = (_parse(record["recorded_at"]) - _parse(record["due_at"])).total_seconds()
            lateness.append(late)
            by_kind.setdefault(record["key"], []).append(late)
            recorded_by[record["recorded_by"]] += 1
    missing = tickets * RECORDS_PER_TICKET - len(lateness)
    return Precision(tickets, lateness, by_kind, recorded_by, missing, startup, clean)


# ---- h2: the reconciliation's reads, in-process ------------------------------------------------------------


@dataclass
class Reads:
    not_due: int
    due: int
    items_read: int
    calls: list[str] = field(default_factory=list)
    written: int = 0
    seconds: float = 0.0


@contextmanager
def _counting_reads() -> Iterator[Callable[[], tuple[int, list[str]]]]:
    """Counts the DynamoDB items every call of this process returns (Query/Scan: Count; GetItem: its
    Item; BatchGetItem: its Responses) and the DynamoDB operations called."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    seen: list[tuple[str, int]] = []

    def counting(self: BaseClient, operation: str, params: Any) -> Any:
        answer = original(self, operation, params)
        if self.meta.service_model.service_name == "dynamodb":
            items = 0
            if operation in ("Query", "Scan"):
                items = int(answer.get("Count", 0))
            elif operation == "GetItem":
                items = int("Item" in answer)
            elif operation == "BatchGetItem":
                items = sum(len(v) for v in answer.get("Responses", {}).values())
            seen.append((operation, items))
        return answer

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield lambda: (sum(n for _, n in seen), [op for op, _ in seen])
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _shifted_clone(template: Any, ticket_id: str, shift: dt.timedelta) -> Any:
    """A copy of a watched ticket under a new id, everything due `shift` later and its opening told."""
    from chalicelib.domain.sla_timer import Entry
    from chalicelib.models.access import TicketModel

    clone = TicketModel.from_raw_data(template.serialize(null_check=False))
    clone.ticket_id = ticket_id
    clone.ref = f"T-2099-{ticket_id[-6:]}"
    clone.public_ref = f"bench-{ticket_id}"
    for name in ("reported_at", "response_due", "onsite_due", "updated_at"):
        setattr(clone, name, getattr(template, name) + shift)
    plan = []
    for raw in template.sla_plan:
        entry = Entry.from_json(raw)
        plan.append(
            Entry(
                entry.key,
                entry.kind,
                entry.at + shift,
                entry.milestone,
                entry.deadline + shift if entry.deadline else None,
                entry.step,
                entry.roles,
            ).to_json()
        )
    clone.sla_plan = plan
    clone.notified_version = clone.sla_version
    return clone


def measure_reads(not_due_counts: tuple[int, ...] = (10, 10_000), due: int = 5) -> list[Reads]:
    from chalicelib.models import access
    from chalicelib.models.access import TicketModel
    from chalicelib.services import sweeps
    from devtools.bench_stack import bench_environment, in_process_stack

    results = []
    with bench_environment() as key_path, in_process_stack(key_path) as stack:
        contract = stack.ok(
            stack.request("POST", "/contracts", "admin", {"code": "BENCH-RECON", "name": "Reconciliation"}), 201, "c"
        )
        school = stack.ok(
            stack.request(
                "POST",
                "/schools",
                "admin",
                {
                    "contract_id": contract["contract_id"],
                    "code": "BENCH-RECON",
                    "name": "Reconciliation school",
                    "address": "1 Xueyuan Road",
                    "latitude": 31.23,
                    "longitude": 121.47,
                },
            ),
            201,
            "school",
        )

        def open_ticket(level: int) -> str:
            body = {
                "source": "dispatcher",
                "school_id": school["school_id"],
                "category": "not_lit",
                "level": level,
                "description": "bench",
            }
            return str(stack.ok(stack.request("POST", "/tickets", "dispatcher", body), 201, "ticket")["ticket_id"])

        def cancel(ticket_id: str) -> None:
            version = access.get_ticket(ticket_id).version
            body = {"action": "cancel", "version": version, "note": "bench: done"}
            stack.ok(stack.request("POST", f"/tickets/{ticket_id}/transitions", "dispatcher", body), 200, "cancel")

        template = access.get_ticket(open_ticket(1))  # blue: nobody told on opening, response due in 30 min
        made = 0
        for count in not_due_counts:
            with TicketModel.batch_write() as batch:
                for n in range(made, count):
                    clone = _shifted_clone(template, f"t_bench{n:08d}", dt.timedelta(days=1))
                    access._set_list_keys(clone)  # the due index's key, as every ticket write sets it
                    batch.save(clone)
            made = count
            due_ids = [open_ticket(4) for _ in range(due)]  # red: response due in 5 min
            # their openings told (as their timers would have): only their responses are due in the run
            sweeps.reconcile(clock=lambda: dt.datetime.now(dt.UTC) + sweeps.GRACE + dt.timedelta(seconds=1))
            tick = max(access.get_ticket(t).response_due for t in due_ids) + sweeps.GRACE + dt.timedelta(seconds=1)
            with _counting_reads() as counted:
                started = time.perf_counter()
                run = sweeps.reconcile(clock=lambda tick=tick: tick)
                seconds = time.perf_counter() - started
                items, calls = counted()
            results.append(Reads(count, len(run.tickets_due), items, calls, len(run.caught), seconds))
            for ticket_id in due_ids:  # out of the index: the next run's due tickets are its own
                cancel(ticket_id)
    return results


if __name__ == "__main__":
    for r in measure_reads():
        print(r.not_due, r.due, r.items_read, Counter(r.calls), r.written, f"{r.seconds:.2f}s", file=sys.stderr)
    p = measure_precision(dict(os.environ))
    print(
        f"precision: n={len(p.lateness_s)} p50={p.p50():.2f}s max={p.max():.2f}s min={p.min():.2f}s "
        f"missing={p.missing} by={dict(p.recorded_by)}",
        file=sys.stderr,
    )
