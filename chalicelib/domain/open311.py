"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) in this service's terms: plain rules, no I/O.

City and education-bureau platforms file and follow reports with the Open311 clients they already
have. One Open311 service per fault button (`Fault`); a service request is a ticket, its
`service_request_id` the ticket's reference (T-2026-000123) and its location the lamp's asset number
(`address_id`). Open311 knows two states: open and closed. A duplicate merged into another case
follows that case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.lifecycle import OPEN_STATES, Status
from chalicelib.domain.public_reports import Fault
from chalicelib.domain.tickets import Source

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# The service list's last change: clients refresh their cached services when it moves (Service Discovery).
CHANGESET = "2026-11-29T00:00:00Z"
AGENCY = "LampCare after-sales service centre"
XML = "text/xml"  # the spec's media type for XML answers ("Content-Type: text/xml; charset=utf-8")
JSON = "application/json"

# GET requests: "Default query limit is a span of 90 days or first 1000 requests returned, whichever is smallest".
WINDOW = dt.timedelta(days=90)
# The dates a window may name: far enough inside Python's years 1-9999 that a window, its months and UTC
# stay representable (9999-12-31 plus 90 days has no datetime).
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
MAX_REQUESTS = 1000
MAX_IDS = 100  # service_request_id values in one GET requests (each is one index lookup)
MAX_DESCRIPTION = 4000  # "free form text limited to 4,000 characters"
MAX_MERGE_HOPS = 3  # a merged duplicate follows the case it was merged into, which may itself be merged


class RequestStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


CLOSED_STATES = frozenset({Status.RESOLVED, Status.SIGNED_OFF, Status.CLOSED, Status.CANCELLED})


def request_status(status: Status) -> RequestStatus | None:
    """open: reported and being worked on; closed: resolved, signed off, closed or cancelled.
    None for a merged ticket: it has no state of its own, it follows the case it was merged into."""
    if status in OPEN_STATES:
        return RequestStatus.OPEN
    if status in CLOSED_STATES:
        return RequestStatus.CLOSED
    return None


STATUS_NOTES: dict[Status, str] = {
    Status.REPORTED: "Received; the service centre will triage it.",
    Status.TRIAGED: "Triaged; an engineer will be assigned.",
    Status.ASSIGNED: "An engineer is assigned.",
    Status.ACKNOWLEDGED: "An engineer is assigned.",
    Status.EN_ROUTE: "An engineer is on the way.",
    Status.ON_SITE: "An engineer is on site.",
    Status.REOPENED: "Reopened; an engineer will come back.",
    Status.RESOLVED: "Fixed; waiting for the school's sign-off.",
    Status.SIGNED_OFF: "Fixed and signed off by the school.",
    Status.CLOSED: "Closed.",
    Status.CANCELLED: "Cancelled by the service centre.",
    Status.MERGED: "Merged into another request.",
}


@dataclass(frozen=True)
class Service:
    code: Fault
    name: str
    description: str
    keywords: tuple[str, ...]  # synonyms, Chinese included: what people type when they look for it
    group: str


SERVICES: tuple[Service, ...] = (
    Service(
        Fault.NOT_LIT,
        "Lamp not lit",
        "A classroom lamp does not light.",
        ("dark", "off", "out", "不亮", "灯不亮"),
        "lamp",
    ),
    Service(
        Fault.FLICKERING,
        "Lamp flickering",
        "A lamp flickers or flashes.",
        ("flicker", "flashing", "闪烁", "频闪"),
        "lamp",
    ),
    Service(
        Fault.DIM, "Lamp dim", "A lamp lights, but too dimly to read by.", ("dim", "weak", "暗", "亮度不够"), "lamp"
    ),
    Service(
        Fault.NOISE, "Lamp noise", "A lamp buzzes, hums or clicks.", ("buzzing", "humming", "噪音", "响声"), "lamp"
    ),
    Service(
        Fault.PHYSICAL_DAMAGE,
        "Lamp damaged",
        "A lamp is cracked, broken, loose or hanging.",
        ("broken", "cracked", "loose", "损坏", "破损", "松动"),
        "lamp",
    ),
    Service(
        Fault.CONTROLLER_FAULT,
        "Lamp controller fault",
        "The switch, dimmer or controller of a lamp does not work.",
        ("switch", "dimmer", "remote", "控制器", "开关"),
        "lamp",
    ),
    Service(Fault.OTHER, "Other lamp fault", "Any other fault of a lamp.", ("other", "其他"), "lamp"),
    Service(
        Fault.ROOM_DARK,
        "Whole room dark",
        "No lamp of the classroom lights. Give any lamp of the room as address_id.",
        ("room", "all lamps", "power", "整间教室不亮", "全部不亮"),
        "room",
    ),
)
SERVICE_OF: dict[str, Service] = {s.code.value: s for s in SERVICES}
SERVICE_NOTICE = (
    "The service centre triages every report and sends an engineer within the contract's deadline for the "
    "fault's level; expected_datetime is the on-site deadline."
)


def is_request(source: str, report_count: int) -> bool:
    """Open311 lists what schools and partner platforms reported (QR scans, partners, a school's call), and
    a case a school's report joined (e.g. a fault an inspection found first, in the same room). Other faults
    found on inspections or raised by the service centre are internal work, not requests."""
    return source == Source.SCHOOL_REPORT.value or report_count > 1


def service_code_for(category: str) -> str:
    """The service a ticket was requested as, when it was not filed through a service (a school's call):
    its fault category if that is a service, else `other`."""
    return category if category in SERVICE_OF else Fault.OTHER.value


def month_of(at: dt.datetime) -> str:
    """The partition of the Open311 lists: requests are listed by the UTC month they were made in."""
    return at.astimezone(dt.UTC).strftime("%Y-%m")


def months_between(start: dt.datetime, end: dt.datetime) -> list[str]:
    """The months a window touches, newest first (at most 4 for a 90-day window)."""
    first = start.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    cursor = end.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    months = []
    while cursor >= first:
        months.append(cursor.strftime("%Y-%m"))
        cursor = (cursor - dt.timedelta(days=1)).replace(day=1)
    return months


def sort_key(status: RequestStatus, at: dt.datetime) -> str:
    """`<status>#<UTC time>`: within a month, one status is a contiguous, time-ordered range of the index."""
    return f"{status.value}#{at.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
