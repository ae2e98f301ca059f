"""Lamps as assets (D-A1, D-A2): QR tokens, locations, asset numbers, import rows."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationInfo, field_validator

Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A warranty ends up to 30 years after acceptance (D-W1): a date near year 9999 would have no end date.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


def _calendar_date(value: object) -> object:
    """Pydantic would read 0 or "86400" as a Unix timestamp: a placeholder in a date column
    would register a lamp as installed in 1970, out of warranty. Only real dates pass, and pass
    as dates: strict validation (JSON bodies) would refuse the text handed on."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError as exc:  # 2025-02-30
            raise ValueError(f"must be a real date as YYYY-MM-DD ({exc})") from exc
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        if not FIRST_DAY <= value <= LAST_DAY:
            raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


Day = Annotated[dt.date, BeforeValidator(_calendar_date)]


class LampStatus(StrEnum):
    IN_SERVICE = "in_service"
    REPLACED = "replaced"
    RETIRED = "retired"


def new_qr_token() -> str:
    """128 random bits, URL-safe. Never derived from an id, so labels cannot be guessed."""
    return secrets.token_urlsafe(16)


_DIGIT_RUN = re.compile(r"[0-9]+")


def _in_number_order(text: str) -> str:
    """'A-2' sorts before 'A-10' as strings once every run of digits is zero-padded."""
    return _DIGIT_RUN.sub(lambda run: run.group().zfill(6), text)


def room_prefix(room_id: str) -> str:
    """The start of every location key in a room (a Query's begins_with)."""
    return f"{_in_number_order(room_id)}#"


def location_key(room_id: str, position: str, lamp_id: str) -> str:
    """Orders a school's lamps as people number rooms and positions: 2 before 10."""
    return f"{room_prefix(room_id)}{_in_number_order(position)}#{lamp_id}"


def asset_no(school_code: str, number: int) -> str:
    """Per-school numbering so that records of different projects never mix (D-A4)."""
    return f"{school_code}-{number:05d}"


class LampSpec(BaseModel):
    """One lamp as registered by hand or by an equipment-list row (D-A1)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    room_id: Code
    position: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    model: Text
    serial: Code
    batch: OptionalText = ""
    configuration: OptionalText = ""
    installed_on: Day
    accepted_on: Day
    building: OptionalText = ""
    floor: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)] = ""

    @field_validator("accepted_on")
    @classmethod
    def _accepted_after_installed(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        # A field validator (not a model validator) so that the error names the column: an import
        # report and a 422 then say "accepted_on", not an anonymous whole-row problem.
        installed_on = info.data.get("installed_on")
        if installed_on is not None and value < installed_on:
            raise ValueError("accepted_on cannot be before installed_on")
        return value


IMPORT_COLUMNS = [
    "room_id",
    "building",
    "floor",
    "position",
    "model",
    "serial",
    "batch",
    "configuration",
    "installed_on",
    "accepted_on",
]
REQUIRED_IMPORT_COLUMNS = ["room_id", "position", "model", "serial", "installed_on", "accepted_on"]
