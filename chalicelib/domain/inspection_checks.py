"""An inspection's checklists and light readings (D-I3..D-I5), and a room's light trend.

Targets: the defaults are the classroom lighting values DOMAIN D-I5 records from the Chinese school
lighting standard GB 7793 (GB 7793-2010 "中小学校教室采光和照明卫生标准", 教室照明):
  - desk (课桌面) average maintained illuminance >= 300 lx, uniformity (min/avg) >= 0.7;
  - blackboard (黑板面) average illuminance >= 500 lx, uniformity >= 0.8;
  - colour rendering index Ra >= 80;
  - no visible flicker.
A contract may change any of them (a stored override per contract, `LightTargets.with_overrides`); a
reading outside its target makes the room non-compliant.

Trends: a room's successive readings of one measure give a least-squares line (stdlib
`statistics.linear_regression`, x in days); where it crosses the target is the projected crossing date,
and a room whose line reaches the target within `TREND_HORIZON_DAYS` is flagged while its readings are
still compliant, so the lamps are seen to before a class sits below the standard.

Plain Python: no chalice, boto3 or pynamodb; the clock comes in as an argument.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from chalicelib.domain.inspection_plans import VisitStatus
from chalicelib.domain.tickets import Category
from chalicelib.errors import Forbidden, IllegalTransition


class Measure(StrEnum):
    """A room's measured readings, each with a minimum target."""

    DESK_LUX = "desk_lux"
    DESK_UNIFORMITY = "desk_uniformity"
    BOARD_LUX = "board_lux"
    BOARD_UNIFORMITY = "board_uniformity"
    RA = "ra"


# GB 7793 via DOMAIN D-I5 (see the module docstring).
DEFAULT_MINIMUMS: dict[Measure, float] = {
    Measure.DESK_LUX: 300.0,
    Measure.DESK_UNIFORMITY: 0.7,
    Measure.BOARD_LUX: 500.0,
    Measure.BOARD_UNIFORMITY: 0.8,
    Measure.RA: 80.0,
}
UNITS: dict[Measure, str] = {
    Measure.DESK_LUX: "lx",
    Measure.DESK_UNIFORMITY: "",
    Measure.BOARD_LUX: "lx",
    Measure.BOARD_UNIFORMITY: "",
    Measure.RA: "Ra",
}
LABELS_ZH: dict[Measure, str] = {
    Measure.DESK_LUX: "课桌面平均照度",
    Measure.DESK_UNIFORMITY: "课桌面照度均匀度",
    Measure.BOARD_LUX: "黑板面平均照度",
    Measure.BOARD_UNIFORMITY: "黑板面照度均匀度",
    Measure.RA: "显色指数",
}
# A semester and a bit: a room projected to fall below target before the next end-of-semester round
# (D-I3) is worth seeing to now.
TREND_HORIZON_DAYS = 180
MIN_TREND_READINGS = 2
MAX_CROSSING_DAYS = 100 * 366  # beyond a lamp's life many times over


@dataclass(frozen=True)
class LightTargets:
    """What a room must reach; `source` says whether a contract changed the defaults."""

    minimums: Mapping[Measure, float] = field(default_factory=lambda: dict(DEFAULT_MINIMUMS))
    flicker_allowed: bool = False
    source: str = "GB 7793"

    def with_overrides(self, minimums: Mapping[str, float], flicker_allowed: bool | None = None) -> LightTargets:
        """The contract's changes over these targets (unknown measure names are ignored: validated upstream)."""
        merged = dict(self.minimums)
        changed = False
        for name, value in minimums.items():
            if name in _MEASURE_NAMES:
                merged[Measure(name)] = float(value)
                changed = True
        flicker = self.flicker_allowed if flicker_allowed is None else flicker_allowed
        changed = changed or flicker != self.flicker_allowed
        return replace(self, minimums=merged, flicker_allowed=flicker, source="contract" if changed else self.source)


GB_7793 = LightTargets()
_MEASURE_NAMES = frozenset(m.value for m in Measure)


# --- per lamp ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LampCheck:
    """One lamp's checklist (D-I3, D-I5): what the engineer saw, and what he fixed on the spot."""

    lit: bool
    flicker: bool
    damaged: bool
    controller_ok: bool
    clean: bool
    fixed_on_spot: str = ""  # what was done there and then (cleaned, re-seated a connector); empty: nothing


@dataclass(frozen=True)
class LampVerdict:
    ok: bool  # every check passed
    problems: tuple[str, ...]  # failed checks, worst first
    finding: bool  # a fault left for a ticket (D-S6): failed and not fixed on the spot
    category: Category | None  # the ticket's category when it is a finding


# Worst first: the first failed check names the ticket's category.
_LAMP_CHECKS: tuple[tuple[str, Category], ...] = (
    ("not_lit", Category.NOT_LIT),
    ("damaged", Category.PHYSICAL_DAMAGE),
    ("controller_fault", Category.CONTROLLER_FAULT),
    ("flicker", Category.FLICKERING),
    ("dirty", Category.OTHER),
)


def judge_lamp(check: LampCheck) -> LampVerdict:
    failed = {
        "not_lit": not check.lit,
        "damaged": check.damaged,
        "controller_fault": not check.controller_ok,
        "flicker": check.flicker,
        "dirty": not check.clean,
    }
    problems = tuple(name for name, _ in _LAMP_CHECKS if failed[name])
    # Dirt alone is maintenance (D-I1 保养), never a case; anything else not fixed there becomes one.
    faults = [name for name in problems if name != "dirty"]
    finding = bool(faults) and not check.fixed_on_spot
    category = dict(_LAMP_CHECKS)[faults[0]] if finding else None
    return LampVerdict(ok=not problems, problems=problems, finding=finding, category=category)


# --- per room ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomReadings:
    """One classroom's measured readings; a measure not taken is None (and not judged)."""

    values: Mapping[Measure, float | None]
    flicker_visible: bool = False
    fixed_on_spot: str = ""


@dataclass(frozen=True)
class MeasureResult:
    measure: Measure
    value: float | None
    minimum: float
    ok: bool | None  # None: not measured


@dataclass(frozen=True)
class RoomVerdict:
    compliant: bool
    results: tuple[MeasureResult, ...]
    failed: tuple[str, ...]  # measure names below target, and "flicker"
    finding: bool  # non-compliant and not fixed on the spot: a case (D-S6)
    category: Category | None


def judge_room(readings: RoomReadings, targets: LightTargets = GB_7793) -> RoomVerdict:
    results = []
    failed: list[str] = []
    for measure in Measure:
        value = readings.values.get(measure)
        minimum = targets.minimums[measure]
        ok = None if value is None else value >= minimum
        if ok is False:
            failed.append(measure.value)
        results.append(MeasureResult(measure, value, minimum, ok))
    if readings.flicker_visible and not targets.flicker_allowed:
        failed.append("flicker")
    compliant = not failed
    finding = not compliant and not readings.fixed_on_spot
    category: Category | None = None
    if finding:
        # Light too low or too uneven reads as a dim room; flicker alone as flickering; Ra alone as other.
        if any(name in failed for name in ("desk_lux", "desk_uniformity", "board_lux", "board_uniformity")):
            category = Category.DIM
        elif "flicker" in failed:
            category = Category.FLICKERING
        else:
            category = Category.OTHER
    return RoomVerdict(compliant, tuple(results), tuple(failed), finding, category)


# --- trends -----------------------------------------------------------------------------------


class TrendFlag(StrEnum):
    INSUFFICIENT = "insufficient_data"  # fewer than 2 readings, or all on one day
    BELOW = "below_target"  # the latest reading is already below target
    HEADING_BELOW = "heading_below"  # compliant now, the fitted line crosses the target within the horizon
    OK = "ok"


@dataclass(frozen=True)
class Trend:
    measure: Measure
    minimum: float
    readings: int
    slope_per_day: float | None  # units per day, least squares
    slope_per_30_days: float | None
    latest: float | None
    crossing_on: dt.date | None  # when the fitted line reaches the minimum (future or past), if falling
    flag: TrendFlag


def fit_trend(
    points: Sequence[tuple[dt.datetime, float]],
    minimum: float,
    measure: Measure,
    today: dt.date,
    horizon_days: int = TREND_HORIZON_DAYS,
) -> Trend:
    """Least-squares slope of (time, value) and where the line crosses `minimum`.

    The flag: BELOW when the latest reading is under target; HEADING_BELOW when the latest is compliant
    but the line falls and reaches the target no later than `today + horizon_days`; OK otherwise."""
    ordered = sorted(points, key=lambda p: p[0])
    latest = ordered[-1][1] if ordered else None
    if latest is not None and latest < minimum:
        flag = TrendFlag.BELOW
    else:
        flag = TrendFlag.OK
    origin = ordered[0][0] if ordered else None
    xs = [(at - origin).total_seconds() / 86400 for at, _ in ordered] if origin else []
    if len(ordered) < MIN_TREND_READINGS or len(set(xs)) < 2:
        return Trend(
            measure,
            minimum,
            len(ordered),
            None,
            None,
            latest,
            None,
            flag if flag is TrendFlag.BELOW else TrendFlag.INSUFFICIENT,
        )
    slope, intercept = statistics.linear_regression(xs, [value for _, value in ordered])
    crossing: dt.date | None = None
    days = (minimum - intercept) / slope if slope < 0 else None  # x where the line equals the minimum
    # A line all but flat crosses centuries away (or past what a date can hold): no crossing to speak of.
    if days is not None and abs(days) <= MAX_CROSSING_DAYS:
        assert origin is not None
        crossing = (origin + dt.timedelta(days=days)).date()
        if flag is TrendFlag.OK and crossing <= today + dt.timedelta(days=horizon_days):
            flag = TrendFlag.HEADING_BELOW
    return Trend(measure, minimum, len(ordered), slope, slope * 30, latest, crossing, flag)


def room_flag(trends: Sequence[Trend]) -> TrendFlag:
    """The room's flag: its worst measure's."""
    order = (TrendFlag.BELOW, TrendFlag.HEADING_BELOW, TrendFlag.OK, TrendFlag.INSUFFICIENT)
    flags = {t.flag for t in trends}
    for flag in order:
        if flag in flags:
            return flag
    return TrendFlag.INSUFFICIENT


# --- who may record -------------------------------------------------------------------------------


def check_recording(status: str, assignee_id: str | None, actor_sub: str, *, completing: bool = False) -> None:
    """Items are recorded, and the visit completed, by the engineer it is assigned to, between his
    check-in (startInspectionVisit: in_progress) and the completion; until then each item may be
    recorded again (the last one counts)."""
    if assignee_id != actor_sub:
        raise Forbidden("only the engineer this inspection visit is assigned to can record it")
    if status != VisitStatus.IN_PROGRESS:
        what = "complete" if completing else "record items of"
        hint = (
            " (start it first: startInspectionVisit)" if status in (VisitStatus.PLANNED, VisitStatus.ASSIGNED) else ""
        )
        raise IllegalTransition(f"cannot {what} a visit that is {status}{hint}", extra={"current_status": status})


def finding_ticket_id(visit_id: str, item_key: str) -> str:
    """The ticket of a finding, derived from the visit and the item: completing the visit again (a retry)
    finds the ticket it opened instead of opening a second one. Shaped like every ticket id."""
    return "t_" + hashlib.sha256(f"{visit_id}#{item_key}".encode()).hexdigest()[:16]
