"""Service policies (D-S) and warranty terms (D-W) as data: the defaults are DOMAIN's tables.

A contract carries its own copy (D-S5): per fault level the response, on-site and (optional)
resolution targets, who is told when a ticket opens, and the escalation ladder (D-S4); rules
that change the terms by distance from the service centre, by province or by fault kind; and
the calendar the targets count in (7 x 24 by default, or working hours and days with public
holidays and make-up working days). The arithmetic lives in `chalicelib.domain.sla`.

Plain rules: no I/O. Stored policies of the first shape (levels and default_level only) still
load: `ServicePolicy.from_stored`.
"""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from chalicelib.domain.assets import Day
from chalicelib.domain.tickets import Category
from chalicelib.domain.types import Level

Colour = Literal["blue", "yellow", "orange", "red"]
LEVEL_COLOURS: dict[int, Colour] = {4: "red", 3: "orange", 2: "yellow", 1: "blue"}

Milestone = Literal["response", "onsite", "resolution"]
FaultKind = Literal["software", "hardware"]
Region = Literal["in_province", "out_of_province"]
# Who can be told: the supplier's roles that take part in a case (DOMAIN "Who uses it").
Audience = Literal["dispatcher", "expert", "parts_manager", "project_lead", "technical_manager", "manager"]
AUDIENCES: frozenset[str] = frozenset(get_args(Audience))
# D-S4's ladder; a ticket starts at line 1 (step 0), each escalation step raises it by one.
ESCALATION_TIERS: tuple[str, ...] = ("line_1", "line_2", "project_lead", "technical_manager")
Tier = Literal["line_2", "project_lead", "technical_manager"]

HOTLINE_ANSWER_MINUTES = 5  # D-S5: "hotline answers within 5 min", the default for red's "immediate" response
MAX_MINUTES = 366 * 24 * 60  # a target longer than a year is a typo
CALENDAR_HORIZON_DAYS = 366 * 30  # how far domain/sla.py walks a calendar for one deadline


def _compact(value: float) -> int | float:
    """10 rather than 10.0 in JSON; fractions stay (0.05 = 3 s, for tests with seconds-scale policies)."""
    return int(value) if float(value).is_integer() else value


_MINUTES_DOC = "Minutes; fractions allowed (0.5 = 30 s)."
_DELAY_DOC = "Minutes after the milestone's deadline; fractions allowed."
# One JSON schema for requests and responses (the serializer would otherwise split each model in two).
Minutes = Annotated[
    float,
    Field(gt=0, le=MAX_MINUTES, description=_MINUTES_DOC),
    PlainSerializer(_compact),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": MAX_MINUTES, "description": _MINUTES_DOC}),
]
DelayMinutes = Annotated[
    float,
    Field(ge=0, le=MAX_MINUTES, description=_DELAY_DOC),
    PlainSerializer(_compact),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": MAX_MINUTES, "description": _DELAY_DOC}),
]
ClockTime = Annotated[
    str, StringConstraints(pattern=r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"), Field(examples=["08:00", "24:00"])
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]


class _Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# ---- escalation (D-S4) -------------------------------------------------------------------------------


class EscalationStep(_Terms):
    """One rung of D-S4's ladder: when `after`'s deadline has passed unmet for `delay_minutes`, the ticket
    is raised to `tier` and `notify_roles` are told."""

    tier: Tier
    after: Milestone = Field(description="The milestone whose missed deadline starts this step.")
    delay_minutes: DelayMinutes = 0
    notify_roles: list[Audience] = Field(min_length=1, max_length=6)

    @property
    def step(self) -> int:
        """1 line-2 expert group, 2 project lead, 3 technical manager (0 is line 1, where a ticket starts)."""
        return ESCALATION_TIERS.index(self.tier)


Ladder = Annotated[list[EscalationStep], Field(max_length=3)]


def _check_ladder(steps: list[EscalationStep] | None) -> list[EscalationStep] | None:
    if steps:
        tiers = [s.step for s in steps]
        if tiers != sorted(set(tiers)):
            raise ValueError("steps go up D-S4's ladder: line_2, then project_lead, then technical_manager, once each")
    return steps


def default_escalation() -> list[EscalationStep]:
    """D-S4: line 1 -> line-2 expert group -> project lead -> technical manager."""
    return [
        EscalationStep(tier="line_2", after="response", notify_roles=["expert", "dispatcher"]),
        EscalationStep(tier="project_lead", after="onsite", notify_roles=["project_lead", "dispatcher"]),
        EscalationStep(tier="technical_manager", after="onsite", delay_minutes=60, notify_roles=["technical_manager"]),
    ]


# ---- per-level terms ----------------------------------------------------------------------------------


class LevelTerms(_Terms):
    """What a contract promises for one fault level. Targets count from the report (D-S3) through the
    policy's calendar, except the milestones listed in `around_the_clock`."""

    response_minutes: Minutes = Field(description="Acknowledged (the engineer has contacted the school) within.")
    onsite_minutes: Minutes = Field(description="Engineer checked in on site within.")
    resolution_minutes: Minutes | None = Field(default=None, description="Resolved within; none: no target.")
    resolution_loaner: bool = Field(
        default=False,
        description="D-S8: by the resolution deadline the fault is fixed or a loaner unit is installed "
        "until the original comes back from repair.",
    )
    notify_roles: list[Audience] = Field(
        default_factory=list, max_length=6, description="Told when a ticket of this level opens."
    )
    escalation: Ladder | None = Field(default=None, description="This level's ladder; none: the policy's.")
    around_the_clock: list[Milestone] = Field(
        default_factory=list,
        max_length=3,
        description="Milestones counted 7 x 24 even when the calendar has working hours (e.g. a hotline).",
    )

    _ladder = field_validator("escalation")(_check_ladder)

    @model_validator(mode="after")
    def _loaner_needs_a_deadline(self) -> LevelTerms:
        if self.resolution_loaner and self.resolution_minutes is None:
            raise ValueError("resolution_loaner needs resolution_minutes (the loaner's deadline, D-S8)")
        return self


class TermsPatch(_Terms):
    """The fields of `LevelTerms` a rule replaces; the others (null) stay as the level has them."""

    response_minutes: Minutes | None = None
    onsite_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    resolution_loaner: bool | None = None
    notify_roles: list[Audience] | None = Field(default=None, max_length=6)
    escalation: Ladder | None = None
    around_the_clock: list[Milestone] | None = Field(default=None, max_length=3)

    _ladder = field_validator("escalation")(_check_ladder)

    @model_validator(mode="after")
    def _changes_something(self) -> TermsPatch:
        if not self.changes():
            raise ValueError("a rule must change at least one term")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: value for name, value in self if value is not None}


# ---- rules: distance, region, fault kind (D-S5) -------------------------------------------------------


class RuleCondition(_Terms):
    """Every condition given must hold. Distances are from the service centre to the school's GPS position
    (great circle); regions compare the school's province with the service centre's."""

    levels: list[Level] | None = Field(default=None, max_length=4, description="None: every level.")
    within_km: float | None = Field(default=None, gt=0, le=20_000)
    beyond_km: float | None = Field(default=None, ge=0, le=20_000)
    region: Region | None = None
    fault_kind: FaultKind | None = Field(default=None, description="From the ticket's category (D-O3).")

    @model_validator(mode="after")
    def _says_something(self) -> RuleCondition:
        if not self.model_fields_set - {"levels"} and not self.levels:
            raise ValueError("give at least one of levels, within_km, beyond_km, region, fault_kind")
        return self


class PolicyRule(_Terms):
    name: Label = Field(default="", description="Shown where the rule applied, e.g. 'beyond 100 km'.")
    when: RuleCondition
    terms: TermsPatch


# ---- calendar --------------------------------------------------------------------------------------------


def _minute_of_day(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class WorkingPeriod(_Terms):
    start: ClockTime
    end: ClockTime = Field(description="Exclusive; 24:00 is midnight at the end of the day.")

    @model_validator(mode="after")
    def _ordered(self) -> WorkingPeriod:
        if _minute_of_day(self.end) <= _minute_of_day(self.start):
            raise ValueError("end must be after start (a period does not cross midnight)")
        return self

    @property
    def minutes(self) -> tuple[int, int]:
        return _minute_of_day(self.start), _minute_of_day(self.end)


# Asia/Shanghai has kept UTC+8 since 1991: usable even where the system has no time zone database.
_FIXED_ZONES = {"Asia/Shanghai": dt.timezone(dt.timedelta(hours=8), "CST")}


def time_zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if name in _FIXED_ZONES:
            return _FIXED_ZONES[name]
        raise


class Calendar(_Terms):
    """When the clock of a target runs. The default is DOMAIN's 7 x 24. A working-time calendar counts
    only `working_hours` on working days: the `working_days` of the week, minus `holidays`, plus the
    `makeup_days` (调休: the weekend days China's holiday schedule makes working days)."""

    name: Label = "7x24"
    time_zone: str = Field(default="Asia/Shanghai", max_length=64, description="The schools' time zone (IANA).")
    working_days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5, 6, 7],
        min_length=1,
        max_length=7,
        description="ISO weekdays: 1 Monday ... 7 Sunday.",
    )
    working_hours: list[WorkingPeriod] = Field(default_factory=list, max_length=6, description="Empty: the whole day.")
    holidays: list[Day] = Field(default_factory=list, max_length=1000, description="Days off (public holidays).")
    makeup_days: list[Day] = Field(default_factory=list, max_length=1000, description="Weekend days worked (调休).")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            time_zone(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{value}' (use an IANA name such as Asia/Shanghai)") from exc
        return value

    @field_validator("working_days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("each weekday once")
        return sorted(value)

    @field_validator("working_hours")
    @classmethod
    def _periods(cls, value: list[WorkingPeriod]) -> list[WorkingPeriod]:
        ordered = sorted(value, key=lambda p: p.minutes)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.minutes[0] < before.minutes[1]:
                raise ValueError(f"periods {before.start}-{before.end} and {after.start}-{after.end} overlap")
        return ordered

    @field_validator("makeup_days")
    @classmethod
    def _not_holidays(cls, value: list[dt.date], info: ValidationInfo) -> list[dt.date]:
        clash = sorted(set(value) & set(info.data.get("holidays", [])))
        if clash:
            raise ValueError(f"{clash[0].isoformat()} is both a holiday and a make-up working day")
        return value

    @property
    def around_the_clock(self) -> bool:
        """Every minute counts: 7 x 24 with no days off."""
        return len(self.working_days) == 7 and not self.working_hours and not self.holidays

    def assured_minutes(self) -> float:
        """Working minutes that any CALENDAR_HORIZON_DAYS hold, from any moment: whole weeks, less the week it
        starts in and a week a year for daylight-saving days, less every holiday; make-up days only add."""
        daily = sum(end - start for start, end in (p.minutes for p in self.working_hours)) or 24 * 60
        weeks = CALENDAR_HORIZON_DAYS // 7 - 1 - CALENDAR_HORIZON_DAYS // 365
        return (weeks * len(self.working_days) - len(self.holidays)) * daily


class ServiceCentre(_Terms):
    """Where engineers start from: distance zones are measured from here, regions compared with its province."""

    name: Label = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    province: Label = Field(default="", description="The home province, for in-province / out-of-province rules.")


# D-O3's categories and what a teacher reports, by the kind of fault a contract's targets tell apart.
DEFAULT_FAULT_KINDS: dict[Category, FaultKind] = {
    Category.SOFTWARE_ERROR: "software",
    Category.CONFIGURATION_ERROR: "software",
    Category.OPERATION_ERROR: "software",
    Category.CONTROLLER_FAULT: "hardware",
    Category.HARDWARE_FAULT: "hardware",
    Category.NOT_LIT: "hardware",
    Category.FLICKERING: "hardware",
    Category.DIM: "hardware",
    Category.NOISE: "hardware",
    Category.PHYSICAL_DAMAGE: "hardware",
}


class ServicePolicy(BaseModel):
    """A contract's service policy (D-S5). The effective terms of a ticket are its level's terms with every
    matching rule of `overrides` applied in order (a later rule wins on the same field)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    levels: dict[int, LevelTerms]
    default_level: int = Field(default=2, ge=1, le=4)  # provisional level until triage confirms one
    calendar: Calendar = Field(default_factory=Calendar)
    service_centre: ServiceCentre | None = None
    escalation: Ladder = Field(default_factory=default_escalation, description="D-S4, for every level.")
    fault_kinds: dict[Category, FaultKind] = Field(
        default_factory=lambda: dict(DEFAULT_FAULT_KINDS),
        description="Which categories are software and which hardware faults; others match no fault_kind rule.",
    )
    overrides: list[PolicyRule] = Field(default_factory=list, max_length=50)

    @field_validator("levels")
    @classmethod
    def _all_four_levels(cls, value: dict[int, LevelTerms]) -> dict[int, LevelTerms]:
        if set(value) != {1, 2, 3, 4}:
            raise ValueError("levels 1, 2, 3 and 4 must each have terms")
        return value

    _ladder = field_validator("escalation")(_check_ladder)

    @field_validator("overrides")
    @classmethod
    def _rules_have_their_facts(cls, value: list[PolicyRule], info: ValidationInfo) -> list[PolicyRule]:
        centre: ServiceCentre | None = info.data.get("service_centre")
        for index, rule in enumerate(value):
            when = rule.when
            if (when.within_km is not None or when.beyond_km is not None) and centre is None:
                raise ValueError(f"rule {index}: a distance needs service_centre (where it is measured from)")
            if when.region is not None and not (centre and centre.province):
                raise ValueError(f"rule {index}: a region needs service_centre.province (the home province)")
        return value

    @model_validator(mode="after")
    def _calendar_reaches_every_deadline(self) -> ServicePolicy:
        """A deadline is counted through the calendar within CALENDAR_HORIZON_DAYS: a calendar with too little
        working time for the longest target or escalation delay would leave a ticket with no deadline."""
        terms: list[LevelTerms | TermsPatch] = [*self.levels.values(), *(rule.terms for rule in self.overrides)]
        ladders = [self.escalation, *(t.escalation or [] for t in terms)]
        longest = max(
            [m or 0 for t in terms for m in (t.response_minutes, t.onsite_minutes, t.resolution_minutes)]
            + [step.delay_minutes for ladder in ladders for step in ladder]
        )
        if not self.calendar.around_the_clock and longest > self.calendar.assured_minutes():
            raise ValueError(
                f"calendar: too little working time for a target or delay of {_compact(longest)} minutes "
                f"within {CALENDAR_HORIZON_DAYS // 366} years; add working days or hours, or remove holidays"
            )
        return self

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> ServicePolicy:
        """A policy as a contract stored it, in any shape this code ever wrote. The first shape (levels and
        default_level) loads with today's defaults for what it lacks; its red "immediate" response of 0
        minutes, which nobody can meet, reads as the hotline's 5 minutes (D-S5); roles outside today's
        audiences are dropped rather than making the contract unreadable."""
        data = copy.deepcopy(dict(stored))
        for terms in (data.get("levels") or {}).values():
            if isinstance(terms, dict):
                if terms.get("response_minutes") == 0:
                    terms["response_minutes"] = HOTLINE_ANSWER_MINUTES
                if isinstance(terms.get("notify_roles"), list):
                    terms["notify_roles"] = [r for r in terms["notify_roles"] if r in AUDIENCES]
        return cls.model_validate(data)


class WarrantyTerms(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    years: float = Field(default=5, gt=0, le=30)  # D-W1, counted from acceptance
    component_years: dict[str, float] = Field(default_factory=dict)  # e.g. {"electrical": 1.5}
    unremovable_fault_extension_days: int = Field(default=60, ge=0)  # D-W3
    repeat_failure_replacement_after: int = Field(default=2, ge=1)  # D-W4


@lru_cache(maxsize=1)
def default_policy() -> ServicePolicy:
    """DOMAIN's fault-level table, 7 x 24, with red's "immediate" response as the hotline's 5 minutes
    (D-S5: 0 minutes could never be met). Built on first use: building pydantic models costs cold start."""
    return ServicePolicy(
        levels={
            4: LevelTerms(
                response_minutes=HOTLINE_ANSWER_MINUTES,
                onsite_minutes=10,
                notify_roles=["parts_manager", "project_lead", "technical_manager"],
            ),
            3: LevelTerms(response_minutes=10, onsite_minutes=20, notify_roles=["parts_manager", "project_lead"]),
            2: LevelTerms(response_minutes=20, onsite_minutes=40, notify_roles=["parts_manager"]),
            1: LevelTerms(response_minutes=30, onsite_minutes=60, notify_roles=[]),
        }
    )


class Deadlines(BaseModel):
    response_due: dt.datetime
    onsite_due: dt.datetime
    resolution_due: dt.datetime | None = None


def deadlines_for(policy: ServicePolicy, level: int, reported_at: dt.datetime) -> Deadlines:
    """D-S3: measured from the report, whatever the current level; a level change recomputes. Without the
    school and the category no zone, region or fault-kind rule applies: `sla.sla_deadlines` takes them."""
    from chalicelib.domain.sla import SchoolFacts, sla_deadlines

    due = sla_deadlines(policy, level, reported_at, school=SchoolFacts(), category="")
    return Deadlines(response_due=due.response_due, onsite_due=due.onsite_due, resolution_due=due.resolution_due)


def level_view(level: int) -> dict[str, Any]:
    return {"level": level, "colour": LEVEL_COLOURS[level]}


def add_years(day: dt.date, years: float) -> dt.date:
    whole = int(years)
    months = round((years - whole) * 12)
    month_index = day.month - 1 + months
    year = day.year + whole + month_index // 12
    month = month_index % 12 + 1
    # 29 Feb and month ends clamp to the last day of the target month
    for candidate_day in range(day.day, 27, -1):
        try:
            return dt.date(year, month, candidate_day)
        except ValueError:
            continue
    return dt.date(year, month, min(day.day, 28))


def warranty_end(accepted_on: dt.date, years: float, extension_days: int = 0) -> dt.date:
    """D-W1 from acceptance; D-W3 adds 60 days per unremovable fault that stopped the device."""
    return add_years(accepted_on, years) + dt.timedelta(days=extension_days)


def in_warranty(accepted_on: dt.date, years: float, extension_days: int, on: dt.date) -> bool:
    return on <= warranty_end(accepted_on, years, extension_days)
