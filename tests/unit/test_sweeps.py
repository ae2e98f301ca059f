"""The overdue sweep's use case with an in-memory finder and a fixed clock (no AWS)."""

from __future__ import annotations

import datetime as dt

from chalicelib.models.overdue import OverduePage, OverdueTicket, due_bound
from chalicelib.services.sweeps import NOT_YET_ON_SITE, sweep_overdue

NOW = dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC)


def ticket(n: int, status: str, level: int, minutes_late: float) -> OverdueTicket:
    due = NOW - dt.timedelta(minutes=minutes_late)
    return OverdueTicket(f"t_{n}", f"T-2026-{n:06d}", "s_1", status, level, due, None)


class FakeTickets:
    """Answers like models.overdue.overdue_in_status over a list of tickets (late ones only, oldest first)."""

    def __init__(self, *tickets: OverdueTicket):
        self.tickets = list(tickets)
        self.asked: list[tuple[str, dt.datetime, int]] = []

    def __call__(self, status: str, now: dt.datetime, *, limit: int) -> OverduePage:
        self.asked.append((status, now, limit))
        late = sorted(
            (t for t in self.tickets if t.status == status and t.onsite_due < now), key=lambda t: t.onsite_due
        )
        return OverduePage(late[:limit], more=len(late) > limit)


def test_every_status_before_on_site_is_asked_once_with_the_clocks_time_and_the_page_size():
    finder = FakeTickets()
    sweep_overdue(clock=lambda: NOW, find=finder, page_size=7)
    assert finder.asked == [(s.value, NOW, 7) for s in NOT_YET_ON_SITE]
    assert [s.value for s in NOT_YET_ON_SITE] == [
        "reported",
        "triaged",
        "assigned",
        "acknowledged",
        "en_route",
        "reopened",
    ]


def test_the_summary_counts_by_level_and_status_oldest_deadline_first():
    finder = FakeTickets(ticket(1, "reported", 4, 5), ticket(2, "en_route", 2, 30), ticket(3, "reopened", 4, 1))
    sweep = sweep_overdue(clock=lambda: NOW, find=finder)
    summary = sweep.summary()
    assert summary["tickets"] == ["t_2", "t_1", "t_3"]
    assert summary["by_level"] == {"1": 0, "2": 1, "3": 0, "4": 2}
    assert summary["by_status"]["reopened"] == 1 and summary["by_status"]["triaged"] == 0
    assert (summary["overdue"], summary["page_size"], summary["more_in"]) == (3, 100, [])
    assert [sweep.overdue_minutes(t) for t in sweep.tickets] == [30, 5, 1]


def test_a_status_with_more_overdue_tickets_than_a_page_is_named():
    finder = FakeTickets(*(ticket(n, "triaged", 3, n) for n in range(1, 6)))
    sweep = sweep_overdue(clock=lambda: NOW, find=finder, page_size=2)
    assert (len(sweep.tickets), sweep.more_in) == (2, ["triaged"])
    assert [t.ticket_id for t in sweep.tickets] == ["t_5", "t_4"]  # the oldest deadlines first


def test_the_deadline_bound_sorts_like_the_index_keys():
    """due_key is "<onsite_due ISO UTC>#<ticket id>"; overdue means the key sorts before the bound."""

    def key(moment: dt.datetime) -> str:
        return f"{moment.astimezone(dt.UTC).isoformat()}#t_1"

    bound = due_bound(NOW)
    assert key(NOW - dt.timedelta(microseconds=1)) < bound
    assert not key(NOW) < bound  # due exactly now: not late yet
    assert not key(NOW + dt.timedelta(microseconds=500_000)) < bound
    assert key(NOW) < due_bound(NOW + dt.timedelta(microseconds=1))
    assert due_bound(NOW.astimezone(dt.timezone(dt.timedelta(hours=8)))) == bound  # any zone: the same instant
