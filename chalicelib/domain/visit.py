"""The engineer's visit (issue 11): the geofence, device times, the work record's rules, check-out.

Plain Python with an injected clock (`now` is always an argument): no boto3, no pynamodb, no chalice.
The lifecycle (domain/lifecycle.py) moves the ticket; this module holds what the visit adds to it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.domain.lifecycle import Status
from chalicelib.errors import FieldProblem, Forbidden, IllegalTransition, InvalidInput

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG): haversine's error is < 0.5 %, far below indoor GPS's
DEFAULT_FENCE_M = 300  # a school's campus fits in it; a school may set its own radius
MAX_FENCE_M = 5_000
# A phone may stay offline for days (the write guards remember keys for 7), but its clock may be wrong:
# a device time far from the server's is kept as sent and flagged, never trusted for the SLA.
DEVICE_PAST = dt.timedelta(days=7)
DEVICE_FUTURE = dt.timedelta(minutes=5)
MAX_PARTS_LINES = 20  # 2 transaction items each, beside the ticket's own: well inside DynamoDB's 100


class FaultCategory(StrEnum):
    """D-O3: the fault categories the seeds use."""

    OPERATION_ERROR = "operation_error"
    SOFTWARE_ERROR = "software_error"
    CONFIGURATION_ERROR = "configuration_error"
    HARDWARE_FAULT = "hardware_fault"


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class FenceCheck:
    distance_m: float | None  # None: the school has no position on record
    fence_m: int
    inside: bool | None  # None: unknown (no school position)

    def as_json(self) -> dict[str, Any]:
        return {
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
            "fence_m": self.fence_m,
            "inside_fence": self.inside,
        }


def check_fence(
    lat: float, lon: float, accuracy_m: float, school_lat: float | None, school_lon: float | None, fence_m: float | None
) -> FenceCheck:
    """Outside is accepted and flagged, never refused (indoor GPS is poor). A fix whose accuracy circle
    reaches into the fence counts as inside: the phone may well be there."""
    radius = int(fence_m or DEFAULT_FENCE_M)
    if school_lat is None or school_lon is None:
        return FenceCheck(None, radius, None)
    d = distance_m(lat, lon, float(school_lat), float(school_lon))
    return FenceCheck(d, radius, d - max(0.0, accuracy_m) <= radius)


def device_time(device_at: dt.datetime | None, now: dt.datetime) -> dict[str, Any]:
    """The phone's time, stored beside the server's: `device_at` and whether it looks right
    (`device_clock_ok`: within 7 days before and 5 minutes after the server's time)."""
    if device_at is None:
        return {"device_at": None, "device_clock_ok": None}
    ok = now - DEVICE_PAST <= device_at <= now + DEVICE_FUTURE
    return {"device_at": device_at.astimezone(dt.UTC).isoformat(), "device_clock_ok": ok}


@dataclass(frozen=True)
class PartLine:
    sku: str
    qty: int
    location_id: str


def merge_parts(lines: list[PartLine]) -> list[PartLine]:
    """One line per (location, SKU): DynamoDB refuses two operations on one stock level in a transaction."""
    merged: dict[tuple[str, str], int] = {}
    for line in lines:
        key = (line.location_id, line.sku)
        merged[key] = merged.get(key, 0) + line.qty
    return [PartLine(sku, qty, location) for (location, sku), qty in merged.items()]


def check_swap(old_serial: str, new_serial: str, lamp_serials: dict[str, str]) -> str:
    """The lamp of the ticket being swapped out (by its serial): its id. D-S2 "replace, don't repair"."""
    if old_serial == new_serial:
        raise InvalidInput(
            "the new unit must have another serial", details=[FieldProblem("swap.new_serial", "same as old_serial")]
        )
    for lamp_id, serial in lamp_serials.items():
        if serial == old_serial:
            return lamp_id
    raise InvalidInput(
        f"no lamp of this ticket has serial '{old_serial}'",
        details=[FieldProblem("swap.old_serial", "not a lamp of this ticket")],
    )


CHECK_OUT_FROM = frozenset({Status.SIGNED_OFF, Status.CLOSED})


def check_out_allowed(status: Status, assignee_id: str | None, actor_sub: str, checked_out: bool) -> None:
    """D-O2: the engineer leaves after the school signed; once."""
    if assignee_id != actor_sub:
        raise Forbidden("only the assigned engineer can check out of this visit")
    if checked_out:
        raise IllegalTransition("the visit is already checked out", extra={"current_status": status.value})
    if status not in CHECK_OUT_FROM:
        raise IllegalTransition(
            f"cannot check out of a ticket that is {status.value}: the school signs the work first (D-O2)",
            extra={"current_status": status.value},
        )


def visit_over(status: Status, checked_out: bool) -> bool:
    """Whether the ticket has left the engineer's work list: checked out, or final."""
    return checked_out or status in {Status.CLOSED, Status.CANCELLED, Status.MERGED}


def eta_message(school_name: str, ref: str, eta: dt.datetime, offset_hours: int = 8) -> str:
    """The SMS the school contact gets (D-S7), in China's time unless the ETA says otherwise."""
    local = eta if eta.utcoffset() else eta.astimezone(dt.timezone(dt.timedelta(hours=offset_hours)))
    when = local.strftime("%Y-%m-%d %H:%M")
    return (
        f"【LampCare】{school_name}: 维修工程师预计 {when} 到达 (工单 {ref}). Engineer arriving about {when} ({ref})."
    )


def e164(phone: str) -> str | None:
    """A contact's phone as SNS sends SMS to it (E.164), or None when it is not one. Numbers on record
    are often written the local way: an 11-digit mainland mobile gets China's +86."""
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    if digits.startswith("+"):
        rest = digits[1:]
        return digits if rest.isdigit() and 8 <= len(rest) <= 15 and rest[0] != "0" else None
    if len(digits) == 11 and digits.startswith("1"):
        return f"+86{digits}"
    return None
