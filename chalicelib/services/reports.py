"""Reports (issue 13): SLA compliance, fault trends and engineers over whole months, from the report
aggregates (one Query on one scope's rows: the items read are the months asked for, times the scope's
shards; never the tickets), as JSON, CSV (UTF-8 with a byte-order mark, so Excel reads Chinese) or an
SVG chart (services.report_charts, loaded on the first chart only).

Who may read: the supplier's managers and dispatchers; a school's staff their own school's SLA and fault
figures (services.scope: another school is 404 as if it did not exist), nothing by contract, engineer or
level. Never imports chalice or boto3.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain import reports as rules
from chalicelib.domain.policy import LEVEL_COLOURS
from chalicelib.errors import FieldProblem, Forbidden, InvalidQuery, NotFound
from chalicelib.models import access, report_aggregates
from chalicelib.schemas_reports import (
    MAX_MONTHS,
    DepotOut,
    DepotStockOut,
    DurationsOut,
    EngineerPeriodOut,
    EngineerReportOut,
    EscalationsOut,
    FaultTrendPeriodOut,
    FaultTrendsOut,
    MilestoneReportOut,
    PartsPeriodOut,
    PartsReportOut,
    PartUseOut,
    RepeatedLampOut,
    ReportQuery,
    ReportScopeOut,
    SlaPeriodOut,
    SlaReportOut,
)
from chalicelib.services import scope as school_scope
from chalicelib.services.ids import utcnow

CSV_BOM = "\ufeff"
Rows = list[tuple[str, dict[str, float]]]


# ---- the query: one scope, whole months -----------------------------------------------------------------


def _checked(query: ReportQuery, actor: Principal) -> tuple[str, str, str, str]:
    named = [n for n in ("contract_id", "school_id", "engineer_id", "level") if getattr(query, n) is not None]
    if len(named) != 1:
        raise InvalidQuery(
            "name exactly one of contract_id, school_id, engineer_id, level",
            details=[FieldProblem(f"query.{n}", "name one scope only") for n in named]
            or [FieldProblem("query.school_id", "name one of contract_id, school_id, engineer_id, level")],
        )
    first = query.period or rules.month_of(utcnow())
    last = query.to or first
    months = rules.months_between(first, last)
    if not months:
        raise InvalidQuery("`to` is before `period`", details=[FieldProblem("query.to", "before period")])
    if len(months) > MAX_MONTHS:
        raise InvalidQuery(
            f"at most {MAX_MONTHS} months in one report",
            details=[FieldProblem("query.to", f"more than {MAX_MONTHS} months after period")],
        )
    kind, value = query.scope
    if school_scope.is_school_account(actor):
        if kind != "school":
            raise Forbidden("a school's staff read their own school's reports: send school_id")
        school_scope.require_school(actor, value, what="school", key=value)
    return kind, value, first, last


def _scope_name(kind: str, value: str) -> str | None:
    try:
        if kind == "school":
            return str(access.get_school(value).name)
        if kind == "contract":
            return str(access.get_contract(value).name)
        if kind == "engineer":
            return str(access.get_user(value).name or value)
    except NotFound:
        return None
    return LEVEL_COLOURS.get(int(value)) if kind == "level" else None


def _monthly(rows: Rows, months: Sequence[str]) -> list[tuple[str, dict[str, float]]]:
    """One row per month asked for (shards summed; a month without tickets is all zeros)."""
    by_month: dict[str, list[dict[str, float]]] = {m: [] for m in months}
    for month, values in rows:
        by_month.setdefault(month, []).append(values)
    return [(m, rules.add_rows(by_month[m])) for m in months]


def _read(query: ReportQuery, actor: Principal) -> tuple[ReportScopeOut, str, str, list[tuple[str, dict[str, float]]]]:
    kind, value, first, last = _checked(query, actor)
    rows = report_aggregates.query_rows(kind, value, first, last)
    scope = ReportScopeOut(kind=kind, id=value, name=_scope_name(kind, value))  # type: ignore[arg-type]
    return scope, first, last, _monthly(rows, rules.months_between(first, last))


# ---- SLA compliance --------------------------------------------------------------------------------------


def _i(row: Mapping[str, float], name: str) -> int:
    return int(round(row.get(name, 0)))


def _milestone(row: Mapping[str, float], milestone: str) -> MilestoneReportOut:
    met, late, missed = (_i(row, f"{milestone}_{o}") for o in ("met", "late", "missed"))
    prefix = rules.TIMED.get(milestone)
    times = None
    if prefix:
        d = rules.durations(row, prefix)
        times = DurationsOut(
            count=d.count,
            mean_minutes=d.mean_minutes,
            median_minutes=d.median_minutes,
            p90_minutes=d.p90_minutes,
            worst_minutes=d.worst_minutes,
        )
    return MilestoneReportOut(
        met=met,
        breached=late + missed,
        met_late=late,
        missed=missed,
        pending=_i(row, f"{milestone}_pending"),
        percent_met=rules.percent(met, met + late + missed),
        times=times,
    )


def sla_period(month: str, row: Mapping[str, float]) -> SlaPeriodOut:
    return SlaPeriodOut(
        month=month,
        tickets=_i(row, "tickets"),
        by_level={str(level): _i(row, f"l{level}") for level in rules.LEVELS},
        merged=_i(row, "merged"),
        cancelled=_i(row, "cancelled"),
        open=_i(row, "open"),
        closed=_i(row, "closed"),
        reopened=_i(row, "reopened"),
        response=_milestone(row, "response"),
        onsite=_milestone(row, "onsite"),
        resolution=_milestone(row, "resolution"),
        escalations=EscalationsOut(**{f"step_{s}": _i(row, f"esc{s}") for s in rules.ESCALATION_STEPS}),
    )


def sla_report(query: ReportQuery, actor: Principal) -> SlaReportOut:
    scope, first, last, months = _read(query, actor)
    total = rules.add_rows(row for _, row in months)
    return SlaReportOut(
        scope=scope,
        period=first,
        to=last,
        months=[sla_period(m, row) for m, row in months],
        total=sla_period("total", total),
    )


SLA_CSV_HEADER = [
    "scope",
    "scope_id",
    "scope_name",
    "month",
    "tickets",
    *[f"level_{level}" for level in rules.LEVELS],
    "merged",
    "cancelled",
    "open",
    "closed",
    "reopened",
    *[
        f"{m}_{c}"
        for m in rules.MILESTONES
        for c in ("met", "breached", "pending", "percent_met")
        + (("mean_min", "median_min", "p90_min", "worst_min") if m in rules.TIMED else ())
    ],
    *[f"escalations_step_{s}" for s in rules.ESCALATION_STEPS],
]


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def sla_csv_rows(report: SlaReportOut) -> list[list[str]]:
    lines = []
    for period in [*report.months, report.total]:
        cells: list[Any] = [report.scope.kind, report.scope.id, report.scope.name, period.month, period.tickets]
        cells += [period.by_level[str(level)] for level in rules.LEVELS]
        cells += [period.merged, period.cancelled, period.open, period.closed, period.reopened]
        for name in rules.MILESTONES:
            m: MilestoneReportOut = getattr(period, name)
            cells += [m.met, m.breached, m.pending, m.percent_met]
            if m.times is not None:
                t = m.times
                cells += [t.mean_minutes, t.median_minutes, t.p90_minutes, t.worst_minutes]
        cells += [period.escalations.step_1, period.escalations.step_2, period.escalations.step_3]
        lines.append([_cell(c) for c in cells])
    return lines


def to_csv(header: Sequence[str], lines: Sequence[Sequence[str]]) -> bytes:
    """UTF-8 with a byte-order mark (Excel then reads Chinese text), CRLF line ends (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(lines)
    return (CSV_BOM + out.getvalue()).encode("utf-8")


def sla_report_csv(query: ReportQuery, actor: Principal) -> tuple[bytes, str]:
    report = sla_report(query, actor)
    return to_csv(SLA_CSV_HEADER, sla_csv_rows(report)), _filename("sla", report.scope, report.period, report.to, "csv")


def sla_report_svg(query: ReportQuery, actor: Principal) -> tuple[bytes, str]:
    from chalicelib.services import report_charts

    report = sla_report(query, actor)
    svg = report_charts.compliance_chart(
        f"SLA compliance · {report.scope.name or report.scope.id}",
        [p.month for p in report.months],
        {name: [getattr(p, name).percent_met for p in report.months] for name in rules.MILESTONES},
    )
    return svg, _filename("sla", report.scope, report.period, report.to, "svg")


def _filename(kind: str, scope: ReportScopeOut, first: str, last: str, ext: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in scope.id)
    return f"{kind}-{scope.kind}-{safe}-{first}{'' if first == last else '-' + last}.{ext}"


# ---- fault trends ----------------------------------------------------------------------------------------


def _by_lamp(
    kind: str, value: str, first: str, last: str
) -> tuple[int | None, dict[str, int], dict[str, float | None], list[RepeatedLampOut]]:
    """School scope: lamps in service, faults by model, per 1,000 lamps of the model, repeated lamps. Reads
    the school's lamp rows (one Query: lamps with faults in the period), those lamps (BatchGet) and the
    school's lamps in service (one Query: per model installed)."""
    if kind != "school":
        return None, {}, {}, []
    faults: dict[str, int] = {}
    for _, lamp_id, count in report_aggregates.query_lamp_rows(value, first, last):
        faults[lamp_id] = faults.get(lamp_id, 0) + count
    described = report_aggregates.lamp_models(sorted(faults)) if faults else {}
    installed: dict[str, int] = {}
    lamps = report_aggregates.school_lamps(value)
    for lamp in lamps:
        installed[str(lamp.model or "")] = installed.get(str(lamp.model or ""), 0) + 1
    by_model: dict[str, int] = {}
    for lamp_id, count in faults.items():
        model = described.get(lamp_id, ("", ""))[0]
        by_model[model] = by_model.get(model, 0) + count
    per_thousand = {m: round(1000 * n / installed[m], 2) if installed.get(m) else None for m, n in by_model.items()}
    repeated = [
        RepeatedLampOut(
            lamp_id=lamp_id,
            model=described.get(lamp_id, ("", ""))[0] or None,
            asset_no=described.get(lamp_id, ("", ""))[1] or None,
            faults=count,
        )
        for lamp_id, count in sorted(faults.items(), key=lambda kv: (-kv[1], kv[0]))
        if count >= 2
    ]
    return len(lamps), dict(sorted(by_model.items())), dict(sorted(per_thousand.items())), repeated


def _trend(month: str, row: Mapping[str, float], installed: int | None) -> FaultTrendPeriodOut:
    faults = _i(row, "tickets")
    return FaultTrendPeriodOut(
        month=month,
        faults=faults,
        by_category={c: _i(row, f"cat_{c}") for c in rules.CATEGORIES if _i(row, f"cat_{c}")},
        by_level={str(level): _i(row, f"l{level}") for level in rules.LEVELS},
        reports=_i(row, "reports"),
        reopened=_i(row, "reopened"),
        per_thousand_lamps=round(1000 * faults / installed, 2) if installed else None,
    )


def fault_trends(query: ReportQuery, actor: Principal) -> FaultTrendsOut:
    scope, first, last, months = _read(query, actor)
    installed, by_model, per_thousand, repeated = _by_lamp(scope.kind, scope.id, first, last)
    total = rules.add_rows(row for _, row in months)
    return FaultTrendsOut(
        scope=scope,
        period=first,
        to=last,
        installed_lamps=installed,
        months=[_trend(m, row, installed) for m, row in months],
        total=_trend("total", total, installed),
        by_model=by_model,
        per_thousand_by_model=per_thousand,
        repeated_lamps=repeated,
    )


TREND_CSV_HEADER = [
    "scope",
    "scope_id",
    "scope_name",
    "month",
    "faults",
    *[f"category_{c}" for c in rules.CATEGORIES],
    *[f"level_{level}" for level in rules.LEVELS],
    "reports",
    "reopened",
    "per_thousand_lamps",
]


def fault_trends_csv(query: ReportQuery, actor: Principal) -> tuple[bytes, str]:
    report = fault_trends(query, actor)
    lines = []
    for p in [*report.months, report.total]:
        cells: list[Any] = [report.scope.kind, report.scope.id, report.scope.name, p.month, p.faults]
        cells += [p.by_category.get(c, 0) for c in rules.CATEGORIES]
        cells += [p.by_level[str(level)] for level in rules.LEVELS]
        cells += [p.reports, p.reopened, p.per_thousand_lamps]
        lines.append([_cell(c) for c in cells])
    return to_csv(TREND_CSV_HEADER, lines), _filename("faults", report.scope, report.period, report.to, "csv")


def fault_trends_svg(query: ReportQuery, actor: Principal) -> tuple[bytes, str]:
    from chalicelib.services import report_charts

    report = fault_trends(query, actor)
    used = [c for c in rules.CATEGORIES if report.total.by_category.get(c)]
    svg = report_charts.category_chart(
        f"Faults by category · {report.scope.name or report.scope.id}",
        [p.month for p in report.months],
        {c: [p.by_category.get(c, 0) for p in report.months] for c in used},
    )
    return svg, _filename("faults", report.scope, report.period, report.to, "svg")


# ---- engineers -------------------------------------------------------------------------------------------


def _mean(row: Mapping[str, float], total: str, count: str, scale: float = 1.0) -> float | None:
    n = row.get(count, 0)
    return round(row.get(total, 0) / n / scale, 1) if n else None


def _engineer(month: str, row: Mapping[str, float]) -> EngineerPeriodOut:
    sat_n = _i(row, "sat_n")
    return EngineerPeriodOut(
        month=month,
        tickets=_i(row, "tickets"),
        resolved=_i(row, "resolved"),
        first_time_fix=_i(row, "ftf"),
        first_time_fix_rate=rules.percent(_i(row, "ftf"), _i(row, "resolved")),
        mean_travel_minutes=_mean(row, "travel_sum", "travel_n", 60),
        mean_response_minutes=_mean(row, "rt_sum", "rt_n", 60),
        mean_onsite_minutes=_mean(row, "ot_sum", "ot_n", 60),
        satisfaction_count=sat_n,
        mean_satisfaction=_mean(row, "sat_sum", "sat_n"),
        satisfied_percent=rules.percent(_i(row, "sat4") + _i(row, "sat5"), sat_n),
    )


def engineer_report(query: ReportQuery, actor: Principal) -> EngineerReportOut:
    scope, first, last, months = _read(query, actor)
    total = rules.add_rows(row for _, row in months)
    return EngineerReportOut(
        scope=scope, period=first, to=last, months=[_engineer(m, r) for m, r in months], total=_engineer("total", total)
    )


ENGINEER_CSV_HEADER = [
    "scope",
    "scope_id",
    "scope_name",
    "month",
    *[n for n in EngineerPeriodOut.model_fields if n != "month"],
]


def engineer_report_csv(query: ReportQuery, actor: Principal) -> tuple[bytes, str]:
    report = engineer_report(query, actor)
    lines = [
        [_cell(c) for c in [report.scope.kind, report.scope.id, report.scope.name, *p.model_dump().values()]]
        for p in [*report.months, report.total]
    ]
    return to_csv(ENGINEER_CSV_HEADER, lines), _filename("engineers", report.scope, report.period, report.to, "csv")


def engineer_report_svg(query: ReportQuery, actor: Principal) -> tuple[bytes, str]:
    from chalicelib.services import report_charts

    report = engineer_report(query, actor)
    svg = report_charts.compliance_chart(
        f"First-time fix and satisfaction · {report.scope.name or report.scope.id}",
        [p.month for p in report.months],
        {
            "first_time_fix": [p.first_time_fix_rate for p in report.months],
            "satisfied": [p.satisfied_percent for p in report.months],
        },
    )
    return svg, _filename("engineers", report.scope, report.period, report.to, "svg")


# ---- parts -----------------------------------------------------------------------------------------------


def parts_report(query: ReportQuery, actor: Principal) -> PartsReportOut:
    """Parts used by month (from the cases' work records: parts rows, one Query) and every depot's stock
    against D-P1 (services.parts' view: the depots, their levels and the catalogue)."""
    from chalicelib.services import parts as parts_service

    kind, value, first, last = _checked(query, actor)
    if kind not in rules.PART_SCOPES:
        raise InvalidQuery(
            "parts are reported by contract, school or engineer",
            details=[FieldProblem("query.level", "not a parts scope")],
        )
    rows = report_aggregates.query_part_rows(kind, value, first, last)
    names = {sku: part.name for sku, part in report_aggregates.batch_get_parts(sorted({r[1] for r in rows})).items()}

    def uses(found: list[tuple[str, dict[str, float]]]) -> list[PartUseOut]:
        summed: dict[str, dict[str, float]] = {}
        for sku, values in found:
            summed[sku] = rules.add_rows([summed.get(sku, {}), values])
        return [
            PartUseOut(sku=sku, name=names.get(sku), quantity=_i(v, "parts_qty"), tickets=_i(v, "parts_tickets"))
            for sku, v in sorted(summed.items())
            if _i(v, "parts_qty")
        ]

    months = rules.months_between(first, last)
    depots = []
    for location in report_aggregates.depots():
        stock = parts_service.get_stock(location.location_id, actor)
        depots.append(
            DepotOut(
                location_id=location.location_id,
                name=location.name,
                items=[DepotStockOut.model_validate(i, from_attributes=True) for i in stock.items],
                below_minimum_count=stock.below_minimum_count,
            )
        )
    return PartsReportOut(
        scope=ReportScopeOut(kind=kind, id=value, name=_scope_name(kind, value)),  # type: ignore[arg-type]
        period=first,
        to=last,
        months=[PartsPeriodOut(month=m, parts=uses([(r[1], r[2]) for r in rows if r[0] == m])) for m in months],
        total=uses([(r[1], r[2]) for r in rows]),
        depots=depots,
    )


PARTS_CSV_HEADER = ["scope", "scope_id", "scope_name", "month", "sku", "name", "quantity", "tickets"]


def parts_report_csv(query: ReportQuery, actor: Principal) -> tuple[bytes, str]:
    report = parts_report(query, actor)
    lines = [
        [
            _cell(c)
            for c in (
                report.scope.kind,
                report.scope.id,
                report.scope.name,
                month,
                u.sku,
                u.name,
                u.quantity,
                u.tickets,
            )
        ]
        for month, used in [*((p.month, p.parts) for p in report.months), ("total", report.total)]
        for u in used
    ]
    return to_csv(PARTS_CSV_HEADER, lines), _filename("parts", report.scope, report.period, report.to, "csv")


def parts_report_svg(query: ReportQuery, actor: Principal) -> tuple[bytes, str]:
    from chalicelib.services import report_charts

    report = parts_report(query, actor)
    skus = [u.sku for u in report.total]
    svg = report_charts.category_chart(
        f"Parts used · {report.scope.name or report.scope.id}",
        [p.month for p in report.months],
        {sku: [next((u.quantity for u in p.parts if u.sku == sku), 0) for p in report.months] for sku in skus},
    )
    return svg, _filename("parts", report.scope, report.period, report.to, "svg")


Renderer = Callable[[ReportQuery, Principal], tuple[bytes, str]]
