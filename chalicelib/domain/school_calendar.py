"""A school calendar per region (issue 12.1): semesters, public holidays and make-up working days, and
how they move an inspection's due window (D-I1..D-I3). Plain Python: dates in, dates out; no clock,
no boto3, no pynamodb, no chalice.

Rules (cited as CAL-n in code and tests):

- CAL-1 Working day. A day is a working day when it is a make-up working day (调休上班: a Saturday or
  Sunday the State Council's holiday schedule makes a working day), or else when it is Monday to Friday
  and not a public holiday. A make-up day always wins over the weekend; a holiday always loses.
- CAL-2 Due date. A window that ends on a day that is not a working day ends on the next working day
  instead (the school is closed: nobody can sign the visit, D-I4). A make-up Saturday is a working day,
  so a window ending on it stays.
- CAL-3 Start. A window that starts on a day that is not a working day starts on the next working day,
  never after its (moved) end.
- CAL-4 End of semester (D-I3). The end-of-semester round sits inside the last two weeks of the
  semester: it is due on the last working day on or before the semester's end (moving BACK, not forward:
  after the end the pupils are gone) and opens 13 days earlier (CAL-3 applied, never before the
  semester starts). A later semester end moves the whole window later.
- CAL-5 No calendar. A region without a stored calendar has weekends only (no holidays, no make-up
  days) and the default semesters (spring 1 March to 10 July, autumn 1 September to 20 January); a
  stored calendar that lists no semesters uses the default semesters too.

A calendar is replaced as a whole (it is published once a year by the education bureau); `problems`
lists what is wrong with one before it is stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.errors import FieldProblem

END_OF_SEMESTER_SPAN = dt.timedelta(days=13)  # CAL-4: two weeks, the due day included
SEARCH_LIMIT = 400  # days searched for a working day: a calendar of holidays only still ends
MAX_SEMESTERS = 20
MAX_DAYS = 400  # holidays or make-up days per calendar: several years of them


@dataclass(frozen=True)
class Semester:
    name: str  # "2025-autumn": the end-of-semester visit's period
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Window:
    """A due window, both ends included; `end` is the due date."""

    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class SchoolCalendar:
    region: str
    semesters: tuple[Semester, ...] = ()
    holidays: frozenset[dt.date] = frozenset()
    makeup_workdays: frozenset[dt.date] = frozenset()
    default: bool = False  # CAL-5: no calendar stored for the region

    def is_working_day(self, day: dt.date) -> bool:
        """CAL-1."""
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day on or after `day` (CAL-2, CAL-3)."""
        for offset in range(SEARCH_LIMIT):
            candidate = day + dt.timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        return day

    def previous_working_day(self, day: dt.date) -> dt.date:
        """The last working day on or before `day` (CAL-4)."""
        for offset in range(SEARCH_LIMIT):
            candidate = day - dt.timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        return day

    def place(self, nominal: Window) -> Window:
        """CAL-2 and CAL-3: the window as the calendar moves it."""
        end = self.next_working_day(nominal.end)
        start = min(self.next_working_day(nominal.start), end)
        return Window(start, end)

    def end_of_semester(self, semester: Semester) -> Window:
        """CAL-4: the last two weeks of the semester, due on its last working day."""
        end = max(self.previous_working_day(semester.end), semester.start)
        start = max(end - END_OF_SEMESTER_SPAN, semester.start)
        return Window(min(self.next_working_day(start), end), end)

    def semesters_between(self, first: dt.date, last: dt.date) -> list[Semester]:
        """The semesters (stored, or CAL-5's defaults) that end between `first` and `last`, both included."""
        semesters = self.semesters or default_semesters(first.year - 1, last.year + 1)
        return sorted((s for s in semesters if first <= s.end <= last), key=lambda s: s.end)


def default_semesters(first_year: int, last_year: int) -> tuple[Semester, ...]:
    """CAL-5: spring 1 March to 10 July, autumn 1 September to 20 January of the next year."""
    found: list[Semester] = []
    for year in range(first_year, last_year + 1):
        found.append(Semester(f"{year}-spring", dt.date(year, 3, 1), dt.date(year, 7, 10)))
        found.append(Semester(f"{year}-autumn", dt.date(year, 9, 1), dt.date(year + 1, 1, 20)))
    return tuple(found)


def default_calendar(region: str) -> SchoolCalendar:
    return SchoolCalendar(region=region, default=True)


def problems(
    semesters: Iterable[Semester], holidays: Iterable[dt.date], makeup: Iterable[dt.date]
) -> list[FieldProblem]:
    """What is wrong with a calendar before it is stored: a semester ending before it starts, two semesters
    that overlap or share a name, a day both a holiday and a make-up working day, a make-up working day
    that is not a Saturday or Sunday (it would change nothing: most likely a typo)."""
    found: list[FieldProblem] = []
    listed = list(enumerate(semesters))
    ordered = sorted(listed, key=lambda pair: pair[1].start)
    names: set[str] = set()
    for index, semester in listed:
        if semester.end < semester.start:
            found.append(FieldProblem(f"semesters[{index}].end", "before the semester's start"))
        if semester.name in names:
            found.append(FieldProblem(f"semesters[{index}].name", "two semesters have this name"))
        names.add(semester.name)
    for (_, before), (index, after) in zip(ordered, ordered[1:], strict=False):
        if after.start <= before.end:
            found.append(FieldProblem(f"semesters[{index}].start", f"overlaps semester '{before.name}'"))
    both = sorted(set(holidays) & set(makeup))
    for day in both:
        found.append(FieldProblem("makeup_workdays", f"{day.isoformat()} is also a holiday"))
    for index, day in enumerate(makeup):
        if day.weekday() < 5:
            found.append(
                FieldProblem(f"makeup_workdays[{index}]", f"{day.isoformat()} is a weekday: already a working day")
            )
    return found
