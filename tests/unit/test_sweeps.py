"""The SLA reconciliation's use case with an in-memory due index, in-memory per-ticket work, in-memory
stale claims and a fixed clock (no AWS). Its writes are the timer's own (tests/functional/test_sla_timers.py
runs them on moto, with the takeover of stale claims)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.models.sla import DuePage
from chalicelib.services.sla_timers import CaughtUp, Redelivered
from chalicelib.services.sweeps import GRACE, PAGE_SIZE, Reconciliation
from chalicelib.services.sweeps import reconcile as reconcile_with

NOW = dt.datetime(2026, 11, 29, 6, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


class FakeDueIndex:
    """Answers like models.sla.due_tickets: the tickets due by the time asked, earliest first."""

    def __init__(self, due: dict[str, dt.datetime]):
        self.due = due
        self.asked: list[tuple[dt.datetime, int]] = []

    def __call__(self, now: dt.datetime, *, limit: int) -> DuePage:
        self.asked.append((now, limit))
        ready = sorted((at, ticket) for ticket, at in self.due.items() if at <= now)
        return DuePage([ticket for _, ticket in ready[:limit]], len(ready) > limit)


class FakeCatchUp:
    def __init__(self, written: dict[str, list[CaughtUp]], repaired: frozenset[str] = frozenset()):
        self.written, self.repaired = written, repaired
        self.calls: list[tuple[str, dt.datetime, dt.datetime]] = []

    def __call__(self, ticket_id: str, bound: dt.datetime, now: dt.datetime) -> tuple[list[CaughtUp], bool]:
        self.calls.append((ticket_id, bound, now))
        return self.written.get(ticket_id, []), ticket_id in self.repaired


class FakeClaims:
    """Claims with no stored result, as models.sla.stale_claims and the takeover see them: a claim made by
    the time asked is taken over (sent) once; a delivered one is not in the index."""

    def __init__(self, pending: dict[str, dt.datetime]):
        self.pending = dict(pending)
        self.asked: list[tuple[dt.datetime, dt.datetime, int]] = []

    def __call__(self, claimed_by: dt.datetime, now: dt.datetime, *, limit: int) -> list[Redelivered]:
        self.asked.append((claimed_by, now, limit))
        stale = sorted((at, key) for key, at in self.pending.items() if at <= claimed_by)[:limit]
        for _, key in stale:
            del self.pending[key]  # its result is stored: out of the index
        return [
            Redelivered(key.split(":")[0], key.split(":")[1], "dispatcher", at.isoformat(), "sent") for at, key in stale
        ]


def reconcile(*, claims: FakeClaims | None = None, **kwargs: Any) -> Reconciliation:
    """The use case with the lease fixed and, unless given, no stale claims."""
    return reconcile_with(lease=LEASE, redeliver=claims or FakeClaims({}), **kwargs)


def caught(ticket: str, entry: str, kind: str, level: int) -> CaughtUp:
    return CaughtUp(
        ticket, f"T-{ticket}", level, entry, kind, entry.split(".", maxsplit=1)[0], NOW - dt.timedelta(minutes=5)
    )


def test_each_due_ticket_is_caught_up_as_of_the_clock_less_the_timers_grace():
    index = FakeDueIndex({"t_a": NOW - dt.timedelta(minutes=3), "t_b": NOW - dt.timedelta(seconds=30)})
    work = FakeCatchUp({"t_a": [caught("t_a", "response", "breach", 4), caught("t_a", "onsite", "breach", 4)]})
    run = reconcile(clock=lambda: NOW, find=index, catch_up=work)
    assert index.asked == [(NOW - GRACE, PAGE_SIZE)]
    assert work.calls == [("t_a", NOW - GRACE, NOW), ("t_b", NOW - GRACE, NOW)]
    summary = run.summary()
    assert (summary["tickets_due"], summary["written"], summary["breaches"], summary["escalations"]) == (2, 2, 2, 0)
    assert summary["by_level"] == {"1": 0, "2": 0, "3": 0, "4": 2}
    assert summary["entries"] == ["t_a:response", "t_a:onsite"]


def test_an_entry_inside_the_grace_is_left_to_its_timer():
    index = FakeDueIndex({"t_a": NOW - GRACE + dt.timedelta(microseconds=1)})
    work = FakeCatchUp({})
    run = reconcile(clock=lambda: NOW, find=index, catch_up=work)
    assert (run.tickets_due, work.calls) == ([], [])


def test_nothing_due_writes_nothing_and_still_reports_zero_per_level():
    run = reconcile(clock=lambda: NOW, find=FakeDueIndex({}), catch_up=FakeCatchUp({}))
    assert run.summary()["written"] == 0 and run.by_level() == {1: 0, 2: 0, 3: 0, 4: 0}


def test_more_due_tickets_than_a_page_are_left_for_the_next_run_and_reported():
    index = FakeDueIndex({f"t_{n}": NOW - dt.timedelta(minutes=n + 1) for n in range(5)})
    run = reconcile(clock=lambda: NOW, find=index, catch_up=FakeCatchUp({}), page_size=2)
    assert run.tickets_due == ["t_4", "t_3"] and run.more is True  # earliest due first


def test_a_ticket_whose_due_key_was_early_is_reported_as_repaired():
    index = FakeDueIndex({"t_a": NOW - dt.timedelta(minutes=3)})
    run = reconcile(clock=lambda: NOW, find=index, catch_up=FakeCatchUp({}, {"t_a"}))
    assert run.summary()["repaired"] == ["t_a"]


def test_a_claim_older_than_the_lease_is_sent_by_the_next_run_and_only_once():
    claims = FakeClaims({"t_a:open.parts_manager": NOW - LEASE - dt.timedelta(seconds=1)})
    run = reconcile(clock=lambda: NOW, find=FakeDueIndex({}), catch_up=FakeCatchUp({}), claims=claims)
    assert claims.asked == [(NOW - LEASE, NOW, PAGE_SIZE)]
    assert run.summary()["redelivered"] == ["t_a:open.parts_manager"]
    again = reconcile(clock=lambda: NOW + LEASE, find=FakeDueIndex({}), catch_up=FakeCatchUp({}), claims=claims)
    assert again.summary()["redelivered"] == []


def test_a_claim_inside_its_lease_is_left_to_the_writer_that_holds_it():
    claims = FakeClaims({"t_a:response.expert": NOW - LEASE + dt.timedelta(microseconds=1)})
    run = reconcile(clock=lambda: NOW, find=FakeDueIndex({}), catch_up=FakeCatchUp({}), claims=claims)
    assert run.redelivered == [] and list(claims.pending) == ["t_a:response.expert"]


def test_the_lease_comes_from_the_settings_when_not_given(monkeypatch):
    from chalicelib.settings import get_settings

    monkeypatch.setenv("LAMPCARE_NOTIFICATION_LEASE_SECONDS", "42")
    monkeypatch.setenv("LAMPCARE_AUTH_LOCAL_KEY_PATH", "unused.json")
    for name in ("STAGE", "TABLE_PREFIX", "PHOTO_BUCKET", "AUTH_ISSUER", "AUTH_AUDIENCE"):
        monkeypatch.setenv(f"LAMPCARE_{name}", "unit")
    get_settings.cache_clear()
    try:
        claims = FakeClaims({})
        reconcile_with(clock=lambda: NOW, find=FakeDueIndex({}), catch_up=FakeCatchUp({}), redeliver=claims)
    finally:
        get_settings.cache_clear()
    assert claims.asked == [(NOW - dt.timedelta(seconds=42), NOW, PAGE_SIZE)]
