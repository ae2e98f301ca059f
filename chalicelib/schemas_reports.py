"""Reports (issue 13): `getSlaReport`, `getFaultTrends`, `getEngineerReport` (JSON, CSV or an SVG chart)
and `getSchoolMonthlyReport` (JSON or an A4 PDF).

Every figure comes from the report aggregates (chalicelib/models/report_aggregates.py): tickets count in
the month they were reported (China time); times are minutes from the report; percentiles and the worst
time are read from stored histograms (exact to the width of a bucket: 1 minute up to 10 minutes).

Re-exported by `chalicelib.schemas`, so routes name them like every other schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.types import Id

Month = str
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
MAX_MONTHS = 24
ReportFormatName = Literal["json", "csv", "svg"]
ScopeName = Literal["contract", "school", "engineer", "level"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, from_attributes=True)


class ReportQuery(BaseModel):
    """One scope (exactly one of contract_id, school_id, engineer_id, level) over whole months."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    period: Month | None = Field(
        default=None, pattern=MONTH_PATTERN, description="The first month, YYYY-MM (China time); default: this month."
    )
    to: Month | None = Field(
        default=None, pattern=MONTH_PATTERN, description=f"The last month (default: `period`); at most {MAX_MONTHS}."
    )
    contract_id: Id | None = None
    school_id: Id | None = None
    engineer_id: Id | None = None
    level: Literal["1", "2", "3", "4"] | None = None
    format: ReportFormatName | None = Field(
        default=None,
        description="csv (UTF-8 with a byte-order mark, for Excel) or svg (a chart); without it the Accept "
        "header decides (text/csv, image/svg+xml), JSON by default.",
    )

    @property
    def scope(self) -> tuple[ScopeName, str]:
        for name, scope in (
            ("contract_id", "contract"),
            ("school_id", "school"),
            ("engineer_id", "engineer"),
            ("level", "level"),
        ):
            value = getattr(self, name)
            if value is not None:
                return scope, str(value)  # type: ignore[return-value]
        raise AssertionError("services.reports checks that one scope is named")


class ReportScopeOut(_Out):
    kind: ScopeName
    id: str
    name: str | None = Field(description="The contract's or school's name, the engineer's, the level's colour.")


class DurationsOut(_Out):
    count: int = Field(description="Tickets whose milestone was met (the times counted).")
    mean_minutes: float | None = Field(description="Exact (a stored sum).")
    median_minutes: float | None = Field(description="From the histogram: exact to its bucket's width.")
    p90_minutes: float | None = Field(description="From the histogram: exact to its bucket's width.")
    worst_minutes: float | None = Field(description="The upper edge of the slowest non-empty bucket (an upper bound).")


class MilestoneReportOut(_Out):
    met: int = Field(description="Met by the deadline.")
    breached: int = Field(description="met_late + missed.")
    met_late: int
    missed: int = Field(description="On site only: resolved by phone after the on-site deadline, nobody went.")
    pending: int = Field(description="Not decided yet: the ticket is open and the milestone unmet.")
    percent_met: float | None = Field(description="met / (met + breached) x 100; None when none is decided.")
    times: DurationsOut | None = Field(description="From the report to the milestone (response and on site).")


class EscalationsOut(_Out):
    step_1: int = Field(description="Tickets that reached the line-2 expert group (D-S4).")
    step_2: int = Field(description="... the project lead.")
    step_3: int = Field(description="... the technical manager.")


class SlaPeriodOut(_Out):
    month: str = Field(description="YYYY-MM, or `total` for the whole period.")
    tickets: int = Field(description="Cases reported (merged duplicates apart).")
    by_level: dict[str, int] = Field(description="Level (1 blue ... 4 red) -> cases, by their current level.")
    merged: int = Field(description="Duplicates merged into another case (not counted in tickets).")
    cancelled: int
    open: int
    closed: int
    reopened: int = Field(description="Cases reopened at least once (D-C1).")
    response: MilestoneReportOut
    onsite: MilestoneReportOut
    resolution: MilestoneReportOut
    escalations: EscalationsOut


class SlaReportOut(_Out):
    scope: ReportScopeOut
    period: str
    to: str
    months: list[SlaPeriodOut]
    total: SlaPeriodOut


class FaultTrendPeriodOut(_Out):
    month: str
    faults: int
    by_category: dict[str, int] = Field(description="Category (D-O3, and what a teacher sees) -> cases.")
    by_level: dict[str, int]
    reports: int = Field(description="School reports gathered by the cases (several reports join one case).")
    reopened: int = Field(description="Cases whose fault came back after a fix (the raw material of D-W4).")
    per_thousand_lamps: float | None = Field(description="Faults per 1,000 lamps installed (school scope only).")


class RepeatedLampOut(_Out):
    lamp_id: str
    asset_no: str | None
    model: str | None
    faults: int = Field(description="Cases about this lamp reported in the period.")


class FaultTrendsOut(_Out):
    scope: ReportScopeOut
    period: str
    to: str
    installed_lamps: int | None = Field(description="Lamps in service at the school now (school scope only).")
    months: list[FaultTrendPeriodOut]
    total: FaultTrendPeriodOut
    by_model: dict[str, int] = Field(
        description="School scope: lamp model -> cases about lamps of that model in the period (a case counts once "
        "per lamp)."
    )
    per_thousand_by_model: dict[str, float | None] = Field(
        description="School scope: faults per 1,000 lamps of the model in service at the school."
    )
    repeated_lamps: list[RepeatedLampOut] = Field(
        description="School scope: lamps with two or more cases in the period, most first (D-W4's raw material: "
        "the same device failing after two repairs is replaced)."
    )


class EngineerPeriodOut(_Out):
    month: str
    tickets: int = Field(description="Workload: cases assigned (by the month they were reported).")
    resolved: int
    first_time_fix: int = Field(description="Resolved and never reopened.")
    first_time_fix_rate: float | None = Field(description="first_time_fix / resolved x 100.")
    mean_travel_minutes: float | None = Field(description="From departure to check-in.")
    mean_response_minutes: float | None
    mean_onsite_minutes: float | None = Field(description="From the report to check-in.")
    satisfaction_count: int
    mean_satisfaction: float | None = Field(description="1-5, the school's score at sign-off (D-O4).")
    satisfied_percent: float | None = Field(description="Scores of 4 or 5, of all scores (D-C3's target: 98 %).")


class EngineerReportOut(_Out):
    scope: ReportScopeOut
    period: str
    to: str
    months: list[EngineerPeriodOut]
    total: EngineerPeriodOut


class SchoolMonthlyQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    month: Month | None = Field(
        default=None, pattern=MONTH_PATTERN, description="YYYY-MM (China time); default: this month."
    )
    format: Literal["json", "pdf"] | None = Field(
        default=None, description="pdf: the A4 report (as `Accept: application/pdf` asks); JSON by default."
    )


class MonthlyTicketOut(_Out):
    ref: str
    status: str
    level: int
    category: str
    room_id: str | None
    reported_at: dt.datetime


class MonthlyInspectionOut(_Out):
    visit_id: str
    status: str
    due: str | None


class SchoolMonthlyReportOut(_Out):
    school_id: str
    school_name: str
    month: str
    sla: SlaPeriodOut = Field(description="The month's cases and deadlines met (as getSlaReport for the school).")
    faults_by_category: dict[str, int]
    visits: int = Field(description="Cases an engineer went on site for (checked in).")
    open_items: list[MonthlyTicketOut] = Field(description="The school's cases still open now, oldest deadline first.")
    inspections: list[MonthlyInspectionOut] = Field(description="The month's inspection visits, done and due.")
    lamps_in_service: int
    lamps_out_of_warranty: int = Field(description="Lamps in service whose warranty ended by the month's end (D-W1).")


class PartUseOut(_Out):
    sku: str
    name: str | None = Field(description="From the catalogue.")
    quantity: int = Field(description="Units used by the cases (their work records, D-P2).")
    tickets: int = Field(description="Cases that used it.")


class PartsPeriodOut(_Out):
    month: str
    parts: list[PartUseOut]


class DepotStockOut(_Out):
    sku: str
    name: str
    quantity: int
    installed_qty: int
    minimum_stock: int | None = Field(description="D-P1: 3 % of the installed quantity, rounded up.")
    below_minimum: bool | None


class DepotOut(_Out):
    location_id: str
    name: str
    items: list[DepotStockOut]
    below_minimum_count: int


class PartsReportOut(_Out):
    scope: ReportScopeOut
    period: str
    to: str
    months: list[PartsPeriodOut]
    total: list[PartUseOut]
    depots: list[DepotOut] = Field(description="Every depot's stock now, against D-P1's 3 % rule.")
