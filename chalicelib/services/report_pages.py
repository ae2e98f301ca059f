"""What the school's report page shows before anything is sent (issue 9, D-S6): the lamp behind a label,
its school, and the open case a report would join, in the reporter's terms.

No names, phone numbers or notes of anyone: the page is public, like the label it is opened from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from chalicelib.domain import public_reports as rules
from chalicelib.domain.lifecycle import Status
from chalicelib.domain.public_reports import Fault, Stage
from chalicelib.models import access

# One rule for which case a scan joins and when an engineer is expected: the report's own.
from chalicelib.services.public_reports import _expected_by, _open_case


@dataclass(frozen=True)
class OpenCaseSummary:
    reference: str
    public_ref: str
    stage: Stage
    fault: Fault  # what "still broken" reports again
    reported_at: dt.datetime
    expected_by: dt.datetime | None
    report_count: int


@dataclass(frozen=True)
class LampPage:
    school: str
    room_id: str
    asset_no: str
    position: str
    open_case: OpenCaseSummary | None


FAULTS = frozenset(f.value for f in Fault)


def lamp_page(token: str) -> LampPage:
    """The lamp, its school and its open case if any: the page says so before offering to report.

    One Query (the label's index carries the lamp's place and open case), one GetItem for the school,
    one more for the open case when there is one.
    """
    lamp = access.find_lamp_by_qr_token(token)  # an unknown or rotated label is a 404 that reveals nothing
    school = access.get_school(lamp.school_id)
    case = _open_case(lamp)
    summary = None
    if case is not None:
        summary = OpenCaseSummary(
            reference=case.ref,
            public_ref=case.public_ref,
            stage=rules.STAGE_OF[Status(case.status)],
            fault=Fault(case.category) if case.category in FAULTS else Fault.OTHER,
            reported_at=case.reported_at,
            expected_by=_expected_by(case),
            report_count=int(case.report_count),
        )
    return LampPage(school.name, lamp.room_id, lamp.asset_no, lamp.position, summary)
