"""Report aggregates' rules (chalicelib/domain/reports.py): months in China time, what a ticket adds to its
rows, the difference a write adds, and percentiles read back from the histograms."""

from __future__ import annotations

import datetime as dt

from chalicelib.domain import reports as r

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


def view(**changes: object) -> r.TicketView:
    base: dict[str, object] = {
        "ticket_id": "t_1",
        "reported_at": T0,
        "contract_id": "c_1",
        "school_id": "s_1",
        "assignee_id": "eng-1",
        "level": 2,
        "category": "not_lit",
        "status": "assigned",
        "report_count": 1,
        "deadlines": {"response": T0 + dt.timedelta(minutes=20), "onsite": T0 + dt.timedelta(minutes=40)},
        "milestones": {},
        "plan": [],
        "sign_off": {},
    }
    base.update(changes)
    return r.TicketView(**base)  # type: ignore[arg-type]


def at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat()


def test_the_month_is_chinas_the_last_second_of_november_and_the_first_of_december():
    assert r.month_of(dt.datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)) == "2026-11"
    assert r.month_of(dt.datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC)) == "2026-12"
    assert r.month_of(dt.datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC)) == "2027-01"
    assert r.months_between("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert r.months_between("2026-11", "2026-10") == []


def test_a_met_milestone_is_on_time_or_late_and_its_time_goes_into_the_histogram():
    facts = r.facts_of(view(milestones={"acknowledged_at": at(15), "on_site_at": at(50)}), 0)
    assert facts.outcomes == {"response": "met", "onsite": "late", "resolution": "na"}
    counters = r.counters(facts)
    assert counters["rt_n"] == 1 and counters["rt_sum"] == 900 and counters[f"rt_{r.bucket_of(900)}"] == 1
    assert r.EDGES_MIN[r.bucket_of(900)] == 14  # 15 min is in [14, 16)
    assert counters["onsite_late"] == 1 and "onsite_met" not in counters


def test_resolved_by_phone_the_on_site_milestone_is_not_needed_unless_its_deadline_had_passed():
    early = r.facts_of(view(milestones={"acknowledged_at": at(5), "resolved_at": at(30)}), 0)
    late = r.facts_of(view(milestones={"acknowledged_at": at(5), "resolved_at": at(45)}), 0)
    assert early.outcomes["onsite"] == "na" and late.outcomes["onsite"] == "missed"


def test_escalations_count_the_rungs_that_fell_due_before_the_milestone_was_met():
    plan = [
        {"key": "response", "kind": "breach", "at": at(20), "milestone": "response", "step": 1},
        {"key": "onsite", "kind": "breach", "at": at(40), "milestone": "onsite", "step": 2},
        {"key": "onsite.3", "kind": "escalation", "at": at(100), "milestone": "onsite", "step": 3},
    ]
    facts = r.facts_of(view(plan=plan, milestones={"acknowledged_at": at(15), "on_site_at": at(50)}), 0)
    assert facts.escalations == [2]  # response met in time: no step 1; on site after 40, before 100
    pending = r.facts_of(view(plan=plan, milestones={}), 0)
    assert pending.escalations == [] and pending.outcomes["response"] == "pending"


def test_a_level_change_moves_the_ticket_between_level_rows_and_a_merge_leaves_only_merged():
    before = r.facts_of(view(), 0)
    after = r.facts_of(view(level=3), 0)
    delta = r.delta(before, after)
    shard = r.shard_of("t_1", "level")
    assert delta[("level#2", f"2026-11#{shard}")]["tickets"] == -1
    assert delta[("level#3", f"2026-11#{shard}")]["tickets"] == 1
    school_row = ("school#s_1", f"2026-11#{r.shard_of('t_1', 'school')}")
    assert delta[school_row] == {"l2": -1, "l3": 1}
    merged = r.delta(before, r.facts_of(view(status="merged"), 0))
    assert merged[school_row] == {
        "merged": 1, "tickets": -1, "l2": -1, "cat_not_lit": -1, "reports": -1, "open": -1,
        "response_pending": -1, "onsite_pending": -1,
    }  # fmt: skip
    assert r.delta(before, before) == {}


def test_a_reopened_ticket_is_no_first_time_fix():
    resolved = {"acknowledged_at": at(5), "resolved_at": at(20)}
    fixed = r.counters(r.facts_of(view(status="resolved", milestones=resolved), 0))
    reopened = r.counters(r.facts_of(view(status="reopened", milestones=resolved), 1))
    assert fixed["ftf"] == 1 and "reopened" not in fixed
    assert "ftf" not in reopened and reopened["reopened"] == 1 and reopened["open"] == 1


def test_percentiles_are_interpolated_inside_their_bucket_and_the_worst_is_its_upper_edge():
    row = {"rt_n": 3, "rt_sum": 15 * 60 + 12 * 60 + 5 * 60}
    for seconds in (15 * 60, 12 * 60, 5 * 60):
        key = f"rt_{r.bucket_of(seconds)}"
        row[key] = row.get(key, 0) + 1
    d = r.durations(row, "rt")
    assert (d.count, d.mean_minutes, d.median_minutes, d.p90_minutes, d.worst_minutes) == (3, 10.7, 13.0, 15.4, 16.0)
    assert r.durations({}, "rt").median_minutes is None
    slowest = {"rt_n": 1, "rt_sum": 40 * 86400, f"rt_{r.bucket_of(40 * 86400)}": 1}
    assert r.durations(slowest, "rt").worst_minutes == r.EDGES_MIN[-1]  # the open-ended last bucket


def test_facts_survive_their_json_round_trip():
    facts = r.facts_of(view(milestones={"acknowledged_at": at(15)}), 2)
    assert r.Facts.from_json(facts.to_json()) == facts
    assert r.Facts.from_json(None) is None
    assert r.Facts.from_json({**facts.to_json(), "escalation": 1}) == facts  # a key from another release
