"""Tickets whose on-site deadline has passed, by status (D-S3, D-S4): the overdue sweep's one read.

`by_status` is ordered by `due_key` = "<onsite_due ISO UTC>#<ticket_id>", so the tickets of one
status that are overdue at `now` are exactly those whose key sorts before `now` in the same ISO
form: one Query with a key condition, oldest deadline first, nothing filtered after it.

The text compare is exact: `isoformat()` writes microseconds only when they are not zero, and
"+" (no fraction, then the offset) sorts before "." (a fraction), so 06:30:00 sorts before
06:30:00.5; a deadline equal to `now` is not overdue ("<now>#..." sorts after "<now>").

A separate module (not access.py) because it is the sweep's own access pattern, shaped for the
SLA issue which will add breach recording next to it. Returns plain values, not pynamodb items.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from chalicelib.models.base import bind_tables
from chalicelib.models.tickets import TicketModel


@dataclass(frozen=True)
class OverdueTicket:
    ticket_id: str
    ref: str
    school_id: str
    status: str
    level: int
    onsite_due: dt.datetime
    assignee_id: str | None


@dataclass(frozen=True)
class OverduePage:
    tickets: list[OverdueTicket]  # oldest deadline first, at most the page size
    more: bool  # further overdue tickets in this status did not fit the page


def due_bound(now: dt.datetime) -> str:
    """`now` in the form `due_key` starts with: every key that sorts before it is overdue."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    return now.astimezone(dt.UTC).isoformat()


def overdue_in_status(status: str, now: dt.datetime, *, limit: int) -> OverduePage:
    """The tickets in `status` whose on-site deadline is before `now`, oldest first: one Query on
    `by_status` with `due_key < now`. It asks for one item more than `limit`, which tells whether
    more are waiting without a second request."""
    bind_tables()
    query = TicketModel.by_status.query(
        status, TicketModel.due_key < due_bound(now), limit=limit + 1, page_size=limit + 1
    )
    items = list(query)
    return OverduePage(
        tickets=[
            OverdueTicket(
                ticket_id=t.ticket_id,
                ref=t.ref,
                school_id=t.school_id,
                status=t.status,
                level=int(t.level),
                onsite_due=t.onsite_due,
                assignee_id=t.assignee_id,
            )
            for t in items[:limit]
        ],
        more=len(items) > limit,
    )
