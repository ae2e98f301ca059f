"""`make bench`: one markdown table of performance ratios, all measured side by side in one run.

What it measures, and why ratios: absolute times depend on the machine, a ratio between two
things measured in the same run on the same machine does not (much). So every number is
paired with a reference measured alongside it:

(a) cold start: `import app` against `import boto3`, fresh interpreters, Lambda-like env,
    median of 5 each, interleaved; plus which packages `import app` loads and what they
    cost, and a check that the request-only heavy packages stay out of it.
(b) DynamoDB calls per request for every route the app declares (a route without a
    benchmark case stops the run), with the operation names. Calls are what a request costs
    in DynamoDB, in latency and in money, wherever it runs.
(c) in-process latency per route (p50, p95) through `chalice.test.Client` on moto, against
    a floor route that does one GetItem through the same stack (`GET /health`).
(d) the 10,000-row lamp import: wall time, calls by operation, rows/s, and the same file
    imported again (idempotent: reads only); the peak memory of a 10,000-row XLSX import and of
    refusing hostile workbooks, each in a fresh app process (devtools/bench_lamp_import.py).
(e) keep-alive on the real local server: requests/s over one connection against a new
    connection per request.
(f) the lamp import through the real local server over HTTP (`make run`: moto's server, its lock
    and its write journal): rows/s (devtools/bench_server_import.py).
(g) the school's pages: each public page's weight in bytes as a browser gets it (HTML with its
    inline style and script) and its DynamoDB calls, and the browser test's time from opening
    a lamp's QR URL to seeing the reference (devtools/bench_pages.py).
(h) SLA timers (issue 10, devtools/bench_sla.py): on the `make run` server, how long after it falls
    due a timer records a breach or an escalation (Step Functions' clock against the deadline; p50
    and max over 24 timers, 72 records), and, in-process, the DynamoDB items the reconciliation reads
    per run with 10 and with 10,000 watched tickets that are not due (the same: it reads a due index).
(i) reports (issue 13, devtools/bench_reports.py): the aggregate rows of 200,000 tickets over 100 schools
    and 12 months loaded, one school's monthly SLA report read (items read: at most 100), then 200,000 more
    tickets loaded and the same report read again (the same items: a report reads its rows, not the tickets).

Budgets live here and only here: timed tests would be flaky, so tests assert behaviour and
call counts, and this report says whether the budgets hold. It never asserts a time; it
exits 1 only when a budget below is broken (and says which), 2 when a route has no case.
Progress goes to stderr, so stdout is the report alone (paste it into the README or an issue).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devtools.bench_stack import Stack

# ---- budgets ------------------------------------------------------------------------------------

COLD_IMPORT_MAX_RATIO = 1.5  # import app / import boto3
KEEPALIVE_MIN_RATIO = 1.0  # keep-alive req/s / new-connection req/s
SCAN_BUDGET = 0  # DynamoDB Scans on any request path: lists and reports Query
PAGE_MAX_BYTES = 60 * 1024  # a public page: HTML, CSS and script together (issue 9)
IMPORT_PEAK_MB = 256  # peak RSS of the app process importing a 10,000-row XLSX, or refusing a bomb (issue 8)
TIMER_MAX_LATE_S = 2.0  # an SLA timer records a breach within 2 s of its deadline (issue 10, Done when)


@dataclass
class Row:
    section: str
    measurement: str
    calls: str = ""
    time: str = ""
    ratio: str = ""
    budget: str = ""
    met: bool | None = None  # None: nothing to meet

    def cells(self) -> list[str]:
        met = "" if self.met is None else "yes" if self.met else "**NO**"
        return [self.section, self.measurement, self.calls, self.time, self.ratio, self.budget, met]


HEADER = ["Section", "Measurement", "DynamoDB calls", "Time", "Ratio", "Budget", "Met"]


def markdown_table(rows: Iterable[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def calls_cell(operations: list[str] | Counter[str]) -> str:
    counts = operations if isinstance(operations, Counter) else Counter(operations)
    total = sum(counts.values())
    if not total:
        return "0"
    parts = [name if n == 1 else f"{name} ×{n}" for name, n in counts.most_common()]
    return f"{total}: " + ", ".join(parts)


def ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}" if value < 100 else f"{value:.0f}"


# ---- sections -----------------------------------------------------------------------------------


def cold_import_rows(runs: int) -> tuple[list[Row], list[str]]:
    from devtools import bench_cold_import

    result = bench_cold_import.measure(runs)

    def timing(runs_of: list[bench_cold_import.Timing]) -> str:
        walls = [t.wall_ms for t in runs_of]
        return (
            f"CPU {result.median(runs_of, 'cpu_ms'):.0f} ms · wall {result.median(runs_of, 'wall_ms'):.0f} ms "
            f"(wall min {min(walls):.0f}, max {max(walls):.0f})"
        )

    cpu_ratio, wall_ratio = result.ratio("cpu_ms"), result.ratio("wall_ms")
    top = [f"{name} {value:.0f}" for name, value in list(result.app_packages_ms.items())[:9] if value >= 1]
    loaded = result.forbidden_loaded
    broken = (
        []
        if cpu_ratio <= COLD_IMPORT_MAX_RATIO
        else [
            f"cold import: `import app` / `import boto3` = {cpu_ratio:.2f} (CPU time), budget ≤ {COLD_IMPORT_MAX_RATIO}"
        ]
    )
    return [
        Row("a cold import", f"`import app`, median of {runs}, fresh interpreter, Lambda env", time=timing(result.app)),
        Row(
            "a cold import", f"`import boto3`, median of {runs}, interleaved with the above", time=timing(result.boto3)
        ),
        Row(
            "a cold import",
            f"app / boto3, CPU time (wall-clock ratio {wall_ratio:.2f})",
            ratio=f"{cpu_ratio:.2f}",
            budget=f"≤ {COLD_IMPORT_MAX_RATIO}",
            met=cpu_ratio <= COLD_IMPORT_MAX_RATIO,
        ),
        Row(
            "a cold import",
            "where `import app` spends its time (ms in each package's own modules, `-X importtime`)",
            time=", ".join(top),
        ),
        Row(
            "a cold import",
            "heavy packages `import app` must not load (needed by some requests or by tests only): "
            + ", ".join(bench_cold_import.MUST_NOT_LOAD),
            time="loaded: " + (", ".join(f"**{name}**" for name in loaded) if loaded else "none"),
            budget="check, not a budget",
            met=not loaded,
        ),
    ], broken


def route_rows(stack: Stack, requests: int, progress: ProgressFn) -> tuple[list[Row], list[str]]:
    from devtools import bench_routes

    results = bench_routes.measure(stack, requests, progress=progress)
    floor = next(r for r in results if r.case is bench_routes.FLOOR)
    floor_p50, floor_p95 = floor.percentile(0.50), floor.percentile(0.95)
    if floor.calls != ["GetItem"]:
        print(
            f"bench: the floor route made {floor.calls}, not one GetItem: its ratios mean something else now",
            file=sys.stderr,
        )
    rows = []
    broken = []
    for r in results:
        what = f"{r.case.method} {r.case.route} ({r.operation_id}): {r.case.label}"
        if r.status != r.case.status:
            what += f" — **status {r.status}**"
        calls = calls_cell(r.calls)
        if r.other_call_counts:
            calls += f" (other requests: {', '.join(str(n) for n in sorted(r.other_call_counts))})"
        if r.samples_ms:
            p50, p95 = r.percentile(0.50), r.percentile(0.95)
            timing = f"p50 {ms(p50)} · p95 {ms(p95)} ms (n={len(r.samples_ms)})"
            if r.stopped:
                timing += f"; **stopped: {r.stopped}**"
            ratio = f"{p50 / floor_p50:.1f}× · {p95 / floor_p95:.1f}×"
        else:
            timing, ratio = f"not timed: {r.skipped}", ""
        if len(r.scans) > SCAN_BUDGET:
            broken.append(f"{len(r.scans)} Scan(s): {r.case.method} {r.case.route} ({r.case.label})")
        rows.append(Row("b/c per route", what, calls, timing, ratio, "no Scan", len(r.scans) <= SCAN_BUDGET))
    return rows, broken


def lamp_import_rows(stack: Stack, rows: int) -> tuple[list[Row], list[str]]:
    from devtools import bench_lamp_import

    table = []
    broken = []
    for run in bench_lamp_import.measure(stack, rows):
        body = run.body if isinstance(run.body, dict) else {}
        outcome = (
            f"status {run.status}: {body.get('created', '?')} created, {body.get('unchanged', '?')} unchanged, "
            f"{body.get('failed', '?')} failed"
        )
        timing = f"{run.seconds:.1f} s · {run.rows_per_second:,.0f} rows/s"
        if run.scans > SCAN_BUDGET:
            broken.append(f"{run.scans} Scan(s) in the {run.rows:,}-row lamp import ({run.label})")
        table.append(
            Row(
                "d lamp import",
                f"{run.rows:,}-row CSV, {run.label} → {outcome}",
                calls_cell(run.calls),
                timing,
                budget="no Scan",
                met=run.scans <= SCAN_BUDGET,
            )
        )
    return table, broken


def import_memory_rows(rows: int, progress: ProgressFn) -> tuple[list[Row], list[str]]:
    from devtools import bench_lamp_import

    table = []
    broken = []
    for run in bench_lamp_import.measure_memory(rows, progress=progress):
        met = run.peak_mb <= IMPORT_PEAK_MB and run.status == run.expected_status
        if not met:
            broken.append(
                f"{run.label}: status {run.status} (expected {run.expected_status}), "
                f"peak {run.peak_mb:.0f} MB, budget ≤ {IMPORT_PEAK_MB} MB"
            )
        table.append(
            Row(
                "d lamp import",
                f"peak memory, {run.label} ({run.file_bytes:,} bytes) → status {run.status}: {run.outcome}",
                time=f"peak RSS {run.peak_mb:.0f} MB (+{run.growth_mb:.0f} MB over the process before it) · "
                f"{run.seconds:.2f} s",
                budget=f"≤ {IMPORT_PEAK_MB} MB",
                met=met,
            )
        )
    return table, broken


def keepalive_rows(original_env: dict[str, str], requests: int) -> tuple[list[Row], list[str]]:
    from devtools import bench_keepalive

    r = bench_keepalive.measure(original_env, requests)
    note = "" if r.reconnects == 0 else f", **{r.reconnects} reconnects**"
    broken = (
        []
        if r.ratio >= KEEPALIVE_MIN_RATIO
        else [
            f"keep-alive: {r.keepalive_rps:.0f} req/s over one connection / {r.new_connection_rps:.0f} req/s with a new "
            f"connection per request = {r.ratio:.2f}, budget ≥ {KEEPALIVE_MIN_RATIO}"
        ]
    )
    return [
        Row(
            "e keep-alive",
            f"`GET /health`, one reused connection ({r.requests_per_mode} requests, {r.rounds} rounds{note})",
            time=f"{r.keepalive_rps:.0f} req/s",
        ),
        Row(
            "e keep-alive",
            f"`GET /health`, a new connection per request ({r.requests_per_mode} requests, interleaved)",
            time=f"{r.new_connection_rps:.0f} req/s",
        ),
        Row(
            "e keep-alive",
            "keep-alive / new connection (`make run` server: started in "
            f"{r.startup_seconds:.0f} s, stopped by SIGINT {'with' if r.stopped_cleanly else '**without**'} its snapshot)",
            ratio=f"{r.ratio:.2f}",
            budget=f"≥ {KEEPALIVE_MIN_RATIO}",
            met=r.ratio >= KEEPALIVE_MIN_RATIO,
        ),
    ], broken


def server_import_rows(original_env: dict[str, str], rows: int) -> tuple[list[Row], list[str]]:
    from devtools import bench_server_import

    table = []
    for r in bench_server_import.measure(original_env, rows):
        body = r.body if isinstance(r.body, dict) else {}
        outcome = f"status {r.status}: {body.get('created', '?')} created, {body.get('unchanged', '?')} unchanged"
        table.append(
            Row(
                "f server import",
                f"{r.rows:,}-row CSV over HTTP to the `make run` server, {r.label} → {outcome}",
                time=f"{r.seconds:.1f} s · {r.rows_per_second:,.0f} rows/s",
            )
        )
    return table, []


def page_rows(stack: Stack) -> tuple[list[Row], list[str]]:
    from devtools import bench_pages

    table = []
    broken = []
    for r in bench_pages.measure(stack):
        page = r.status != 303  # a redirect has no page to weigh
        met = r.bytes <= PAGE_MAX_BYTES
        if not met:
            broken.append(f"{r.method} {r.route} ({r.label}): {r.bytes:,} bytes, budget ≤ {PAGE_MAX_BYTES:,}")
        table.append(
            Row(
                "g pages",
                f"{r.method} {r.route} as a browser: {r.label} → status {r.status}",
                calls_cell(r.calls),
                f"{r.bytes:,} bytes",
                f"{r.bytes / PAGE_MAX_BYTES:.0%} of budget" if page else "",
                f"≤ {PAGE_MAX_BYTES:,} bytes" if page else "",
                met if page else None,
            )
        )
    timing = bench_pages.scan_to_reference()
    table.append(
        Row(
            "g pages",
            "scan to reference: headless Chromium opens a lamp's QR URL, chooses a fault, attaches a photo "
            "(scaled in the page, uploaded to S3), submits, sees the reference (tests/e2e/test_report_page_browser.py)",
            time=f"{timing.seconds:.2f} s (measured {timing.measured_at}, {timing.browser})"
            if timing
            else "not measured: run `.venv/bin/python -m pytest tests/e2e/test_report_page_browser.py` first",
        )
    )
    return table, broken


def sla_rows(original_env: dict[str, str], timers: int, progress: ProgressFn) -> tuple[list[Row], list[str]]:
    from devtools import bench_sla

    broken = []
    precision = bench_sla.measure_precision(original_env, tickets=timers)
    progress("(h) timer precision measured")
    late_ok = precision.max() <= TIMER_MAX_LATE_S and precision.missing == 0 and precision.min() >= 0
    if not late_ok:
        broken.append(
            f"SLA timers: max {precision.max():.2f} s after the deadline (min {precision.min():.2f} s, "
            f"{precision.missing} never recorded), budget 0 to {TIMER_MAX_LATE_S} s"
        )
    kinds = ", ".join(
        f"{key} p50 {precision.p50(values):.2f} · max {precision.max(values):.2f} s"
        for key, values in precision.by_kind.items()
    )
    rows = [
        Row(
            "h SLA timers",
            f"deadline to recorded breach: {precision.tickets} red tickets opened a second apart on the `make run` "
            f"server (started in {precision.startup_seconds:.0f} s), {len(precision.lateness_s)} breaches and "
            f"escalations, recorded by: {dict(precision.recorded_by)}",
            time=f"p50 {precision.p50():.2f} s · max {precision.max():.2f} s (min {precision.min():.2f} s)",
            budget=f"0 to {TIMER_MAX_LATE_S:.0f} s",
            met=late_ok,
        ),
        Row("h SLA timers", f"the same, by entry: {kinds}"),
    ]
    reads = bench_sla.measure_reads()
    progress("(h) reconciliation reads measured")
    same = len({r.items_read for r in reads}) == 1
    if not same:
        broken.append(
            "SLA reconciliation: items read per run differ with the tickets not due: "
            + ", ".join(f"{r.items_read} beside {r.not_due:,}" for r in reads)
        )
    for r in reads:
        rows.append(
            Row(
                "h SLA timers",
                f"reconciliation run: {r.due} due tickets beside {r.not_due:,} watched but not due "
                f"({r.written} entries written) → {r.items_read} items read",
                calls_cell(r.calls),
                f"{r.seconds * 1000:.0f} ms in-process",
                budget="items read: the same with 10 and 10,000",
                met=same,
            )
        )
    return rows, broken


def report_rows(tickets: int, progress: ProgressFn) -> tuple[list[Row], list[str]]:
    from devtools import bench_reports

    results = bench_reports.measure(tickets=tickets)
    progress("(i) reports measured")
    rows = [
        Row(
            "i reports",
            measurement,
            calls,
            items,
            budget=f"<= {bench_reports.MAX_ITEMS} items, same when doubled",
            met=met,
        )
        for measurement, calls, items, met in bench_reports.rows_for_table(results)
    ]
    broken = (
        []
        if all(r.met for r in rows)
        else ["reports: a school's monthly SLA report read too many items, or more as the table grew"]
    )
    return rows, broken


# ---- run ------------------------------------------------------------------------------------------


class ProgressFn:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f} s] {message}", file=sys.stderr, flush=True)


def machine_info() -> list[str]:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("chalice", "pynamodb", "boto3", "moto", "pydantic")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"**Machine:** {os.cpu_count()} cores ({usable} usable), {cpu}; load average {load} at start",
        f"**Python:** {platform.python_implementation()} {platform.python_version()} on {platform.platform()}",
        f"**Packages:** {versions}",
        f"**Run:** {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prints the benchmark table (markdown).")
    parser.add_argument("--requests", type=int, default=75, help="timed requests per route (c)")
    parser.add_argument("--import-rows", type=int, default=10_000, help="rows in the big import (d)")
    parser.add_argument("--keepalive-requests", type=int, default=300, help="requests per connection mode (e)")
    parser.add_argument("--server-import-rows", type=int, default=2000, help="rows imported over HTTP (f)")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh interpreters per import (a)")
    parser.add_argument("--sla-timers", type=int, default=24, help="timers measured for precision (h), at least 20")
    parser.add_argument("--report-tickets", type=int, default=200_000, help="tickets whose aggregates (i) loads, twice")
    args = parser.parse_args(argv)

    from devtools import bench_routes
    from devtools.bench_stack import bench_environment, in_process_stack

    progress = ProgressFn()
    original_env = dict(os.environ)
    header = machine_info()
    rows: list[Row] = []
    broken: list[str] = []
    with bench_environment() as key_path:
        missing, stale = bench_routes.missing_cases()
        if missing or stale:
            for route in missing:
                print(
                    f"bench: route {route} has no benchmark case: add one to CASES in devtools/bench_routes.py",
                    file=sys.stderr,
                )
            for route in stale:
                print(f"bench: a case names {route}, which the app no longer declares", file=sys.stderr)
            return 2

        progress("(a) cold import")
        section_rows, section_broken = cold_import_rows(args.cold_runs)
        rows += section_rows
        broken += section_broken

        progress("(b, c) calls and latency per route")
        with in_process_stack(key_path) as stack:
            section_rows, section_broken = route_rows(stack, args.requests, progress)
        rows += section_rows
        broken += section_broken

        progress(f"(d) {args.import_rows:,}-row import")
        with in_process_stack(key_path) as stack:
            section_rows, section_broken = lamp_import_rows(stack, args.import_rows)
        rows += section_rows
        broken += section_broken
        section_rows, section_broken = import_memory_rows(args.import_rows, progress)
        rows += section_rows
        broken += section_broken

    progress("(e) keep-alive on the local server")
    section_rows, section_broken = keepalive_rows(original_env, args.keepalive_requests)
    rows += section_rows
    broken += section_broken

    progress(f"(f) {args.server_import_rows:,}-row import through the local server")
    section_rows, section_broken = server_import_rows(original_env, args.server_import_rows)
    rows += section_rows
    broken += section_broken

    progress("(g) the school's pages")
    with bench_environment() as key_path, in_process_stack(key_path) as stack:
        section_rows, section_broken = page_rows(stack)
    rows += section_rows
    broken += section_broken

    progress("(h) SLA timers")
    section_rows, section_broken = sla_rows(original_env, args.sla_timers, progress)
    rows += section_rows
    broken += section_broken

    progress(f"(i) reports over {args.report_tickets:,} and {2 * args.report_tickets:,} tickets")
    section_rows, section_broken = report_rows(args.report_tickets, progress)
    rows += section_rows
    broken += section_broken

    progress("(j) deployment package")
    from devtools import package

    measurement, sizes, met = package.bench_row()
    rows.append(Row("j package", measurement, time=sizes, budget="<= 25 MB zipped", met=met))
    broken += [] if met else ["package: the deployment package is over 25 MB zipped"]

    total = time.perf_counter() - progress.started
    print("\n".join(header) + "\n")
    print(markdown_table(rows))
    print(
        f"\nTimes: (a) inside fresh interpreters, budget on CPU time (wall time on a shared machine adds waits "
        f"for a core); (c) in-process through `chalice.test.Client` on moto, ratios to `GET /health` (one GetItem); "
        f"moto serialises every returned item in Python, so routes returning many or large items look slower "
        f"against the floor than they would on DynamoDB: the call counts are the portable numbers; (d) in-process on moto with per-item transaction rollback "
        f"(local_aws/moto_patches.py); (e, f) over TCP on 127.0.0.1; (h) timers on moto's Step Functions, whose "
        f"Wait counts whole seconds (a timer is handed its deadline rounded up plus a second, so it is never early and "
        f"at most 2 s late before the write itself); the reconciliation's time is moto's (its Query walks the whole "
        f"index in Python), its items read are what DynamoDB would bill. Whole run: {total:.0f} s."
    )
    if broken:
        print("\n**Budgets broken:**\n" + "\n".join(f"- {b}" for b in broken))
        return 1
    print("\nAll budgets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
