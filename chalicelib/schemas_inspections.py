"""Inspection rounds (issue 12): plans, school calendars and inspection visits (planning, assignment,
start). Rule ids: PLAN-n (chalicelib/domain/inspection_plans.py), CAL-n (chalicelib/domain/school_calendar.py).

Re-exported by `chalicelib.schemas`, so routes name them like every other schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from chalicelib.domain.inspection_plans import Style, VisitStatus
from chalicelib.domain.school_calendar import MAX_DAYS, MAX_SEMESTERS
from chalicelib.domain.types import Id, Note

MAX_PLAN_SCHOOLS = 200
REGION_PATTERN = r"^[A-Za-z0-9_.:\-\u4e00-\u9fff]{1,64}$"  # a province or city: "上海", "shanghai", "CN-31"
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=REGION_PATTERN)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# ---- plans ------------------------------------------------------------------------------------------


class InspectionPlanSchoolIn(_In):
    school_id: Id
    styles: list[Style] = Field(max_length=5, description="Empty: this school has no inspection rounds.")
    region: Region | None = Field(
        default=None, description="The school calendar that places its windows (default: the plan's `region`)."
    )


class InspectionPlanIn(_In):
    styles: list[Style] | None = Field(
        default=None,
        max_length=5,
        description="The styles of every school of the contract not listed in `schools` (PLAN-1..PLAN-5). "
        "Omitted: only the schools listed are planned.",
    )
    schools: list[InspectionPlanSchoolIn] = Field(default_factory=list, max_length=MAX_PLAN_SCHOOLS)
    region: Region | None = Field(
        default=None,
        description="The school calendar (PUT /calendars/{region}) for the plan's schools; default: each "
        "school's province, and without one the default calendar (CAL-5).",
    )

    @field_validator("schools")
    @classmethod
    def _once_each(cls, value: list[InspectionPlanSchoolIn]) -> list[InspectionPlanSchoolIn]:
        ids = [s.school_id for s in value]
        if len(set(ids)) != len(ids):
            raise ValueError("a school is listed twice")
        return value


class InspectionPlanSchoolOut(_Out):
    school_id: str
    region: str
    styles: list[Style]


class InspectionPlanOut(_Out):
    contract_id: str
    generated_from: dt.date = Field(description="Today (China time): no visit is generated for the past.")
    generated_until: dt.date = Field(
        description="The last day of the horizon (PLAN-6): this month and the next two. Writing the plan again "
        "(e.g. monthly) generates the months after; a visit already generated is never generated twice."
    )
    schools: list[InspectionPlanSchoolOut]
    visits_created: int
    visits_existing: int = Field(description="Due visits of the horizon that existed already (left unchanged).")
    visits_cancelled: int = Field(
        description="Visits of styles taken out of a school's plan, not yet due and not assigned: cancelled."
    )


# ---- calendars --------------------------------------------------------------------------------------


class SemesterIn(_In):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] = Field(
        description="e.g. 2025-autumn: the end-of-semester visit's period."
    )
    start: dt.date
    end: dt.date


class SchoolCalendarIn(_In):
    semesters: list[SemesterIn] = Field(default_factory=list, max_length=MAX_SEMESTERS)
    holidays: list[dt.date] = Field(default_factory=list, max_length=MAX_DAYS, description="Days off (CAL-1).")
    makeup_workdays: list[dt.date] = Field(
        default_factory=list,
        max_length=MAX_DAYS,
        description="Saturdays and Sundays worked instead of a holiday (调休上班): working days (CAL-1).",
    )


class SemesterOut(_Out):
    name: str
    start: dt.date
    end: dt.date


class SchoolCalendarOut(_Out):
    region: str
    semesters: list[SemesterOut]
    holidays: list[dt.date]
    makeup_workdays: list[dt.date]
    revision: int = Field(description="+1 each time the calendar is replaced; 0: none stored, the default (CAL-5).")
    default: bool = Field(description="True: no calendar is stored for the region; weekends only (CAL-5).")
    updated_at: dt.datetime | None


# ---- visits -----------------------------------------------------------------------------------------


class InspectionVisitQuery(_In):
    school_id: Id | None = Field(default=None, description="A school's visits, every status, earliest due first.")
    assignee_id: Id | None = Field(
        default=None, description="An engineer's open visits (assigned, in progress), earliest due first."
    )
    status: Literal["overdue"] | None = Field(
        default=None, description="overdue: open visits past their due date (PLAN-7), most overdue first."
    )
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)


class AssignInspectionVisitIn(_In):
    assignee_id: Id = Field(description="An active engineer or line-2 expert.")
    version: int | None = Field(default=None, ge=1, description="The visit version read; stale: 409.")
    note: Note = ""


class StartInspectionVisitIn(_In):
    lat: float = Field(ge=-90, le=90, description="The phone's GPS latitude (WGS 84).")
    lon: float = Field(ge=-180, le=180, description="The phone's GPS longitude (WGS 84).")
    accuracy_m: float = Field(ge=0, le=100_000, description="The fix's accuracy radius in metres.")
    device_at: dt.datetime | None = Field(
        default=None, description="When it happened on the phone, with a time zone; stored beside the server's time."
    )
    version: int | None = Field(default=None, ge=1, description="The visit version read; stale: 409.")
    note: Note = ""

    @field_validator("device_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-11-24T09:30:00+08:00")
        if value is not None and not (1970 <= value.astimezone(dt.UTC).year <= 2999):
            raise ValueError("must be between 1970 and 2999")
        return value


class InspectionVisitOut(_Out):
    visit_id: str
    contract_id: str
    school_id: str
    style: Style
    period: str = Field(description="2026-03 (monthly), 2026-Q1, 2026-H1, 2026-R1 (return visit), 2025-autumn.")
    region: str
    window_start: dt.date
    window_end: dt.date = Field(description="The due date, as the school calendar placed it (CAL-2, CAL-4).")
    overdue_from: dt.datetime = Field(description="The start of the day after the due date, China time (PLAN-7).")
    status: VisitStatus
    overdue: bool = Field(description="Open and past `overdue_from` now.")
    escalated_at: dt.datetime | None = Field(description="When the project lead was told it is overdue.")
    assignee_id: str | None
    assigned_at: dt.datetime | None
    check_in: dict[str, Any] | None = Field(
        description="at, device_at, device_clock_ok, lat, lon, accuracy_m, distance_m, fence_m, inside_fence "
        "(false: outside the school's fence, accepted and flagged), by."
    )
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    sign_off: dict[str, Any] | None
    version: int


class InspectionVisitPageOut(_Out):
    items: list[InspectionVisitOut]
    next_cursor: str | None
