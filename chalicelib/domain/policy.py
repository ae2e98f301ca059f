"""Service policies (D-S) and warranty terms (D-W): the defaults are DOMAIN's tables.

A contract carries its own copy (D-S5); deadlines are always computed from the
contract's policy, measured from the moment the fault was reported (D-S3).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Colour = Literal["blue", "yellow", "orange", "red"]
LEVEL_COLOURS: dict[int, Colour] = {4: "red", 3: "orange", 2: "yellow", 1: "blue"}


class LevelTerms(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    response_minutes: int = Field(ge=0)
    onsite_minutes: int = Field(gt=0)
    notify_roles: list[str] = Field(default_factory=list)


class ServicePolicy(BaseModel):
    """Deadlines per fault level. 7 x 24: no business-hours pause (DOMAIN D-S)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    levels: dict[int, LevelTerms]
    default_level: int = Field(default=2, ge=1, le=4)  # provisional level until triage confirms one

    @field_validator("levels")
    @classmethod
    def _all_four_levels(cls, value: dict[int, LevelTerms]) -> dict[int, LevelTerms]:
        if set(value) != {1, 2, 3, 4}:
            raise ValueError("levels 1, 2, 3 and 4 must each have terms")
        return value


class WarrantyTerms(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    years: float = Field(default=5, gt=0, le=30)  # D-W1, counted from acceptance
    component_years: dict[str, float] = Field(default_factory=dict)  # e.g. {"electrical": 1.5}
    unremovable_fault_extension_days: int = Field(default=60, ge=0)  # D-W3
    repeat_failure_replacement_after: int = Field(default=2, ge=1)  # D-W4


@lru_cache(maxsize=1)
def default_policy() -> ServicePolicy:
    """DOMAIN's fault-level table. Built on first use: building pydantic models costs cold start."""
    return ServicePolicy(
        levels={
            4: LevelTerms(
                response_minutes=0, onsite_minutes=10, notify_roles=["parts_manager", "project_lead", "manager"]
            ),
            3: LevelTerms(response_minutes=10, onsite_minutes=20, notify_roles=["parts_manager", "project_lead"]),
            2: LevelTerms(response_minutes=20, onsite_minutes=40, notify_roles=["parts_manager"]),
            1: LevelTerms(response_minutes=30, onsite_minutes=60, notify_roles=[]),
        }
    )


class Deadlines(BaseModel):
    response_due: dt.datetime
    onsite_due: dt.datetime


def deadlines_for(policy: ServicePolicy, level: int, reported_at: dt.datetime) -> Deadlines:
    """D-S3: measured from the report, whatever the current level; a level change recomputes."""
    terms = policy.levels[level]
    return Deadlines(
        response_due=reported_at + dt.timedelta(minutes=terms.response_minutes),
        onsite_due=reported_at + dt.timedelta(minutes=terms.onsite_minutes),
    )


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
