"""SLA deadline arithmetic with fixed times (D-S3, D-S4, D-S5, D-S8): the default table, calendars with
working hours, public holidays and make-up working days, distance zones, provinces, fault kinds, the
loaner's 12 hours, and policies stored before any of this existed."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.domain.policy import Calendar, ServicePolicy, default_policy
from chalicelib.domain.sla import (
    SchoolFacts,
    add_working_time,
    distance_km,
    effective_terms,
    escalation_schedule,
    sla_deadlines,
    sla_plan,
    working_minutes_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOWHERE = SchoolFacts()  # no position, no province: no rule on them applies
CENTRE = {"name": "Pudong service centre", "latitude": 31.2304, "longitude": 121.4737, "province": "上海市"}
KM_PER_DEGREE_OF_LATITUDE = 111.195  # on the mean Earth sphere


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def policy(**changes: object) -> ServicePolicy:
    """The default policy with some fields replaced, validated as a request would be."""
    data = default_policy().model_dump(mode="json")
    data.update(changes)
    return ServicePolicy.model_validate_json(json.dumps(data), strict=True)


def school_north_of_centre(km: float, province: str | None = "上海") -> SchoolFacts:
    return SchoolFacts(
        latitude=CENTRE["latitude"] + km / KM_PER_DEGREE_OF_LATITUDE,  # type: ignore[operator]
        longitude=CENTRE["longitude"],  # type: ignore[arg-type]
        province=province,
    )


# Working hours 08:00-18:00 Monday to Friday, with China's 2025 National Day holidays (1-8 October) and
# their make-up working days (Sunday 28 September, Saturday 11 October).
OFFICE = {
    "name": "office hours",
    "working_days": [1, 2, 3, 4, 5],
    "working_hours": [{"start": "08:00", "end": "18:00"}],
    "holidays": [f"2025-10-0{d}" for d in range(1, 9)],
    "makeup_days": ["2025-09-28", "2025-10-11"],
}


# ---- the default table ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "response", "onsite", "told"),
    [
        (4, 5, 10, ("parts_manager", "project_lead", "technical_manager")),
        (3, 10, 20, ("parts_manager", "project_lead")),
        (2, 20, 40, ("parts_manager",)),
        (1, 30, 60, ()),
    ],
)
def test_the_default_policy_is_the_domain_table_with_a_five_minute_red_response(level, response, onsite, told):
    reported = local(2026, 3, 10, 9, 0)
    plan = sla_plan(default_policy(), level, reported, school=NOWHERE, category="not_lit")
    assert plan.milestones.response_due == reported + minutes(response)
    assert plan.milestones.onsite_due == reported + minutes(onsite)
    assert plan.milestones.resolution_due is None  # DOMAIN's table has no resolution target
    assert plan.notify_on_open == told


def test_the_default_escalation_climbs_d_s4s_ladder_from_the_missed_deadlines():
    reported = local(2026, 3, 10, 9, 0)
    plan = sla_plan(default_policy(), 4, reported, school=NOWHERE, category="not_lit")
    assert [(e.step, e.tier, e.after, e.due_at - reported, e.notify_roles) for e in plan.escalations] == [
        (1, "line_2", "response", minutes(5), ("expert", "dispatcher")),
        (2, "project_lead", "onsite", minutes(10), ("project_lead", "dispatcher")),
        (3, "technical_manager", "onsite", minutes(70), ("technical_manager",)),
    ]


def test_a_deadline_crosses_midnight_and_the_month_end():
    # 23:55 on 31 January in Shanghai: the red on-site deadline is 00:05 on 1 February
    reported = local(2026, 1, 31, 23, 55)
    due = sla_deadlines(default_policy(), 4, reported, school=NOWHERE, category="not_lit")
    assert due.response_due == local(2026, 2, 1, 0, 0)
    assert due.onsite_due == local(2026, 2, 1, 0, 5)
    # and in UTC at the end of a 30-day month, from a report given in UTC
    due = sla_deadlines(
        default_policy(), 1, dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC), school=NOWHERE, category=""
    )
    assert due.onsite_due == dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)


def test_a_level_change_counts_from_the_report_not_from_the_change():
    reported = local(2026, 3, 10, 9, 0)
    yellow = sla_deadlines(default_policy(), 2, reported, school=NOWHERE, category="dim")
    red = sla_deadlines(default_policy(), 4, reported, school=NOWHERE, category="dim")
    assert (yellow.onsite_due - reported, red.onsite_due - reported) == (minutes(40), minutes(10))


def test_deadlines_need_an_aware_report_time():
    with pytest.raises(ValueError, match="time zone"):
        sla_deadlines(default_policy(), 4, dt.datetime(2026, 3, 10, 9, 0), school=NOWHERE, category="")


# ---- calendars ------------------------------------------------------------------------------------------


def test_working_hours_count_only_working_time_and_carry_over_to_the_next_working_day():
    office = policy(calendar=OFFICE)
    # Tuesday 17:30: 30 minutes today, the other 30 from 08:00 on Wednesday
    assert add_working_time(office.calendar, local(2026, 3, 10, 17, 30), 60) == local(2026, 3, 11, 8, 30)
    # before opening the clock starts at 08:00
    assert add_working_time(office.calendar, local(2026, 3, 10, 6, 15), 60) == local(2026, 3, 10, 9, 0)
    # a deadline may fall exactly at closing time, not at the next opening
    assert add_working_time(office.calendar, local(2026, 3, 10, 17, 0), 60) == local(2026, 3, 10, 18, 0)
    # reported on Saturday: counted from Monday 08:00
    assert add_working_time(office.calendar, local(2026, 3, 14, 11, 0), 120) == local(2026, 3, 16, 10, 0)


def test_a_working_hours_deadline_crosses_a_month_end_over_a_weekend():
    office = policy(calendar=OFFICE)
    # Friday 30 January 2026, 17:30: 30 minutes on Friday, 90 on Monday 2 February
    assert add_working_time(office.calendar, local(2026, 1, 30, 17, 30), 120) == local(2026, 2, 2, 9, 30)


def test_public_holidays_stop_the_clock():
    office = policy(calendar=OFFICE, levels=_levels(response=240, onsite=480))
    # Tuesday 30 September 2025, 17:00: one hour, then the National Day holidays (1-8 October) until
    # Thursday 9 October 08:00
    due = sla_deadlines(office, 2, local(2025, 9, 30, 17, 0), school=NOWHERE, category="dim")
    assert due.response_due == local(2025, 10, 9, 11, 0)
    assert due.onsite_due == local(2025, 10, 9, 15, 0)


def test_a_make_up_working_day_on_a_sunday_counts():
    office = policy(calendar=OFFICE)
    # Friday 26 September 2025, 17:00: one hour on Friday, then Sunday 28 September is worked (调休)
    assert add_working_time(office.calendar, local(2025, 9, 26, 17, 0), 240) == local(2025, 9, 28, 11, 0)
    without = policy(calendar={**OFFICE, "makeup_days": []})
    assert add_working_time(without.calendar, local(2025, 9, 26, 17, 0), 240) == local(2025, 9, 29, 11, 0)


def test_a_split_working_day_skips_the_lunch_break():
    calendar = Calendar(working_hours=[{"start": "08:30", "end": "12:00"}, {"start": "13:30", "end": "17:30"}])
    assert add_working_time(calendar, local(2026, 3, 10, 11, 0), 120) == local(2026, 3, 10, 14, 30)


def test_a_hotline_answers_around_the_clock_while_visits_keep_office_hours():
    levels = _levels(response=5, onsite=120)
    levels["2"]["around_the_clock"] = ["response"]
    office = policy(calendar=OFFICE, levels=levels)
    reported = local(2026, 3, 14, 22, 0)  # Saturday night
    due = sla_deadlines(office, 2, reported, school=NOWHERE, category="dim")
    assert due.response_due == local(2026, 3, 14, 22, 5)
    assert due.onsite_due == local(2026, 3, 16, 10, 0)


def test_escalation_delays_run_on_the_milestones_clock():
    office = policy(calendar=OFFICE, levels=_levels(response=60, onsite=120))
    terms = effective_terms(office, 2, school=NOWHERE, category="dim")
    due = sla_deadlines(office, 2, local(2026, 3, 13, 16, 0), school=NOWHERE, category="dim")  # a Friday
    assert due.onsite_due == local(2026, 3, 13, 18, 0)
    technical_manager = escalation_schedule(office, terms, due)[-1]
    # an hour after the missed on-site deadline, counted in working time: Monday 09:00
    assert (technical_manager.tier, technical_manager.due_at) == ("technical_manager", local(2026, 3, 16, 9, 0))


def test_working_minutes_between_measures_lateness_as_the_contract_counts_it():
    office = policy(calendar=OFFICE)
    assert working_minutes_between(office.calendar, local(2026, 3, 13, 17, 0), local(2026, 3, 16, 9, 0)) == 120
    assert working_minutes_between(office.calendar, local(2026, 3, 16, 9, 0), local(2026, 3, 13, 17, 0)) == 0
    assert working_minutes_between(default_policy().calendar, local(2026, 3, 13, 17, 0), local(2026, 3, 14)) == 420


# ---- rules: distance zones, provinces, fault kinds (D-S5) -------------------------------------------------


def _levels(response: float, onsite: float) -> dict[str, dict[str, object]]:
    return {str(level): {"response_minutes": response, "onsite_minutes": onsite} for level in (1, 2, 3, 4)}


def test_a_school_beyond_100_km_gets_the_far_zones_targets():
    """D-S5: on site within 24 h inside 100 km; answer within 12 h and on site within 72 h beyond."""
    zoned = policy(
        levels=_levels(response=240, onsite=24 * 60),
        service_centre=CENTRE,
        overrides=[
            {
                "name": "beyond 100 km",
                "when": {"beyond_km": 100},
                "terms": {"response_minutes": 720, "onsite_minutes": 72 * 60},
            }
        ],
    )
    near, far = school_north_of_centre(80), school_north_of_centre(150)
    reported = local(2026, 3, 10, 9, 0)

    near_terms = effective_terms(zoned, 2, school=near, category="not_lit")
    far_terms = effective_terms(zoned, 2, school=far, category="not_lit")
    assert near_terms.facts.distance_km == pytest.approx(80, abs=0.1)
    assert far_terms.facts.distance_km == pytest.approx(150, abs=0.1)
    assert (near_terms.applied_rules, far_terms.applied_rules) == ((), ("beyond 100 km",))

    near_due = sla_deadlines(zoned, 2, reported, school=near, category="not_lit")
    far_due = sla_deadlines(zoned, 2, reported, school=far, category="not_lit")
    assert (near_due.response_due, near_due.onsite_due) == (reported + minutes(240), reported + minutes(24 * 60))
    assert (far_due.response_due, far_due.onsite_due) == (reported + minutes(720), reported + minutes(72 * 60))


def test_haversine_distance_between_two_cities():
    # Shanghai People's Square to Hangzhou West Lake: about 165 km as the crow flies
    assert distance_km(31.2304, 121.4737, 30.2590, 120.1388) == pytest.approx(165, abs=3)


def test_in_province_and_out_of_province_targets():
    """D-S5: on site within 8 h in the province, 24 h outside it."""
    regional = policy(
        levels=_levels(response=60, onsite=24 * 60),
        service_centre=CENTRE,
        overrides=[{"when": {"region": "in_province"}, "terms": {"onsite_minutes": 8 * 60}}],
    )
    reported = local(2026, 3, 10, 9, 0)
    home = sla_deadlines(regional, 3, reported, school=school_north_of_centre(30, "上海"), category="dim")
    away = sla_deadlines(regional, 3, reported, school=school_north_of_centre(150, "浙江省"), category="dim")
    unknown = sla_deadlines(regional, 3, reported, school=school_north_of_centre(30, None), category="dim")
    assert home.onsite_due == reported + minutes(8 * 60)
    assert away.onsite_due == reported + minutes(24 * 60)
    assert unknown.onsite_due == reported + minutes(24 * 60)  # a school without a province gets the level's terms


def test_software_and_hardware_faults_have_their_own_targets():
    """D-S5: software: answer in 30 min, on site in 2 h, solved in 48 h; hardware: 30 min, 2 h, swap for a spare."""
    kinds = policy(
        levels=_levels(response=30, onsite=120),
        overrides=[
            {"when": {"fault_kind": "software"}, "terms": {"resolution_minutes": 48 * 60}},
            {"when": {"fault_kind": "hardware"}, "terms": {"resolution_minutes": 12 * 60, "resolution_loaner": True}},
        ],
    )
    reported = local(2026, 3, 10, 9, 0)
    software = sla_deadlines(kinds, 2, reported, school=NOWHERE, category="software_error")
    hardware = sla_deadlines(kinds, 2, reported, school=NOWHERE, category="hardware_fault")
    other = sla_deadlines(kinds, 2, reported, school=NOWHERE, category="other")
    assert (software.resolution_due, software.resolution_loaner) == (reported + minutes(48 * 60), False)
    assert (hardware.resolution_due, hardware.resolution_loaner) == (reported + minutes(12 * 60), True)
    assert other.resolution_due is None  # neither kind: the level's own terms
    assert software.onsite_due == hardware.onsite_due == reported + minutes(120)


def test_rules_apply_in_order_and_compose():
    rules = policy(
        service_centre=CENTRE,
        overrides=[
            {"when": {"beyond_km": 100}, "terms": {"onsite_minutes": 600, "response_minutes": 60}},
            {"when": {"fault_kind": "software", "levels": [3, 4]}, "terms": {"onsite_minutes": 300}},
        ],
    )
    far = school_north_of_centre(150)
    terms = effective_terms(rules, 4, school=far, category="software_error")
    assert (terms.response_minutes, terms.onsite_minutes) == (60, 300)  # both matched; the later wins on on-site
    assert terms.applied_rules == ("overrides[0]", "overrides[1]")
    assert (
        effective_terms(rules, 2, school=far, category="software_error").onsite_minutes == 600
    )  # level 2: not the second


def test_a_twelve_hour_resolution_with_a_loaner():
    """D-S8: fixed within 12 h, otherwise a loaner is installed; its breach can escalate like any other."""
    levels = _levels(response=30, onsite=120)
    levels["3"].update(
        resolution_minutes=12 * 60,
        resolution_loaner=True,
        escalation=[{"tier": "technical_manager", "after": "resolution", "notify_roles": ["technical_manager"]}],
    )
    loaner = policy(levels=levels)
    reported = local(2026, 3, 31, 20, 0)
    plan = sla_plan(loaner, 3, reported, school=NOWHERE, category="not_lit")
    assert plan.milestones.resolution_due == local(2026, 4, 1, 8, 0)
    assert plan.milestones.resolution_loaner is True
    assert plan.milestones.as_changes()["resolution_due"] == local(2026, 4, 1, 8, 0)
    assert [(e.tier, e.due_at) for e in plan.escalations] == [("technical_manager", local(2026, 4, 1, 8, 0))]
    # a level without a resolution target never escalates on resolution
    assert sla_plan(loaner, 2, reported, school=NOWHERE, category="not_lit").escalations[0].after == "response"


def test_targets_may_be_fractions_of_a_minute_and_print_as_they_were_given():
    quick = policy(levels=_levels(response=0.05, onsite=0.1))
    reported = dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC)
    due = sla_deadlines(quick, 4, reported, school=NOWHERE, category="")
    assert (due.response_due - reported, due.onsite_due - reported) == (
        dt.timedelta(seconds=3),
        dt.timedelta(seconds=6),
    )
    dumped = json.loads(default_policy().model_dump_json())
    assert dumped["levels"]["4"]["onsite_minutes"] == 10 and isinstance(dumped["levels"]["4"]["onsite_minutes"], int)
    assert json.loads(quick.model_dump_json())["levels"]["4"]["response_minutes"] == 0.05


# ---- what a policy may say --------------------------------------------------------------------------------


def _problems(**changes: object) -> str:
    with pytest.raises(ValidationError) as caught:
        policy(**changes)
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in caught.value.errors())


def test_an_immediate_response_of_zero_minutes_is_refused():
    levels = _levels(response=30, onsite=60)
    levels["4"]["response_minutes"] = 0
    assert "levels.4.response_minutes: Input should be greater than 0" in _problems(levels=levels)


def test_a_distance_or_region_rule_needs_the_service_centre():
    far = [{"when": {"beyond_km": 100}, "terms": {"onsite_minutes": 600}}]
    assert "overrides" in _problems(overrides=far) and "service_centre" in _problems(overrides=far)
    regional = [{"when": {"region": "out_of_province"}, "terms": {"onsite_minutes": 600}}]
    centre_without_province = {k: v for k, v in CENTRE.items() if k != "province"}
    assert "service_centre.province" in _problems(overrides=regional, service_centre=centre_without_province)


@pytest.mark.parametrize(
    ("calendar", "problem"),
    [
        ({"holidays": ["2025-10-01"], "makeup_days": ["2025-10-01"]}, "both a holiday and a make-up working day"),
        ({"working_hours": [{"start": "08:00", "end": "12:00"}, {"start": "11:00", "end": "18:00"}]}, "overlap"),
        ({"working_hours": [{"start": "18:00", "end": "08:00"}]}, "end must be after start"),
        ({"working_days": [0, 6]}, "greater than or equal to 1"),
        ({"working_days": []}, "at least 1 item"),
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"holidays": ["2025-02-30"]}, "real date"),
    ],
)
def test_a_calendar_that_cannot_be_counted_is_refused(calendar, problem):
    assert problem in _problems(calendar=calendar)


def test_rules_and_ladders_that_say_nothing_or_climb_backwards_are_refused():
    assert "at least one of" in _problems(overrides=[{"when": {}, "terms": {"onsite_minutes": 1}}])
    assert "at least one term" in _problems(overrides=[{"when": {"fault_kind": "software"}, "terms": {}}])
    backwards = [
        {"tier": "project_lead", "after": "onsite", "notify_roles": ["project_lead"]},
        {"tier": "line_2", "after": "response", "notify_roles": ["expert"]},
    ]
    assert "ladder" in _problems(escalation=backwards)
    levels = _levels(response=30, onsite=60)
    levels["1"]["resolution_loaner"] = True
    assert "resolution_loaner needs resolution_minutes" in _problems(levels=levels)
    assert "notify_roles.0" in _problems(escalation=[{"tier": "line_2", "after": "response", "notify_roles": ["boss"]}])


# ---- policies stored before SLA rules ------------------------------------------------------------------------

# What createContract stored until now: the first shape, red "immediate" as 0 minutes, red notifying `manager`.
FIRST_SHAPE = {
    "levels": {
        "4": {
            "response_minutes": 0,
            "onsite_minutes": 10,
            "notify_roles": ["parts_manager", "project_lead", "manager"],
        },
        "3": {"response_minutes": 10, "onsite_minutes": 20, "notify_roles": ["parts_manager", "project_lead"]},
        "2": {"response_minutes": 20, "onsite_minutes": 40, "notify_roles": ["parts_manager", "storekeeper"]},
        "1": {"response_minutes": 30, "onsite_minutes": 60, "notify_roles": []},
    },
    "default_level": 2,
}


def test_a_policy_stored_in_the_first_shape_still_loads():
    stored = ServicePolicy.from_stored(FIRST_SHAPE)
    assert stored.default_level == 2
    assert stored.calendar.around_the_clock and stored.overrides == [] and stored.service_centre is None
    assert stored.levels[4].response_minutes == 5  # 0 could never be met: the hotline's 5 minutes (D-S5)
    assert stored.levels[4].notify_roles == ["parts_manager", "project_lead", "manager"]  # as the contract said
    assert stored.levels[2].notify_roles == ["parts_manager"]  # a role nobody has is dropped, not fatal
    assert FIRST_SHAPE["levels"]["4"]["response_minutes"] == 0  # the stored data is not changed by reading it
    reported = local(2026, 3, 10, 9, 0)
    for level, (response, onsite) in {4: (5, 10), 3: (10, 20), 2: (20, 40), 1: (30, 60)}.items():
        due = sla_deadlines(stored, level, reported, school=NOWHERE, category="not_lit")
        assert (due.response_due - reported, due.onsite_due - reported) == (minutes(response), minutes(onsite))
    # and it round-trips through today's shape
    assert ServicePolicy.from_stored(stored.model_dump(mode="json")) == stored
