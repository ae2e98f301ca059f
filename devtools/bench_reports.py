"""Reports (issue 13) in the benchmark: a case for each report route (added to bench_routes' CASES), and a
section showing that a report's cost does not grow with history.

The section (`python -m devtools.bench_reports`, or `measure()` from devtools/bench.py) loads the aggregate
rows of 200,000 tickets over 100 schools and 12 months (the rows the ticket writes would have left: each
synthetic ticket's facts through domain.reports, summed, batch-written), reads one school's monthly SLA
report through the service, counts the items it read, then loads 200,000 more tickets and reads again.
In-process on moto; a few seconds to a minute.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devtools.bench_routes import Case, World

MAX_ITEMS = 100  # issue 13, Done when: one school's monthly SLA report reads at most 100 items


def _q(w: World, extra: str = "") -> str:
    return f"school_id={w.school_id}{extra}"


def report_cases() -> list[Case]:
    """bench_routes' types are imported here: bench_routes imports this module at its end."""
    from devtools.bench_routes import Call, Case

    return [
        Case(
            "GET",
            "/reports/sla",
            "a school's SLA report this month (one Query on its row, the school's name)",
            lambda w: Call("GET", f"/reports/sla?{_q(w)}", "manager"),
        ),
        Case(
            "GET",
            "/reports/sla",
            "... as CSV",
            lambda w: Call("GET", f"/reports/sla?{_q(w)}", "manager", accept="text/csv"),
        ),
        Case(
            "GET",
            "/reports/sla",
            "... as an SVG chart (pygal, loaded on the first chart)",
            lambda w: Call("GET", f"/reports/sla?{_q(w, '&format=svg')}", "manager", accept="image/svg+xml"),
        ),
        Case(
            "GET",
            "/reports/fault-trends",
            "a school's fault trends (its row, its name, the lamps in service counted)",
            lambda w: Call("GET", f"/reports/fault-trends?{_q(w)}", "manager"),
        ),
        Case(
            "GET",
            "/reports/engineers",
            "an engineer's month (one Query, the engineer's name)",
            lambda w: Call("GET", "/reports/engineers?engineer_id=eng-1", "manager"),
        ),
        Case(
            "GET",
            "/reports/parts",
            "a school's parts used (one Query) and every depot's stock against D-P1",
            lambda w: Call("GET", f"/reports/parts?{_q(w)}", "parts_manager"),
        ),
        Case(
            "GET",
            "/schools/{school_id}/reports/monthly",
            "the school's monthly report (row, inspections, open items per status, lamps)",
            lambda w: Call("GET", f"/schools/{w.school_id}/reports/monthly", "manager"),
        ),
        Case(
            "GET",
            "/schools/{school_id}/reports/monthly",
            "... as the A4 PDF",
            lambda w: Call("GET", f"/schools/{w.school_id}/reports/monthly", "manager", accept="application/pdf"),
        ),
    ]


# ---- the section: a report's items do not grow with history ----------------------------------------------


@dataclass
class Measured:
    tickets: int
    rows: int
    items_read: int
    calls: list[str]
    load_seconds: float
    report_ms: float


def _facts(rng: random.Random, n: int, schools: int, months: list[str]) -> Any:
    from chalicelib.domain import reports

    for i in range(n):
        month = months[i % len(months)]
        level = rng.choice((1, 1, 2, 2, 3, 4))
        ack = rng.uniform(1, 45) * 60
        yield reports.Facts(
            ticket_id=f"t{rng.getrandbits(64):016x}",
            month=month,
            contract_id=f"c{(i % schools) // 10}",
            school_id=f"s{i % schools:03d}",
            engineer_id=f"eng-{i % 40}",
            level=level,
            category=rng.choice(reports.CATEGORIES),
            kind="case",
            status="closed",
            outcomes={"response": "met" if ack < 1200 else "late", "onsite": "met", "resolution": "na"},
            seconds={"response": round(ack, 3), "onsite": round(ack + 900, 3)},
        )


def _load(n: int, seed: int, schools: int, months: list[str]) -> int:
    from chalicelib.domain import reports
    from chalicelib.models import report_aggregates

    rows: dict[Any, dict[str, float]] = {}
    for facts in _facts(random.Random(seed), n, schools, months):
        for key, values in reports.contribution(facts).items():
            row = rows.setdefault(key, {})
            for name, value in values.items():
                row[name] = row.get(name, 0) + value
    existing = {k: v for k, v in report_aggregates.scan_rows().items() if k in rows}
    merged = [(k, reports.add_rows([existing.get(k, {}), v])) for k, v in rows.items()]
    report_aggregates.write_rows(merged)
    return len(rows)


def _read_one(school: str, month: str) -> tuple[int, list[str], float]:
    from chalicelib.auth import Principal, Role
    from chalicelib.models import report_aggregates
    from chalicelib.schemas_reports import ReportQuery
    from chalicelib.services import reports as service
    from local_aws.calls import record_calls

    rows = report_aggregates.query_rows("school", school, month, month)
    started = time.perf_counter()
    with record_calls() as log:
        report = service.sla_report(
            ReportQuery(period=month, school_id=school), Principal("mgr", frozenset({Role.MANAGER}))
        )
    elapsed = (time.perf_counter() - started) * 1000
    assert report.total.tickets > 0
    return len(rows), log.dynamodb(), elapsed


@contextmanager
def _restored(env: dict[str, str]) -> Iterator[None]:
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(env)


def measure(tickets: int = 200_000, schools: int = 100) -> list[Measured]:
    """Loads `tickets`, reads; loads as many again, reads again (inside moto, tables from the models)."""
    from moto import mock_aws

    from chalicelib.models.all import bind_tables, create_all_tables
    from devtools.local_env import FAKE_AWS, stage_variables
    from local_aws.calls import allow_scans

    saved = dict(os.environ)
    os.environ.update({**FAKE_AWS, **stage_variables("local"), "LAMPCARE_TABLE_PREFIX": "bench-reports-"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    results = []
    with mock_aws(), _restored(saved):
        bind_tables("bench-reports-")
        create_all_tables()
        loaded = 0
        for seed in (1, 2):
            started = time.perf_counter()
            with allow_scans():
                rows = _load(tickets, seed, schools, months)
            loaded += tickets
            load_s = time.perf_counter() - started
            items, calls, ms = _read_one("s042", "2026-11")
            results.append(Measured(loaded, rows, items, calls, load_s, ms))
            print(f"bench: reports: {loaded} tickets loaded ({rows} rows, {load_s:.1f} s)", file=sys.stderr)
    return results


def rows_for_table(results: list[Measured]) -> list[tuple[str, str, str, bool]]:
    """(measurement, calls, items, budget met) per load, for devtools/bench.py's table."""
    same = len({r.items_read for r in results}) == 1
    return [
        (
            f"one school's monthly SLA report with {r.tickets:,} tickets in the table ({r.rows:,} aggregate rows)",
            f"{len(r.calls)} ({', '.join(r.calls)})",
            f"{r.items_read} items read, {r.report_ms:.1f} ms",
            r.items_read <= MAX_ITEMS and same,
        )
        for r in results
    ]


def main() -> int:
    started = dt.datetime.now(dt.UTC)
    results = measure()
    print("| Measurement | DynamoDB calls | Items read | Budget (<= 100, same when doubled) | Met |")
    print("|---|---|---|---|---|")
    for measurement, calls, items, met in rows_for_table(results):
        print(f"| {measurement} | {calls} | {items} | <= {MAX_ITEMS}, unchanged | {'yes' if met else '**NO**'} |")
    print(f"\n({(dt.datetime.now(dt.UTC) - started).total_seconds():.0f} s)", file=sys.stderr)
    return 0 if all(met for *_, met in rows_for_table(results)) else 1


if __name__ == "__main__":
    sys.exit(main())
