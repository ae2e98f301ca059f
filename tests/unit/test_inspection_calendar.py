"""School calendars and inspection plans (issue 12.1; CAL-1..CAL-5, PLAN-1..PLAN-8): a semester end, a
holiday and a make-up working day each move a due window."""

from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.domain import inspection_plans as plans
from chalicelib.domain.inspection_plans import Style, VisitStatus
from chalicelib.domain.school_calendar import SchoolCalendar, Semester, Window, default_calendar, problems
from chalicelib.errors import Forbidden, IllegalTransition

D = dt.date
# China's 2025 National Day and Mid-Autumn holiday: 1-8 October off, Sunday 28 September and Saturday
# 11 October worked instead (调休).
NATIONAL_DAY = frozenset(D(2025, 10, d) for d in range(1, 9))
MAKEUP = frozenset({D(2025, 9, 28), D(2025, 10, 11)})
AUTUMN = Semester("2025-autumn", D(2025, 9, 1), D(2026, 1, 17))  # ends on a Saturday
SHANGHAI = SchoolCalendar("shanghai", (AUTUMN,), NATIONAL_DAY, MAKEUP)


def test_a_window_ending_on_a_holiday_is_due_on_the_next_working_day():
    assert SHANGHAI.place(Window(D(2025, 9, 25), D(2025, 10, 3))) == Window(D(2025, 9, 25), D(2025, 10, 9))
    # without the holiday, Friday 3 October is a working day and the window stays
    assert default_calendar("x").place(Window(D(2025, 9, 25), D(2025, 10, 3))).end == D(2025, 10, 3)


def test_a_window_ending_on_a_make_up_saturday_stays_there():
    assert SHANGHAI.place(Window(D(2025, 10, 9), D(2025, 10, 11))).end == D(2025, 10, 11)
    # the same Saturday in a region without the make-up day moves to Monday
    assert default_calendar("x").place(Window(D(2025, 10, 9), D(2025, 10, 11))).end == D(2025, 10, 13)


def test_a_window_starting_in_the_holiday_opens_on_the_first_working_day_after_it():
    assert SHANGHAI.place(Window(D(2025, 10, 1), D(2025, 10, 20))).start == D(2025, 10, 9)
    assert SHANGHAI.place(Window(D(2025, 10, 4), D(2025, 10, 5))) == Window(D(2025, 10, 9), D(2025, 10, 9))


def test_the_end_of_semester_window_sits_in_the_semesters_last_two_weeks_and_moves_with_its_end():
    window = SHANGHAI.end_of_semester(AUTUMN)
    assert window == Window(D(2026, 1, 5), D(2026, 1, 16))  # Sat 17th -> Fri 16th; Sat 3rd -> Mon 5th
    later = SchoolCalendar("shanghai", (Semester("2025-autumn", D(2025, 9, 1), D(2026, 1, 23)),))
    assert later.end_of_semester(later.semesters[0]) == Window(D(2026, 1, 12), D(2026, 1, 23))


def test_end_of_semester_visits_come_from_the_regions_calendar_and_monthly_ones_are_placed():
    visits = plans.due_visits([Style.END_OF_SEMESTER, Style.MONTHLY], SHANGHAI, D(2025, 12, 1))
    by_period = {(v.style, v.period): v for v in visits}
    assert by_period[(Style.END_OF_SEMESTER, "2025-autumn")].window == Window(D(2026, 1, 5), D(2026, 1, 16))
    # January 2026 ends on a Saturday: due Monday 2 February (CAL-2)
    assert by_period[(Style.MONTHLY, "2026-01")].window == Window(D(2026, 1, 1), D(2026, 2, 2))
    # the horizon is three months: December, January, February; March starts after it
    assert sorted(p for s, p in by_period if s is Style.MONTHLY) == ["2025-12", "2026-01", "2026-02"]


def test_quarterly_half_yearly_and_return_visits_fall_in_their_months():
    visits = plans.due_visits(
        [Style.QUARTERLY, Style.HALF_YEARLY, Style.RETURN_VISIT], default_calendar("x"), D(2025, 5, 20)
    )
    got = {(v.style.value, v.period): (v.window.start, v.window.end) for v in visits}
    assert got == {
        ("quarterly", "2025-Q2"): (D(2025, 6, 10), D(2025, 6, 20)),  # mid-June
        ("return_visit", "2025-R1"): (D(2025, 6, 2), D(2025, 6, 30)),  # 1 June is a Sunday
        ("half_yearly", "2025-H2"): (D(2025, 7, 1), D(2025, 7, 31)),
    }


def test_default_calendar_has_default_semesters():
    visits = plans.due_visits([Style.END_OF_SEMESTER], default_calendar("x"), D(2026, 5, 1))
    assert [(v.period, v.due) for v in visits] == [("2026-spring", D(2026, 7, 10))]


def test_visit_ids_are_deterministic_per_period():
    one = plans.visit_id("ct_1", "sc_1", Style.MONTHLY, "2026-03")
    assert one == plans.visit_id("ct_1", "sc_1", Style.MONTHLY, "2026-03")
    assert one != plans.visit_id("ct_1", "sc_1", Style.MONTHLY, "2026-04")


def test_overdue_from_the_day_after_the_due_date_china_time():
    start = plans.overdue_from(D(2026, 3, 31))
    assert start == dt.datetime(2026, 3, 31, 16, 0, tzinfo=dt.UTC)
    assert not plans.is_overdue(VisitStatus.ASSIGNED, D(2026, 3, 31), start - dt.timedelta(seconds=1))
    assert plans.is_overdue(VisitStatus.ASSIGNED, D(2026, 3, 31), start)
    assert not plans.is_overdue(VisitStatus.COMPLETED, D(2026, 3, 31), start)


def test_only_the_assigned_engineer_starts_an_assigned_visit():
    plans.check_start(VisitStatus.ASSIGNED, "eng-1", "eng-1")
    with pytest.raises(Forbidden):
        plans.check_start(VisitStatus.ASSIGNED, "eng-1", "eng-2")
    with pytest.raises(IllegalTransition):
        plans.check_start(VisitStatus.IN_PROGRESS, "eng-1", "eng-1")
    with pytest.raises(IllegalTransition):
        plans.check_assign(VisitStatus.COMPLETED)


def test_calendar_problems_name_the_field():
    bad = problems(
        [Semester("a", D(2026, 3, 1), D(2026, 2, 1)), Semester("a", D(2026, 2, 15), D(2026, 7, 1))],
        [D(2025, 10, 1)],
        [D(2025, 10, 1), D(2025, 10, 13)],
    )
    fields = {p.field for p in bad}
    assert {"semesters[0].end", "semesters[1].name", "makeup_workdays", "makeup_workdays[1]"} <= fields
