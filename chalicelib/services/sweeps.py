"""Scheduled sweeps over the deadlines (D-S3, D-S4).

`sweep_overdue` finds the tickets whose on-site deadline has passed while nobody is on site yet
(reported, triaged, assigned, acknowledged, en route, reopened): one Query per status, at most
`PAGE_SIZE` tickets each per run, oldest deadline first. It changes nothing; the job that calls it
reports the tickets to operators (a log line each and a metric).

Shaped for the SLA issue: that issue records each breach (and escalates, D-S4) for the tickets
this returns, in the same run; it adds a step per ticket here, after the find and before the
summary, so the summary can count what was recorded.

The clock is injected (the job passes its schedule's tick); the finder is injected too, so unit
tests hand in an in-memory fake. Never imports pynamodb: the Query is `models.overdue`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.domain.lifecycle import Status
from chalicelib.models.overdue import OverduePage, OverdueTicket, overdue_in_status
from chalicelib.services.ids import utcnow

# Not on site yet: an on-site deadline still running in these states can be missed.
NOT_YET_ON_SITE: tuple[Status, ...] = (
    Status.REPORTED,
    Status.TRIAGED,
    Status.ASSIGNED,
    Status.ACKNOWLEDGED,
    Status.EN_ROUTE,
    Status.REOPENED,
)
PAGE_SIZE = 100  # per status per run: 6 Queries of at most 101 items each, every minute
LEVELS = (1, 2, 3, 4)


class FindOverdue(Protocol):
    def __call__(self, status: str, now: dt.datetime, *, limit: int) -> OverduePage: ...


@dataclass(frozen=True)
class OverdueSweep:
    checked_at: dt.datetime
    page_size: int
    tickets: list[OverdueTicket]  # oldest deadline first
    more_in: list[str]  # statuses with more overdue tickets than one page: the next run sees the same oldest

    def overdue_minutes(self, ticket: OverdueTicket) -> int:
        return int((self.checked_at - ticket.onsite_due).total_seconds() // 60)

    def by_level(self) -> dict[int, int]:
        counts = Counter(t.level for t in self.tickets)
        return {level: counts.get(level, 0) for level in LEVELS}

    def by_status(self) -> dict[str, int]:
        counts = Counter(t.status for t in self.tickets)
        return {status.value: counts.get(status.value, 0) for status in NOT_YET_ON_SITE}

    def summary(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at,
            "overdue": len(self.tickets),
            "by_level": {str(level): n for level, n in self.by_level().items()},
            "by_status": self.by_status(),
            "page_size": self.page_size,
            "more_in": self.more_in,
            "tickets": [t.ticket_id for t in self.tickets],
        }


def sweep_overdue(
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    find: FindOverdue = overdue_in_status,
    page_size: int = PAGE_SIZE,
) -> OverdueSweep:
    """The tickets not yet reached whose on-site deadline is before `clock()`."""
    now = clock()
    found: list[OverdueTicket] = []
    more_in: list[str] = []
    for status in NOT_YET_ON_SITE:
        page = find(status.value, now, limit=page_size)
        found.extend(page.tickets)
        if page.more:
            more_in.append(status.value)
    found.sort(key=lambda t: (t.onsite_due, t.ticket_id))
    return OverdueSweep(checked_at=now, page_size=page_size, tickets=found, more_in=more_in)
