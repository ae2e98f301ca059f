"""SLA deadline arithmetic (D-S3, D-S4, D-S5, D-S8): pure functions of a policy, a level, the report
time and the facts of the school and the fault. No clock, no I/O: the caller passes every time.

- `effective_terms`: the level's terms after the contract's rules (distance zone, province, fault kind).
- `sla_deadlines`: response, on-site and resolution deadlines, counted from the report through the
  policy's calendar (working hours, working days, holidays, make-up days) (D-S3).
- `escalation_schedule`: when each step of D-S4's ladder is due if its milestone is still unmet.
- `sla_plan`: all of the above at once, plus who is told when the ticket opens.
- `add_working_time`, `working_minutes_between`: the calendar alone.

Must never import AWS, HTTP or storage modules.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass

from chalicelib.domain.policy import (
    CALENDAR_HORIZON_DAYS,
    ESCALATION_TIERS,
    Audience,
    Calendar,
    EscalationStep,
    FaultKind,
    LevelTerms,
    Milestone,
    ServicePolicy,
    time_zone,
)

MILESTONES: tuple[Milestone, ...] = ("response", "onsite", "resolution")
# The ticket's attribute holding each deadline, and the milestone (lifecycle.MILESTONE_OF) that meets it.
DUE_FIELD: dict[Milestone, str] = {"response": "response_due", "onsite": "onsite_due", "resolution": "resolution_due"}
MET_BY: dict[Milestone, str] = {"response": "acknowledged_at", "onsite": "on_site_at", "resolution": "resolved_at"}

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
_MAX_CALENDAR_DAYS = CALENDAR_HORIZON_DAYS  # a validated policy's deadlines fall within it (ServicePolicy)


# ---- facts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchoolFacts:
    """What the rules need of the school; None where unknown (then no rule on that fact applies)."""

    latitude: float | None = None
    longitude: float | None = None
    province: str | None = None


@dataclass(frozen=True)
class SiteFacts:
    """The facts the rules were matched against, for explaining a deadline."""

    distance_km: float | None  # from the service centre, great circle
    in_province: bool | None
    fault_kind: FaultKind | None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on the mean Earth sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


_PROVINCE_SUFFIXES = (
    "特别行政区",
    "壮族自治区",
    "回族自治区",
    "维吾尔自治区",
    "自治区",
    "省",
    "市",
    " province",
    " city",
)


def same_province(a: str, b: str) -> bool:
    """'浙江省' is '浙江', 'Zhejiang Province' is 'zhejiang'."""

    def norm(name: str) -> str:
        name = name.strip().casefold()
        for suffix in _PROVINCE_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)].strip()
        return name

    return norm(a) == norm(b)


def site_facts(policy: ServicePolicy, school: SchoolFacts, category: str) -> SiteFacts:
    centre = policy.service_centre
    distance = None
    if centre is not None and school.latitude is not None and school.longitude is not None:
        distance = distance_km(centre.latitude, centre.longitude, school.latitude, school.longitude)
    in_province = None
    if centre is not None and centre.province and school.province:
        in_province = same_province(centre.province, school.province)
    kind = policy.fault_kinds.get(category)  # type: ignore[call-overload]  # keys are StrEnum: a str finds them
    return SiteFacts(distance_km=distance, in_province=in_province, fault_kind=kind)


# ---- effective terms ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveTerms:
    """A level's terms for one ticket, after the rules that matched it."""

    level: int
    response_minutes: float
    onsite_minutes: float
    resolution_minutes: float | None
    resolution_loaner: bool  # D-S8: the resolution deadline is "fixed, or a loaner installed"
    notify_roles: tuple[Audience, ...]  # told when the ticket opens
    escalation: tuple[EscalationStep, ...]  # D-S4's ladder for this ticket
    around_the_clock: frozenset[Milestone]  # counted 7 x 24 whatever the calendar
    applied_rules: tuple[str, ...]  # names of the rules that matched, in the order applied
    facts: SiteFacts

    def target_minutes(self, milestone: Milestone) -> float | None:
        return {
            "response": self.response_minutes,
            "onsite": self.onsite_minutes,
            "resolution": self.resolution_minutes,
        }[milestone]


def _matches(policy: ServicePolicy, index: int, level: int, facts: SiteFacts) -> bool:
    when = policy.overrides[index].when
    if when.levels is not None and level not in when.levels:
        return False
    if when.within_km is not None and (facts.distance_km is None or facts.distance_km > when.within_km):
        return False
    if when.beyond_km is not None and (facts.distance_km is None or facts.distance_km <= when.beyond_km):
        return False
    if when.region is not None:
        if facts.in_province is None or facts.in_province != (when.region == "in_province"):
            return False
    return when.fault_kind is None or facts.fault_kind == when.fault_kind


def effective_terms(policy: ServicePolicy, level: int, *, school: SchoolFacts, category: str) -> EffectiveTerms:
    """The level's terms with every matching rule applied in order (D-S5)."""
    if level not in policy.levels:
        raise ValueError(f"level {level} is not one of the policy's levels")
    facts = site_facts(policy, school, category)
    terms: LevelTerms = policy.levels[level]
    applied: list[str] = []
    for index, rule in enumerate(policy.overrides):
        if _matches(policy, index, level, facts):
            terms = terms.model_copy(update=rule.terms.changes())
            applied.append(rule.name or f"overrides[{index}]")
    ladder = terms.escalation if terms.escalation is not None else policy.escalation
    return EffectiveTerms(
        level=level,
        response_minutes=terms.response_minutes,
        onsite_minutes=terms.onsite_minutes,
        resolution_minutes=terms.resolution_minutes,
        resolution_loaner=terms.resolution_loaner and terms.resolution_minutes is not None,
        notify_roles=tuple(terms.notify_roles),
        escalation=tuple(ladder),
        around_the_clock=frozenset(terms.around_the_clock),
        applied_rules=tuple(applied),
        facts=facts,
    )


# ---- the calendar -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Days:
    """A calendar prepared for day-by-day walking."""

    zone: dt.tzinfo
    weekdays: frozenset[int]
    periods: tuple[tuple[int, int], ...]  # minutes of the day, [start, end)
    holidays: frozenset[dt.date]
    makeup: frozenset[dt.date]

    @classmethod
    def of(cls, calendar: Calendar) -> _Days:
        return cls(
            zone=time_zone(calendar.time_zone),
            weekdays=frozenset(calendar.working_days),
            periods=tuple(p.minutes for p in calendar.working_hours) or ((0, 24 * 60),),
            holidays=frozenset(calendar.holidays),
            makeup=frozenset(calendar.makeup_days),
        )

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.makeup:  # 调休: a weekend day worked
            return True
        return day not in self.holidays and day.isoweekday() in self.weekdays

    def working_spans(self, start: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working time from `start` on, as UTC [begin, end) spans in order."""
        day = start.astimezone(self.zone).date()
        for _ in range(_MAX_CALENDAR_DAYS):
            if self.is_working_day(day):
                midnight = dt.datetime.combine(day, dt.time(), tzinfo=self.zone)
                for first, last in self.periods:
                    # wall-clock arithmetic on purpose: 08:00 local, whatever the offset that day
                    begin = (midnight + dt.timedelta(minutes=first)).astimezone(dt.UTC)
                    end = _wall(day, last, self.zone)
                    if end > start:
                        yield max(begin, start), end
            day += dt.timedelta(days=1)
        raise ValueError("the calendar has no working time left")


def _wall(day: dt.date, minute: int, zone: dt.tzinfo) -> dt.datetime:
    if minute == 24 * 60:
        day, minute = day + dt.timedelta(days=1), 0
    return (dt.datetime.combine(day, dt.time(), tzinfo=zone) + dt.timedelta(minutes=minute)).astimezone(dt.UTC)


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone")
    return moment.astimezone(dt.UTC)


def add_working_time(calendar: Calendar, start: dt.datetime, minutes: float) -> dt.datetime:
    """The moment `minutes` of the calendar's working time after `start` (UTC). A start outside working
    time waits for the next working period; a deadline may fall exactly at a period's end."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    start = _aware(start, "start")
    remaining = dt.timedelta(minutes=minutes)
    if not remaining or calendar.around_the_clock:
        return start + remaining
    for begin, end in _Days.of(calendar).working_spans(start):
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("unreachable: working_spans raises when it runs out")


def working_minutes_between(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> float:
    """Working minutes from `start` to `end` (0 if end is not after start): e.g. lateness as the contract counts it."""
    start, end = _aware(start, "start"), _aware(end, "end")
    if end <= start:
        return 0.0
    if calendar.around_the_clock:
        return (end - start) / dt.timedelta(minutes=1)
    total = dt.timedelta()
    for begin, stop in _Days.of(calendar).working_spans(start):
        if begin >= end:
            break
        total += min(stop, end) - begin
    return total / dt.timedelta(minutes=1)


# ---- deadlines, escalation, the whole plan -------------------------------------------------------------------


@dataclass(frozen=True)
class Milestones:
    """A ticket's deadlines (UTC). `resolution_due` is None when the terms have no resolution target."""

    response_due: dt.datetime
    onsite_due: dt.datetime
    resolution_due: dt.datetime | None
    resolution_loaner: bool = False  # D-S8: by resolution_due, fixed or a loaner installed

    def due(self, milestone: Milestone) -> dt.datetime | None:
        return {"response": self.response_due, "onsite": self.onsite_due, "resolution": self.resolution_due}[milestone]

    def as_changes(self) -> dict[str, dt.datetime | None]:
        """The ticket's deadline attributes (DUE_FIELD)."""
        return {DUE_FIELD[m]: self.due(m) for m in MILESTONES}


@dataclass(frozen=True)
class EscalationDue:
    """One step of D-S4's ladder for one ticket: due at `due_at` unless `after` was met by its deadline."""

    step: int  # 1 line-2 expert group, 2 project lead, 3 technical manager
    tier: str
    after: Milestone
    deadline: dt.datetime  # the milestone's deadline whose breach starts the step
    due_at: dt.datetime  # deadline + the step's delay, on the same clock
    notify_roles: tuple[Audience, ...]


@dataclass(frozen=True)
class SlaPlan:
    terms: EffectiveTerms
    milestones: Milestones
    escalations: tuple[EscalationDue, ...]  # in the order they fall due

    @property
    def notify_on_open(self) -> tuple[Audience, ...]:
        """DOMAIN's table: parts manager for yellow and worse, project lead for orange and worse, technical
        manager for red (as the contract's policy has them)."""
        return self.terms.notify_roles


def _count(policy: ServicePolicy, terms: EffectiveTerms, milestone: Milestone) -> Calendar | None:
    """The calendar a milestone's clock runs on; None: every minute counts."""
    if milestone in terms.around_the_clock or policy.calendar.around_the_clock:
        return None
    return policy.calendar


def _later(calendar: Calendar | None, start: dt.datetime, minutes: float) -> dt.datetime:
    if calendar is None:
        return start + dt.timedelta(minutes=minutes)
    return add_working_time(calendar, start, minutes)


def deadlines_of(policy: ServicePolicy, terms: EffectiveTerms, reported_at: dt.datetime) -> Milestones:
    """Deadlines of already-resolved terms, counted from the report (D-S3)."""
    reported_at = _aware(reported_at, "reported_at")

    def due(milestone: Milestone) -> dt.datetime | None:
        minutes = terms.target_minutes(milestone)
        return None if minutes is None else _later(_count(policy, terms, milestone), reported_at, minutes)

    response, onsite = due("response"), due("onsite")
    assert response is not None and onsite is not None  # both always have a target
    return Milestones(response, onsite, due("resolution"), terms.resolution_loaner)


def sla_deadlines(
    policy: ServicePolicy, level: int, reported_at: dt.datetime, *, school: SchoolFacts, category: str
) -> Milestones:
    """D-S3: the deadlines of a ticket of `level` reported at `reported_at` (aware) at `school` for a fault of
    `category`; a level change calls this again with the same report time."""
    return deadlines_of(policy, effective_terms(policy, level, school=school, category=category), reported_at)


def escalation_schedule(policy: ServicePolicy, terms: EffectiveTerms, milestones: Milestones) -> list[EscalationDue]:
    """D-S4: when each step falls due. A step after a milestone without a deadline (no resolution target)
    never falls due; its delay runs on the milestone's own clock."""
    result = []
    for step in terms.escalation:
        deadline = milestones.due(step.after)
        if deadline is None:
            continue
        result.append(
            EscalationDue(
                step=ESCALATION_TIERS.index(step.tier),
                tier=step.tier,
                after=step.after,
                deadline=deadline,
                due_at=_later(_count(policy, terms, step.after), deadline, step.delay_minutes),
                notify_roles=tuple(step.notify_roles),
            )
        )
    return sorted(result, key=lambda e: (e.due_at, e.step))


def sla_plan(
    policy: ServicePolicy, level: int, reported_at: dt.datetime, *, school: SchoolFacts, category: str
) -> SlaPlan:
    """Everything a timer needs for one ticket: terms, deadlines, escalation steps, who to tell on opening."""
    terms = effective_terms(policy, level, school=school, category=category)
    milestones = deadlines_of(policy, terms, reported_at)
    return SlaPlan(terms, milestones, tuple(escalation_schedule(policy, terms, milestones)))
