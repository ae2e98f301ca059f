"""Report aggregates (issue 13): per-period counter rows kept up to date in each ticket write's own
transaction, so a report reads a number of items proportional to the rows it returns, never the tickets.

A row is keyed `pk` = "<scope>#<id>" (contract, school, engineer, level) and `sk` = "<YYYY-MM>#<shard>"
(the month the tickets were reported in, China time; contract and level rows are split in shards so that
concurrent ticket writes rarely hold one item, domain.reports.SHARDS). Every counter is a top-level
number attribute (histogram buckets too), so a write is one UpdateItem of ADDs per row.

The ticket keeps the facts its last counted write added (`TicketModel.report_facts`): a write adds the
difference between the ticket's new facts and those, which makes the count right even when other
writers (the SLA timer) changed the ticket in between. `rebuild` recomputes every row from the tickets
and their audit trail (a Scan: a maintenance command, never a request).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.domain import reports
from chalicelib.domain.reports import COUNTERS, Facts, RowKey, TicketView
from chalicelib.models.base import bind_tables, register
from chalicelib.models.registry import LampModel
from chalicelib.models.tickets import TicketEventModel, TicketModel

if TYPE_CHECKING:
    from chalicelib.models.transactions import Transaction


class _Meta:
    table_name = "report-aggregates"


def _build_model() -> type[Model]:
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__doc__": "One scope's counters for one month (and shard).",
        "Meta": _Meta,
        "pk": UnicodeAttribute(hash_key=True),
        "sk": UnicodeAttribute(range_key=True),
    }
    for name in COUNTERS:
        namespace[name] = NumberAttribute(null=True)
    return type("ReportAggregateModel", (Model,), namespace)


ReportAggregateModel = register(_build_model())


# ---- what a ticket write adds ----------------------------------------------------------------------


def _deadlines(ticket: TicketModel) -> dict[str, Any]:
    return {"response": ticket.response_due, "onsite": ticket.onsite_due, "resolution": ticket.resolution_due}


def view_of(ticket: TicketModel) -> TicketView:
    return TicketView(
        ticket_id=ticket.ticket_id,
        reported_at=ticket.reported_at,
        contract_id=ticket.contract_id,
        school_id=ticket.school_id,
        assignee_id=ticket.assignee_id,
        level=int(ticket.level),
        category=ticket.category,
        status=ticket.status,
        report_count=int(ticket.report_count or 1),
        deadlines=_deadlines(ticket),
        milestones=dict(ticket.milestones or {}),
        plan=list(ticket.sla_plan or []),
        sign_off=dict(ticket.sign_off or {}),
        work=dict(ticket.work or {}),
        lamp_ids=[str(x) for x in ticket.lamp_ids or []],
    )


def add_report_counters(tx: Transaction, ticket: TicketModel, action: str) -> None:
    """Adds to `tx` the rows this ticket write changes (one UpdateItem of ADDs each; at most 8 rows: the
    ticket's four scopes before and after) and keeps the new facts on the ticket, which `tx` puts."""
    old = Facts.from_json(ticket.report_facts)
    reopens = (old.reopens if old else 0) + (1 if action == "reopen" else 0)
    new = reports.facts_of(view_of(ticket), reopens)
    ticket.report_facts = new.to_json()
    for (pk, sk), values in reports.delta(old, new).items():
        item = ReportAggregateModel(pk, sk)
        actions = [getattr(ReportAggregateModel, name).add(value) for name, value in sorted(values.items())]
        tx.update(item, actions, label=f"report:{pk}#{sk}")


# ---- reading ----------------------------------------------------------------------------------------


def _values(item: Model) -> dict[str, float]:
    return {name: float(v) for name in COUNTERS if (v := getattr(item, name, None))}


def query_rows(scope: str, scope_id: str, first: str, last: str) -> list[tuple[str, dict[str, float]]]:
    """(month, counters) for each stored row (shards apart) of one scope between two months: one Query."""
    bind_tables()
    key = ReportAggregateModel.sk  # type: ignore[attr-defined]
    items = ReportAggregateModel.query(f"{scope}#{scope_id}", key.between(f"{first}#", f"{last}#~"))
    return [(str(item.sk).split("#")[0], _values(item)) for item in items]  # type: ignore[attr-defined]


def query_lamp_rows(school_id: str, first: str, last: str) -> list[tuple[str, str, int]]:
    """(month, lamp id, faults) for the school's lamps with faults between two months: one Query."""
    bind_tables()
    key = ReportAggregateModel.sk  # type: ignore[attr-defined]
    items = ReportAggregateModel.query(f"lamps#{school_id}", key.between(f"{first}#", f"{last}#~"))
    found = []
    for item in items:
        month, lamp_id = str(item.sk).split("#", 1)  # type: ignore[attr-defined]
        found.append((month, lamp_id, int(item.tickets or 0)))  # type: ignore[attr-defined]
    return found


def lamp_models(lamp_ids: list[str]) -> dict[str, tuple[str, str]]:
    """lamp id -> (model, asset number), one BatchGetItem per 100 lamps."""
    bind_tables()
    return {
        lamp.lamp_id: (str(lamp.model or ""), str(getattr(lamp, "asset_no", "") or ""))
        for lamp in LampModel.batch_get(list(dict.fromkeys(lamp_ids)))
    }


def query_part_rows(scope: str, scope_id: str, first: str, last: str) -> list[tuple[str, str, dict[str, float]]]:
    """(month, sku, counters) for one scope's parts rows between two months: one Query."""
    bind_tables()
    key = ReportAggregateModel.sk  # type: ignore[attr-defined]
    items = ReportAggregateModel.query(f"parts#{scope}#{scope_id}", key.between(f"{first}#", f"{last}#~"))
    return [(*str(item.sk).split("#", 1), _values(item)) for item in items]  # type: ignore[attr-defined,misc]


# ---- the rebuild (maintenance: Scans) -----------------------------------------------------------------


def scan_reopens() -> Counter[str]:
    """ticket id -> how often it was reopened, from the audit trail."""
    bind_tables()
    found: Counter[str] = Counter()
    for event in TicketEventModel.scan(TicketEventModel.action == "reopen"):
        found[event.ticket_id] += 1
    return found


def scan_tickets() -> Iterator[TicketModel]:
    bind_tables()
    yield from TicketModel.scan()


def scan_rows() -> dict[RowKey, dict[str, float]]:
    bind_tables()
    return {(str(i.pk), str(i.sk)): _values(i) for i in ReportAggregateModel.scan()}  # type: ignore[attr-defined]


def replace_rows(rows: Mapping[RowKey, Mapping[str, float]]) -> int:
    """Makes the table hold exactly `rows` (written whole; rows no ticket adds to are deleted)."""
    bind_tables()
    stale = [key for key in scan_rows() if key not in rows]
    with ReportAggregateModel.batch_write() as batch:
        for pk, sk in stale:
            batch.delete(ReportAggregateModel(pk, sk))
        for (pk, sk), values in rows.items():
            batch.save(ReportAggregateModel(pk, sk, **{n: v for n, v in values.items() if v}))  # type: ignore[arg-type]
    return len(stale)


def write_rows(rows: Iterable[tuple[RowKey, Mapping[str, float]]]) -> None:
    """Batch puts (the benchmark's loader)."""
    bind_tables()
    with ReportAggregateModel.batch_write() as batch:
        for (pk, sk), values in rows:
            batch.save(ReportAggregateModel(pk, sk, **{n: v for n, v in values.items() if v}))  # type: ignore[arg-type]


def keep_facts(ticket: TicketModel, facts: Facts) -> bool:
    """Stores the facts the rebuilt rows counted for this ticket, unless it changed since it was read
    (False: read it again). The ticket's version is not raised: nothing a client sees changed."""
    bind_tables()
    conn = TicketModel._get_connection().connection
    try:
        conn.update_item(
            TicketModel.Meta.table_name,
            ticket.ticket_id,
            actions=[TicketModel.report_facts.set(facts.to_json())],
            condition=TicketModel.version == ticket.version,
        )
    except Exception as exc:  # pynamodb's UpdateError on the condition
        if "ConditionalCheckFailed" in str(getattr(exc, "cause_response_code", "")):
            return False
        raise
    return True


def get_ticket(ticket_id: str) -> TicketModel:
    bind_tables()
    return TicketModel.get(ticket_id, consistent_read=True)


def lamps_in_service(school_id: str) -> int:
    """Lamps in service at a school (the location index holds only those): one Query that counts."""
    bind_tables()
    return int(LampModel.by_location.count(school_id))


# ---- what the school's monthly report reads besides its row ----------------------------------------------


def school_inspections(school_id: str, start: str, end: str) -> list[Any]:
    """The school's inspection visits due in [start, end) (UTC fixed-width text): one Query on by_school."""
    from chalicelib.models.inspections import InspectionVisitModel

    bind_tables()
    return list(InspectionVisitModel.by_school.query(school_id, InspectionVisitModel.due_at.between(start, end)))


def school_open_tickets(school_id: str, statuses: Iterable[str], limit: int) -> list[TicketModel]:
    """The school's tickets in these statuses, oldest on-site deadline first: one Query per status."""
    bind_tables()
    found: list[TicketModel] = []
    for status in statuses:
        found += list(TicketModel.by_school_status.query(f"{school_id}#{status}", limit=limit))
    return sorted(found, key=lambda t: str(t.due_key))[:limit]


def school_lamps(school_id: str) -> list[LampModel]:
    bind_tables()
    return list(LampModel.by_location.query(school_id))


def batch_get_parts(skus: list[str]) -> dict[str, Any]:
    from chalicelib.models import stock

    return stock.batch_get_parts(skus) if skus else {}


def depots() -> list[Any]:
    """Every depot (D-P1's local stores): one Query on the locations' kind index."""
    from chalicelib.models import stock

    return list(stock.query_locations("depot", 100, None).items)
