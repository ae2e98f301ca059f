"""The SLA reconciliation (issue 10.5, D-S3, D-S4): the safety net under the timers, every minute.

A ticket's timer (one Step Functions execution per SLA version) records each breach at its
deadline. If a timer failed to start or died, its entries would pass unrecorded; this sweep finds
them and writes them through the timer's own conditional writes (services.sla_timers.send), so:

- a breach is recorded exactly once when the timer and the sweep both act (the second write finds
  it recorded and is refused);
- a milestone met a moment before the deadline is never recorded as breached (the write checks
  the milestone on the ticket at the moment it is made);
- the sweep reads a due-time index, not the table: one Query for the tickets with an entry due
  (`models.sla.due_tickets`), then one GetItem per due ticket. What it reads does not grow with the
  tickets that are not due.

The sweep leaves each entry to its timer for `grace` after it falls due (a timer fires within about
a second of its deadline), so in normal running it writes nothing. At most `page_size` tickets a
run, earliest first; the rest wait for the next minute and are reported.

It also sends the notifications a writer claimed and never settled (an execution stopped or failed
between claim and result): one Query on the notifications' sparse `by_undelivered` index for claims
older than the lease (setting `notification_lease_seconds`), each taken over by a conditional write
(services.sla_timers.redeliver_stale). In normal running that Query finds nothing.

The clock, the finder and the per-ticket work are injected, so unit tests use in-memory fakes.
Never imports pynamodb: the reads and writes are `models.sla`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.models.sla import DuePage, due_tickets
from chalicelib.services import sla_timers
from chalicelib.services.ids import utcnow
from chalicelib.services.sla_timers import CaughtUp, Redelivered

PAGE_SIZE = 100  # tickets per run: one Query of at most 101 keys, then one GetItem each
GRACE = dt.timedelta(seconds=10)  # the timer's turn first
LEVELS = (1, 2, 3, 4)


class FindDue(Protocol):
    def __call__(self, now: dt.datetime, *, limit: int) -> DuePage: ...


CatchUp = Callable[[str, dt.datetime, dt.datetime], tuple[list[CaughtUp], bool]]


class Redeliver(Protocol):
    def __call__(self, claimed_by: dt.datetime, now: dt.datetime, *, limit: int) -> list[Redelivered]: ...


@dataclass(frozen=True)
class Reconciliation:
    checked_at: dt.datetime
    bound: dt.datetime  # entries due by this time were checked (checked_at - grace)
    page_size: int
    tickets_due: list[str]  # the due index's answer, earliest first
    caught: list[CaughtUp] = field(default_factory=list)  # entries written by this run
    repaired: list[str] = field(default_factory=list)  # tickets whose due key was early and put right
    more: bool = False  # more tickets were due than one page
    redelivered: list[Redelivered] = field(default_factory=list)  # stale claims this run sent
    claimed_by: dt.datetime | None = None  # claims made by this time and still pending were taken over

    def by_level(self) -> dict[int, int]:
        counts = Counter(c.level for c in self.caught)
        return {level: counts.get(level, 0) for level in LEVELS}

    def summary(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at,
            "due_by": self.bound,
            "tickets_due": len(self.tickets_due),
            "written": len(self.caught),
            "breaches": sum(c.kind == "breach" for c in self.caught),
            "escalations": sum(c.kind == "escalation" for c in self.caught),
            "notified": sum(c.kind == "notify" for c in self.caught),
            "by_level": {str(level): n for level, n in self.by_level().items()},
            "repaired": self.repaired,
            "page_size": self.page_size,
            "more": self.more,
            "entries": [f"{c.ticket_id}:{c.entry}" for c in self.caught],
            "claims_by": self.claimed_by,
            "redelivered": [f"{r.ticket_id}:{r.key}" for r in self.redelivered],
        }


def reconcile(
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    grace: dt.timedelta = GRACE,
    page_size: int = PAGE_SIZE,
    find: FindDue = due_tickets,
    catch_up: CatchUp = sla_timers.catch_up,
    lease: dt.timedelta | None = None,
    redeliver: Redeliver = sla_timers.redeliver_stale,
) -> Reconciliation:
    """Writes every timer entry due by `clock() - grace` that its timer has not written, then sends the
    notifications claimed by `clock() - lease` (default: the setting) whose result was never stored."""
    if lease is None:
        from chalicelib.settings import get_settings

        lease = dt.timedelta(seconds=get_settings().notification_lease_seconds)
    now = clock()
    bound = now - grace
    page = find(bound, limit=page_size)
    caught: list[CaughtUp] = []
    repaired: list[str] = []
    for ticket_id in page.ticket_ids:
        written, fixed = catch_up(ticket_id, bound, now)
        caught += written
        if fixed:
            repaired.append(ticket_id)
    redelivered = redeliver(now - lease, now, limit=page_size)
    return Reconciliation(now, bound, page_size, page.ticket_ids, caught, repaired, page.more, redelivered, now - lease)
