"""Inspection plans and their visits (issue 12.1, 12.2, 12.6; D-I1..D-I4). Plain Python with the clock
injected (`today`, `now` are arguments): no boto3, no pynamodb, no chalice.

A contract's plan names, per school, the styles of inspection it owes; each style produces due visits,
each with a due window (both ends included; the end is the due date), placed by the school calendar of
the school's region (chalicelib.domain.school_calendar, rules CAL-1..CAL-5):

- PLAN-1 `monthly` (D-I1): a return visit / inspection of the school every month; the window is the
  calendar month. Period "2026-03".
- PLAN-2 `end_of_semester` (D-I3): every supplied lamp of the school inspected at the end of every
  semester; the window is the semester's last two weeks (CAL-4). Period: the semester's name.
- PLAN-3 `quarterly` (D-I2): mid-March, mid-June, mid-September and mid-December; the window is the
  10th to the 20th of the month. Period "2026-Q1".
- PLAN-4 `half_yearly` (D-I2): in January and in July; the window is the month. Period "2026-H1".
- PLAN-5 `return_visit` (D-I2): the return visits in June and in December; the window is the month.
  Period "2026-R1".
- PLAN-6 Horizon. Writing a plan generates the visits of three calendar months: the current month and
  the next two (HORIZON_MONTHS): every visit whose window ends on or after today and whose nominal
  window starts before the first day of the third month after this one. A daily job does the same for
  every plan, so the horizon moves on without anyone writing the plan again. Writing it again generates nothing twice: a visit's id is derived from (contract,
  school, style, period), and it is only created where none exists.
- PLAN-7 Overdue (issue 12.6). A visit is overdue from the start of the day after its due date, China
  time (UTC+8), while it is not completed or cancelled. An overdue visit is escalated to the project
  lead once, like an SLA breach (D-S4).
- PLAN-8 Visit states: planned -> assigned (a dispatcher names the engineer; again to reassign) ->
  in_progress (the assigned engineer checks in at the school, geofenced as a ticket's visit: outside is
  flagged, never refused) -> completed; planned or assigned -> cancelled.
"""

from __future__ import annotations

import calendar as month_days
import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.school_calendar import SchoolCalendar, Window
from chalicelib.errors import Forbidden, IllegalTransition

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
HORIZON_MONTHS = 3  # PLAN-6: this month and the next two
MID_MONTH = (10, 20)  # PLAN-3: "mid-March" is the 10th to the 20th
QUARTER_MONTHS = (3, 6, 9, 12)
HALF_YEAR_MONTHS = (1, 7)
RETURN_VISIT_MONTHS = (6, 12)


class Style(StrEnum):
    MONTHLY = "monthly"
    END_OF_SEMESTER = "end_of_semester"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    RETURN_VISIT = "return_visit"


class VisitStatus(StrEnum):
    PLANNED = "planned"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_STATUSES = frozenset({VisitStatus.PLANNED, VisitStatus.ASSIGNED, VisitStatus.IN_PROGRESS})
ASSIGNABLE = frozenset({VisitStatus.PLANNED, VisitStatus.ASSIGNED})


@dataclass(frozen=True)
class DueVisit:
    style: Style
    period: str
    nominal: Window  # before the calendar moved it
    window: Window  # as the calendar places it: `window.end` is the due date

    @property
    def due(self) -> dt.date:
        return self.window.end


def _month(year: int, month: int) -> Window:
    return Window(dt.date(year, month, 1), dt.date(year, month, month_days.monthrange(year, month)[1]))


def _months(first: dt.date, last: dt.date) -> list[tuple[int, int]]:
    found, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        found.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _monthly_style(style: Style, year: int, month: int) -> tuple[str, Window] | None:
    if style is Style.MONTHLY:
        return f"{year}-{month:02d}", _month(year, month)
    if style is Style.QUARTERLY and month in QUARTER_MONTHS:
        return f"{year}-Q{QUARTER_MONTHS.index(month) + 1}", Window(
            dt.date(year, month, MID_MONTH[0]), dt.date(year, month, MID_MONTH[1])
        )
    if style is Style.HALF_YEARLY and month in HALF_YEAR_MONTHS:
        return f"{year}-H{HALF_YEAR_MONTHS.index(month) + 1}", _month(year, month)
    if style is Style.RETURN_VISIT and month in RETURN_VISIT_MONTHS:
        return f"{year}-R{RETURN_VISIT_MONTHS.index(month) + 1}", _month(year, month)
    return None


def horizon_end(today: dt.date) -> dt.date:
    """PLAN-6: the first day after the horizon (the first of the month three months on)."""
    months = today.year * 12 + today.month - 1 + HORIZON_MONTHS
    return dt.date(months // 12, months % 12 + 1, 1)


def due_visits(styles: Iterable[Style], cal: SchoolCalendar, today: dt.date) -> list[DueVisit]:
    """PLAN-1..PLAN-6: the visits of these styles due from `today` within the horizon, by due date."""
    horizon = horizon_end(today)
    found: list[DueVisit] = []
    for style in dict.fromkeys(styles):
        if style is Style.END_OF_SEMESTER:
            # A semester ending up to a horizon after today can have its window open before the horizon.
            for semester in cal.semesters_between(today, horizon + dt.timedelta(days=31)):
                window = cal.end_of_semester(semester)
                nominal = Window(max(semester.end - dt.timedelta(days=13), semester.start), semester.end)
                if window.end >= today and window.start < horizon:
                    found.append(DueVisit(style, semester.name, nominal, window))
            continue
        for year, month in _months(today, horizon - dt.timedelta(days=1)):
            made = _monthly_style(style, year, month)
            if made is None:
                continue
            period, nominal = made
            window = cal.place(nominal)
            if window.end >= today and nominal.start < horizon:
                found.append(DueVisit(style, period, nominal, window))
    return sorted(found, key=lambda v: (v.due, v.style.value, v.period))


def visit_id(contract_id: str, school_id: str, style: Style, period: str) -> str:
    """PLAN-6: one id per (contract, school, style, period), so generating again finds the visit made."""
    digest = hashlib.sha256(f"{contract_id}\0{school_id}\0{style.value}\0{period}".encode()).hexdigest()
    return f"iv_{digest[:24]}"


def overdue_from(due: dt.date) -> dt.datetime:
    """PLAN-7: the moment a visit due on `due` becomes overdue (UTC)."""
    return dt.datetime.combine(due + dt.timedelta(days=1), dt.time(0), CHINA).astimezone(dt.UTC)


def is_overdue(status: VisitStatus, due: dt.date, now: dt.datetime) -> bool:
    return status in OPEN_STATUSES and now >= overdue_from(due)


def check_assign(status: VisitStatus) -> None:
    """PLAN-8: a visit is assigned (or reassigned) before the engineer starts it."""
    if status not in ASSIGNABLE:
        raise IllegalTransition(f"cannot assign a visit that is {status.value}", extra={"current_status": status.value})


def check_start(status: VisitStatus, assignee_id: str | None, actor_sub: str) -> None:
    """PLAN-8: only the assigned engineer starts the visit, once."""
    if assignee_id != actor_sub:
        raise Forbidden("only the engineer this visit is assigned to can start it")
    if status is not VisitStatus.ASSIGNED:
        raise IllegalTransition(f"cannot start a visit that is {status.value}", extra={"current_status": status.value})


def overdue_message(school_name: str, style: Style, period: str, due: dt.date, assignee: str | None) -> str:
    """What the project lead is told (PLAN-7), in Chinese and English like the SLA's notifications."""
    who = assignee or "未指派 / unassigned"
    return (
        f"【LampCare】巡检逾期: {school_name} {style.value} {period}, 应于 {due.isoformat()} 前完成 (工程师 {who}). "
        f"Inspection overdue: {school_name}, {style.value} {period}, due {due.isoformat()}, engineer {who}."
    )
