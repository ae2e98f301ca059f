"""What a teacher reports by scanning a lamp's label, and what the service makes of it (D-S3, D-S6).

Plain rules, no I/O: the faults offered as buttons, the level the system suggests for a report
(the dispatcher confirms it at triage), when a report joins a case that is already open, and the
plain words a reporter reads about their case. The reporter never sees names, phone numbers or
internal notes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from chalicelib.domain.lifecycle import OPEN_STATES, Status
from chalicelib.domain.tickets import Category

# A school's local time decides "during school hours"; every school here is in China.
SCHOOL_TZ = ZoneInfo("Asia/Shanghai")
# A report on another lamp of a room that has an open reported case this recent joins it (one visit).
ROOM_WINDOW = dt.timedelta(minutes=30)
MAX_PHOTOS = 3
PHOTO_MAX_BYTES = 10 * 1024 * 1024


class Fault(StrEnum):
    """The buttons of the report page: what a teacher can see, not a diagnosis."""

    NOT_LIT = "not_lit"
    FLICKERING = "flickering"
    DIM = "dim"
    NOISE = "noise"
    PHYSICAL_DAMAGE = "physical_damage"
    CONTROLLER_FAULT = "controller_fault"
    OTHER = "other"
    ROOM_DARK = "room_dark"  # "the whole room is dark"


CATEGORY_OF: dict[Fault, Category] = {
    Fault.NOT_LIT: Category.NOT_LIT,
    Fault.FLICKERING: Category.FLICKERING,
    Fault.DIM: Category.DIM,
    Fault.NOISE: Category.NOISE,
    Fault.PHYSICAL_DAMAGE: Category.PHYSICAL_DAMAGE,
    Fault.CONTROLLER_FAULT: Category.CONTROLLER_FAULT,
    Fault.OTHER: Category.OTHER,
    Fault.ROOM_DARK: Category.NOT_LIT,
}


def in_school_hours(at: dt.datetime) -> bool:
    """Lessons: Monday to Friday, 07:30 to 17:30 local time (a dark room then stops the school's day)."""
    local = at.astimezone(SCHOOL_TZ)
    return local.weekday() < 5 and dt.time(7, 30) <= local.time() < dt.time(17, 30)


@dataclass(frozen=True)
class LevelRule:
    level: int
    reason: str


def suggest_level(fault: Fault, *, lamps_out_in_room: int, at: dt.datetime) -> LevelRule:
    """D-S3's levels from what was reported; the first rule that applies wins.

    `lamps_out_in_room`: lamps of the room with an open fault once this report is counted.
    """
    if fault == Fault.ROOM_DARK and in_school_hours(at):
        return LevelRule(4, "the whole room is dark during school hours")
    if fault == Fault.ROOM_DARK or lamps_out_in_room >= 2:
        return LevelRule(3, "several lamps of one room are out")
    if fault in (Fault.FLICKERING, Fault.NOISE):
        return LevelRule(1, "the lamp still works (flicker or noise)")
    if fault in (Fault.NOT_LIT, Fault.DIM, Fault.PHYSICAL_DAMAGE, Fault.CONTROLLER_FAULT):
        return LevelRule(2, "one lamp is out or damaged")
    return LevelRule(2, "reported by the school; the dispatcher confirms the level")


# ---- what the reporter reads ----------------------------------------------------------------

JOINABLE = OPEN_STATES  # a report joins a case until it is resolved


class Stage(StrEnum):
    """The reporter's view of a case: a handful of steps in plain words, no internal states."""

    RECEIVED = "received"
    ENGINEER_ASSIGNED = "engineer_assigned"
    ENGINEER_ON_THE_WAY = "engineer_on_the_way"
    ENGINEER_ON_SITE = "engineer_on_site"
    FIXED = "fixed"
    CLOSED = "closed"


STAGE_OF: dict[Status, Stage] = {
    Status.REPORTED: Stage.RECEIVED,
    Status.TRIAGED: Stage.RECEIVED,
    Status.REOPENED: Stage.RECEIVED,
    Status.ASSIGNED: Stage.ENGINEER_ASSIGNED,
    Status.ACKNOWLEDGED: Stage.ENGINEER_ASSIGNED,
    Status.EN_ROUTE: Stage.ENGINEER_ON_THE_WAY,
    Status.ON_SITE: Stage.ENGINEER_ON_SITE,
    Status.RESOLVED: Stage.FIXED,
    Status.SIGNED_OFF: Stage.FIXED,
    Status.CLOSED: Stage.CLOSED,
    Status.CANCELLED: Stage.CLOSED,
    Status.MERGED: Stage.RECEIVED,  # followed through the case it was merged into
}

# Audit actions a reporter may see, as stages; everything else (notes, assignments' names) is internal.
PUBLIC_EVENTS: dict[str, Stage] = {
    "create": Stage.RECEIVED,
    "assign": Stage.ENGINEER_ASSIGNED,
    "depart": Stage.ENGINEER_ON_THE_WAY,
    "arrive": Stage.ENGINEER_ON_SITE,
    "resolve": Stage.FIXED,
    "close": Stage.CLOSED,
    "cancel": Stage.CLOSED,
    "reopen": Stage.RECEIVED,
}


def mask_phone(phone: str) -> str:
    """Personal data: only the dispatcher and the assigned engineer see a reporter's number in full."""
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{''.join(digits[:3])}****{''.join(digits[-4:])}"
