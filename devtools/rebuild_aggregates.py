"""`make rebuild-aggregates` / `python -m devtools.rebuild_aggregates`: recomputes every report aggregate
(issue 13) from the source tables, for a new report or after a bug.

Reads every ticket and the audit trail's reopen events (Scans: a maintenance command, never a request),
computes each ticket's facts and their rows exactly as a ticket write does (domain.reports), makes the
aggregate table hold exactly those rows, and stores on each ticket the facts counted (so the next write
adds the right difference). A ticket changed while the rebuild ran is read again. Run it with writes
quiet: a ticket written between the Scan and the rows' replacement is counted as it was read.

Against the local stack (`make run`'s embedded AWS) by default; `--stage` picks the table prefix.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

from chalicelib.domain import reports
from chalicelib.domain.reports import Facts, RowKey
from chalicelib.models import report_aggregates


@dataclass
class Rebuilt:
    tickets: int
    rows: int
    deleted: int
    facts_updated: int
    seconds: float


def compute() -> tuple[dict[RowKey, dict[str, float]], dict[str, tuple[object, Facts]]]:
    """Every row as the tickets make it, and each ticket's facts (no write)."""
    reopens = report_aggregates.scan_reopens()
    rows: dict[RowKey, dict[str, float]] = {}
    facts: dict[str, tuple[object, Facts]] = {}
    for ticket in report_aggregates.scan_tickets():
        fact = reports.facts_of(report_aggregates.view_of(ticket), reopens.get(ticket.ticket_id, 0))
        facts[ticket.ticket_id] = (ticket, fact)
        for key, values in reports.contribution(fact).items():
            row = rows.setdefault(key, {})
            for name, value in values.items():
                row[name] = round(row.get(name, 0) + value, 3)
    return rows, facts


def rebuild() -> Rebuilt:
    started = time.perf_counter()
    rows, facts = compute()
    deleted = report_aggregates.replace_rows(rows)
    updated = 0
    for ticket_id, (ticket, fact) in facts.items():
        if ticket.report_facts == fact.to_json():  # type: ignore[attr-defined]
            continue
        while not report_aggregates.keep_facts(ticket, fact):  # type: ignore[arg-type]
            ticket = report_aggregates.get_ticket(ticket_id)
            fact = reports.facts_of(report_aggregates.view_of(ticket), fact.reopens)  # type: ignore[arg-type]
        updated += 1
    return Rebuilt(len(facts), len(rows), deleted, updated, time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stage", default="local", help="the stage whose tables to rebuild (its table prefix)")
    parser.add_argument(
        "--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), help="a local AWS (the `make run` moto server)"
    )
    args = parser.parse_args(argv)
    from devtools.local_env import FAKE_AWS, stage_variables

    os.environ.update(stage_variables(args.stage))
    if args.endpoint:
        os.environ.update({**FAKE_AWS, "AWS_ENDPOINT_URL": args.endpoint})
    from chalicelib.models.base import bind_tables
    from local_aws.calls import allow_scans

    bind_tables()
    with allow_scans():
        result = rebuild()
    print(
        f"rebuilt {result.rows} aggregate rows from {result.tickets} tickets in {result.seconds:.1f} s "
        f"({result.deleted} stale rows deleted, {result.facts_updated} tickets' counted facts corrected)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
