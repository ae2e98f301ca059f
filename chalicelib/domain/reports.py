"""Report aggregates' rules (issue 13): what one ticket adds to the per-period rows, month keys in China
time, duration histograms and the percentiles read back from them. Plain Python: no I/O, no clock.

A ticket's `Facts` are the few things the reports count about it, computed from the ticket alone (plus
how often it was reopened, which the ticket's audit trail records). `contribution(facts)` is what the
aggregate rows hold for that ticket; a write adds `contribution(new) - contribution(old)` in its own
transaction, and the rebuild sums `contribution` over every ticket, so both give the same rows.

Cohorts: a ticket counts in the month it was reported, in China time (UTC+8: the school's month,
D-A3), whatever month it is closed in. Its level, engineer and deadlines are the current ones (D-S3:
the deadlines follow a level change), so a level change moves the ticket between level rows.

A milestone is counted once decided: met on time (`met`), met after its deadline (`late`), or passed
without it (`missed`: on site only, when the ticket was resolved by phone after the on-site deadline);
until then it is `pending`. A merged duplicate counts only as merged (its case counts once, D-S6); a
cancelled ticket (not a fault) is left out of the SLA figures.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
Scope = Literal["contract", "school", "engineer", "level"]
SCOPES: tuple[Scope, ...] = ("contract", "school", "engineer", "level")
# Rows written by many tickets at once are split in shards so that concurrent ticket writes rarely meet
# on one item (a transaction touching an item another transaction holds is refused): a report sums them.
SHARDS: dict[str, int] = {"contract": 8, "level": 8, "school": 4, "engineer": 1}
MILESTONES = ("response", "onsite", "resolution")
TIMED = {"response": "rt", "onsite": "ot"}  # milestones whose times are kept as histograms
OUTCOMES = ("met", "late", "missed", "pending")
LEVELS = (1, 2, 3, 4)
CATEGORIES = (
    "operation_error",
    "software_error",
    "configuration_error",
    "hardware_fault",
    "not_lit",
    "flickering",
    "dim",
    "noise",
    "physical_damage",
    "controller_fault",
    "other",
)
ESCALATION_STEPS = (1, 2, 3)
SATISFACTION = (1, 2, 3, 4, 5)

# Duration histogram edges in minutes: bucket i holds [EDGES[i], EDGES[i+1]); the last is open-ended.
# Minute-wide up to 10 min, where DOMAIN's default deadlines lie (10, 20, 40, 60 min), coarser after.
EDGES_MIN: tuple[int, ...] = (
    *range(0, 10),
    *range(10, 20, 2),
    *range(20, 60, 5),
    *range(60, 120, 15),
    120, 150, 180, 240, 300, 360, 480, 600, 720, 960, 1200,
    1440, 2880, 4320, 7200, 10080, 20160, 43200,
)  # fmt: skip
BUCKETS = len(EDGES_MIN)


def month_of(moment: dt.datetime) -> str:
    """The report month of a moment, in China time: 2026-11-30T16:00:00Z is already December."""
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return moment.astimezone(CHINA).strftime("%Y-%m")


def months_between(first: str, last: str) -> list[str]:
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    found = []
    while (year, month) <= end:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def bucket_of(seconds: float) -> int:
    minutes = max(seconds, 0) / 60
    for i in range(BUCKETS - 1, -1, -1):
        if minutes >= EDGES_MIN[i]:
            return i
    return 0


def shard_of(ticket_id: str, scope: str) -> int:
    return zlib.crc32(ticket_id.encode()) % SHARDS[scope]


def counter_names() -> list[str]:
    """Every counter a row can hold (top-level number attributes, so that ADD works)."""
    names = ["tickets", "merged", "cancelled", "open", "resolved", "closed", "reopened", "reopens", "reports"]
    names += [f"l{level}" for level in LEVELS]
    names += [f"cat_{c}" for c in CATEGORIES]
    names += [f"{m}_{o}" for m in MILESTONES for o in OUTCOMES]
    for prefix in TIMED.values():
        names += [f"{prefix}_n", f"{prefix}_sum"] + [f"{prefix}_{i}" for i in range(BUCKETS)]
    names += [f"esc{s}" for s in ESCALATION_STEPS]
    names += ["ftf", "travel_n", "travel_sum", "sat_n", "sat_sum"] + [f"sat{k}" for k in SATISFACTION]
    names += ["parts_qty", "parts_tickets"]  # parts rows (PART_SCOPES): one row per scope, month and part
    return names


COUNTERS: tuple[str, ...] = tuple(counter_names())


@dataclass(frozen=True)
class Facts:
    """What the reports count about one ticket (kept on the ticket as the basis of its last counted write)."""

    ticket_id: str
    month: str
    contract_id: str
    school_id: str
    engineer_id: str  # "" when unassigned
    level: int
    category: str
    kind: Literal["case", "merged", "cancelled"]
    status: str
    reports: int = 1
    reopens: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # milestone -> met | late | missed | pending | na
    seconds: dict[str, float] = field(default_factory=dict)  # response / onsite -> from the report, when met
    escalations: list[int] = field(default_factory=list)  # D-S4 steps whose rungs fell due before decided
    resolved: bool = False
    travel_seconds: float | None = None
    satisfaction: int | None = None
    parts: dict[str, int] = field(default_factory=dict)  # sku -> quantity, from the ticket's work record
    lamp_ids: list[str] = field(default_factory=list)  # the lamps the case is about (D-C2, D-W4: per lamp)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Facts | None:
        """Keys this version does not know are left out (facts stored by an older or newer release)."""
        if not data:
            return None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class TicketView:
    """The ticket attributes the facts are computed from (models pass them in; times are aware)."""

    ticket_id: str
    reported_at: dt.datetime
    contract_id: str
    school_id: str
    assignee_id: str | None
    level: int
    category: str
    status: str
    report_count: int
    deadlines: dict[str, dt.datetime | None]  # milestone -> its deadline
    milestones: dict[str, str]  # lifecycle.MILESTONE_OF's names -> ISO time of the first time
    plan: Sequence[dict[str, Any]]  # the SLA timer's entries (sla_timer.Entry.to_json)
    sign_off: Mapping[str, Any]
    work: Mapping[str, Any] = field(default_factory=dict)
    lamp_ids: Sequence[str] = ()


_MET_KEY = {"response": "acknowledged_at", "onsite": "on_site_at", "resolution": "resolved_at"}
FINAL = {"closed", "cancelled", "merged"}
OPEN = {"reported", "triaged", "assigned", "acknowledged", "en_route", "on_site", "reopened"}


def _at(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(value)) if value else None


def facts_of(ticket: TicketView, reopens: int) -> Facts:
    kind: Literal["case", "merged", "cancelled"] = (
        "merged" if ticket.status == "merged" else "cancelled" if ticket.status == "cancelled" else "case"
    )
    met = {m: _at(ticket.milestones.get(key)) for m, key in _MET_KEY.items()}
    resolved_at = met["resolution"]
    outcomes: dict[str, str] = {}
    decided_at: dict[str, dt.datetime] = {}
    seconds: dict[str, float] = {}
    for milestone in MILESTONES:
        deadline = ticket.deadlines.get(milestone)
        at = met[milestone]
        if kind != "case" or deadline is None:
            outcomes[milestone] = "na"
        elif at is not None:
            outcomes[milestone] = "met" if at <= deadline else "late"
            decided_at[milestone] = at
            if milestone in TIMED:
                seconds[milestone] = round((at - ticket.reported_at).total_seconds(), 3)
        elif milestone == "onsite" and resolved_at is not None:  # resolved by phone: nobody needed on site
            outcomes[milestone] = "missed" if resolved_at > deadline else "na"
            decided_at[milestone] = resolved_at
        else:
            outcomes[milestone] = "pending"
    steps: set[int] = set()
    for entry in ticket.plan:  # D-S4's rungs that fell due before their milestone was decided
        rung_of, step = str(entry.get("milestone")), int(entry.get("step") or 0)
        if step and rung_of in decided_at and decided_at[rung_of] > dt.datetime.fromisoformat(entry["at"]):
            steps.add(step)
    departed, on_site = _at(ticket.milestones.get("departed_at")), met["onsite"]
    satisfaction = ticket.sign_off.get("satisfaction") if ticket.sign_off else None
    return Facts(
        ticket_id=ticket.ticket_id,
        month=month_of(ticket.reported_at),
        contract_id=ticket.contract_id,
        school_id=ticket.school_id,
        engineer_id=ticket.assignee_id or "",
        level=int(ticket.level),
        category=ticket.category,
        kind=kind,
        status=ticket.status,
        reports=int(ticket.report_count or 1),
        reopens=reopens,
        outcomes=outcomes,
        seconds=seconds,
        escalations=sorted(steps) if kind == "case" else [],
        resolved=kind == "case" and resolved_at is not None,
        travel_seconds=round((on_site - departed).total_seconds(), 3) if departed and on_site else None,
        satisfaction=int(satisfaction) if satisfaction and kind == "case" else None,
        parts=_parts(ticket.work) if kind == "case" else {},
        lamp_ids=sorted(set(ticket.lamp_ids)) if kind == "case" else [],
    )


def _parts(work: Mapping[str, Any] | None) -> dict[str, int]:
    used: dict[str, int] = {}
    for line in (work or {}).get("parts") or []:
        used[str(line["sku"])] = used.get(str(line["sku"]), 0) + int(line.get("qty") or 0)
    return {sku: qty for sku, qty in sorted(used.items()) if qty}


def counters(facts: Facts) -> dict[str, float]:
    """The counters one ticket adds to each of its rows."""
    if facts.kind == "merged":
        return {"merged": 1}
    out: dict[str, float] = {"tickets": 1, f"l{facts.level}": 1, "reports": facts.reports}
    if facts.category in CATEGORIES:
        out[f"cat_{facts.category}"] = 1
    if facts.kind == "cancelled":
        out["cancelled"] = 1
        return out
    if facts.status in OPEN:
        out["open"] = 1
    if facts.status == "closed":
        out["closed"] = 1
    if facts.reopens:
        out["reopened"] = 1
        out["reopens"] = facts.reopens
    for milestone, outcome in facts.outcomes.items():
        if outcome != "na":
            out[f"{milestone}_{outcome}"] = 1
    for milestone, seconds in facts.seconds.items():
        prefix = TIMED[milestone]
        out[f"{prefix}_n"] = 1
        out[f"{prefix}_sum"] = seconds
        out[f"{prefix}_{bucket_of(seconds)}"] = 1
    for step in facts.escalations:
        out[f"esc{step}"] = 1
    if facts.resolved:
        out["resolved"] = 1
        if not facts.reopens:
            out["ftf"] = 1  # first-time fix: resolved and never reopened
    if facts.travel_seconds is not None:
        out["travel_n"] = 1
        out["travel_sum"] = facts.travel_seconds
    if facts.satisfaction in SATISFACTION:
        out["sat_n"] = 1
        out["sat_sum"] = facts.satisfaction
        out[f"sat{facts.satisfaction}"] = 1
    return out


RowKey = tuple[str, str]  # ("school#s_1", "2026-11#0")


def row_keys(facts: Facts) -> list[RowKey]:
    ids: dict[str, str] = {
        "contract": facts.contract_id,
        "school": facts.school_id,
        "engineer": facts.engineer_id,
        "level": str(facts.level),
    }
    return [
        (f"{scope}#{value}", f"{facts.month}#{shard_of(facts.ticket_id, scope)}")
        for scope, value in ids.items()
        if value
    ]


PART_SCOPES = ("contract", "school", "engineer")


def part_row_keys(facts: Facts, sku: str) -> list[RowKey]:
    """Parts rows: pk "parts#<scope>#<id>", sk "<month>#<sku>" (parts are used a few times a day: no shards)."""
    ids = {"contract": facts.contract_id, "school": facts.school_id, "engineer": facts.engineer_id}
    return [(f"parts#{scope}#{value}", f"{facts.month}#{sku}") for scope, value in ids.items() if value]


def contribution(facts: Facts | None) -> dict[RowKey, dict[str, float]]:
    if facts is None:
        return {}
    values = counters(facts)
    rows = {key: dict(values) for key in row_keys(facts)}
    for sku, qty in facts.parts.items():
        for key in part_row_keys(facts, sku):
            rows[key] = {"parts_qty": qty, "parts_tickets": 1}
    for lamp_id in facts.lamp_ids:  # at most 20 lamps a ticket (MAX_LAMPS_PER_TICKET): 20 rows
        rows[lamp_row_key(facts, lamp_id)] = {"tickets": 1}
    return rows


def lamp_row_key(facts: Facts, lamp_id: str) -> RowKey:
    """A lamp's faults in a month: pk "lamps#<school>", sk "<month>#<lamp_id>" (repeated faults, D-W4)."""
    return (f"lamps#{facts.school_id}", f"{facts.month}#{lamp_id}")


def delta(old: Facts | None, new: Facts | None) -> dict[RowKey, dict[str, float]]:
    """What a write adds to each row: the new contribution less the old; rows and counters with 0 left out."""
    result: dict[RowKey, dict[str, float]] = {}
    for sign, part in ((-1, contribution(old)), (1, contribution(new))):
        for key, values in part.items():
            row = result.setdefault(key, {})
            for name, value in values.items():
                row[name] = row.get(name, 0) + sign * value
    cleaned = {}
    for key, row in result.items():
        kept = {n: round(v, 3) for n, v in row.items() if abs(v) > 1e-9}
        if kept:
            cleaned[key] = kept
    return cleaned


def add_rows(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for row in rows:
        for name, value in row.items():
            total[name] = total.get(name, 0) + value
    return total


# ---- reading the histograms back -------------------------------------------------------------------


@dataclass(frozen=True)
class Durations:
    count: int
    mean_minutes: float | None
    median_minutes: float | None
    p90_minutes: float | None
    worst_minutes: float | None  # the upper edge of the highest non-empty bucket


def percentile(histogram: Sequence[float], q: float) -> float | None:
    """The q-quantile in minutes, interpolated linearly inside its bucket (exact to the bucket's width)."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, count in enumerate(histogram):
        if count <= 0:
            continue
        if seen + count >= rank:
            low = EDGES_MIN[i]
            high = EDGES_MIN[i + 1] if i + 1 < BUCKETS else low
            return round(low + (high - low) * max(rank - seen, 0) / count, 1)
        seen += count
    return float(EDGES_MIN[-1])


def durations(row: Mapping[str, float], prefix: str) -> Durations:
    histogram = [float(row.get(f"{prefix}_{i}", 0)) for i in range(BUCKETS)]
    count = int(row.get(f"{prefix}_n", 0))
    if count <= 0:
        return Durations(0, None, None, None, None)
    top = max(i for i, c in enumerate(histogram) if c > 0)
    worst = EDGES_MIN[top + 1] if top + 1 < BUCKETS else EDGES_MIN[top]
    return Durations(
        count=count,
        mean_minutes=round(float(row.get(f"{prefix}_sum", 0)) / count / 60, 1),
        median_minutes=percentile(histogram, 0.5),
        p90_minutes=percentile(histogram, 0.9),
        worst_minutes=float(worst),
    )


def percent(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def is_month(text: str) -> bool:
    try:
        dt.datetime.strptime(text, "%Y-%m")
    except ValueError:
        return False
    return len(text) == 7
