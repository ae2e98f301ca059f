"""Inspection checklists, GB 7793 targets and light trends (D-I3..D-I5): plain rules, no AWS."""

from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.domain.inspection_checks import (
    GB_7793,
    LampCheck,
    Measure,
    RoomReadings,
    TrendFlag,
    fit_trend,
    judge_lamp,
    judge_room,
    room_flag,
)
from chalicelib.domain.tickets import Category

GOOD = {
    Measure.DESK_LUX: 350.0,
    Measure.DESK_UNIFORMITY: 0.75,
    Measure.BOARD_LUX: 520.0,
    Measure.BOARD_UNIFORMITY: 0.85,
    Measure.RA: 82.0,
}
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _lamp(**changes):
    base = {"lit": True, "flicker": False, "damaged": False, "controller_ok": True, "clean": True}
    return LampCheck(**{**base, **changes})


def test_gb_7793_defaults_are_the_domain_targets():
    assert GB_7793.minimums == {
        Measure.DESK_LUX: 300,
        Measure.DESK_UNIFORMITY: 0.7,
        Measure.BOARD_LUX: 500,
        Measure.BOARD_UNIFORMITY: 0.8,
        Measure.RA: 80,
    }
    assert GB_7793.flicker_allowed is False
    assert GB_7793.source == "GB 7793"


def test_a_lamp_that_passes_every_check_is_no_finding():
    verdict = judge_lamp(_lamp())
    assert verdict.ok and not verdict.finding and verdict.category is None


@pytest.mark.parametrize(
    ("changes", "category"),
    [
        ({"lit": False}, Category.NOT_LIT),
        ({"damaged": True}, Category.PHYSICAL_DAMAGE),
        ({"controller_ok": False}, Category.CONTROLLER_FAULT),
        ({"flicker": True}, Category.FLICKERING),
        ({"flicker": True, "lit": False}, Category.NOT_LIT),  # worst first
    ],
)
def test_a_broken_lamp_is_a_finding_with_its_category(changes, category):
    verdict = judge_lamp(_lamp(**changes))
    assert not verdict.ok and verdict.finding and verdict.category == category


def test_a_fault_fixed_on_the_spot_is_recorded_but_not_a_finding():
    verdict = judge_lamp(_lamp(controller_ok=False, fixed_on_spot="re-seated the controller cable"))
    assert verdict.problems == ("controller_fault",) and not verdict.finding


def test_a_dirty_lamp_is_maintenance_not_a_case():
    verdict = judge_lamp(_lamp(clean=False))
    assert verdict.problems == ("dirty",) and not verdict.ok and not verdict.finding


def test_a_room_meeting_every_target_is_compliant():
    verdict = judge_room(RoomReadings(GOOD))
    assert verdict.compliant and not verdict.finding
    assert all(r.ok for r in verdict.results)


@pytest.mark.parametrize(
    ("measure", "value"),
    [
        (Measure.DESK_LUX, 299.0),
        (Measure.DESK_UNIFORMITY, 0.69),
        (Measure.BOARD_LUX, 480.0),
        (Measure.BOARD_UNIFORMITY, 0.79),
        (Measure.RA, 79.0),
    ],
)
def test_one_reading_below_its_target_makes_the_room_non_compliant(measure, value):
    verdict = judge_room(RoomReadings({**GOOD, measure: value}))
    assert not verdict.compliant and verdict.finding
    assert verdict.failed == (measure.value,)
    assert verdict.category == (Category.OTHER if measure is Measure.RA else Category.DIM)


def test_visible_flicker_makes_the_room_non_compliant():
    verdict = judge_room(RoomReadings(GOOD, flicker_visible=True))
    assert verdict.failed == ("flicker",) and verdict.category == Category.FLICKERING


def test_a_reading_not_taken_is_not_judged():
    verdict = judge_room(RoomReadings({Measure.DESK_LUX: 310.0}))
    assert verdict.compliant
    assert [r.ok for r in verdict.results if r.measure is not Measure.DESK_LUX] == [None] * 4


def test_a_contract_can_change_a_target():
    stricter = GB_7793.with_overrides({"desk_lux": 400})
    assert stricter.source == "contract" and stricter.minimums[Measure.DESK_LUX] == 400
    assert stricter.minimums[Measure.RA] == 80  # the others stay GB 7793's
    assert judge_room(RoomReadings(GOOD)).compliant
    assert judge_room(RoomReadings(GOOD), stricter).failed == ("desk_lux",)
    assert GB_7793.with_overrides({}).source == "GB 7793"


def _points(values, every_days=30):
    return [(T0 + dt.timedelta(days=i * every_days), v) for i, v in enumerate(values)]


def test_trend_slope_is_the_least_squares_fit():
    trend = fit_trend(_points([400, 390, 380, 370]), 300, Measure.DESK_LUX, dt.date(2026, 6, 1))
    assert trend.slope_per_day == pytest.approx(-1 / 3)
    assert trend.slope_per_30_days == pytest.approx(-10)
    # 400 - t/3 = 300 at t = 300 days after 1 March 2026
    assert trend.crossing_on == dt.date(2026, 12, 26)


def test_a_falling_room_is_flagged_before_it_gets_below_target():
    # 360, 340, 320 lx a month apart: all compliant, crossing 300 lx a month after the last reading.
    trend = fit_trend(_points([360, 340, 320]), 300, Measure.DESK_LUX, dt.date(2026, 5, 1))
    assert trend.latest == 320 and trend.latest >= 300
    assert trend.crossing_on == dt.date(2026, 5, 30)
    assert trend.flag is TrendFlag.HEADING_BELOW


def test_a_slow_decline_beyond_the_horizon_is_not_flagged():
    trend = fit_trend(_points([500, 499, 498]), 300, Measure.DESK_LUX, dt.date(2026, 5, 1))
    assert trend.crossing_on is not None and trend.crossing_on > dt.date(2026, 5, 1) + dt.timedelta(days=180)
    assert trend.flag is TrendFlag.OK


def test_a_rising_or_flat_trend_has_no_crossing():
    trend = fit_trend(_points([300, 320, 340]), 300, Measure.DESK_LUX, dt.date(2026, 5, 1))
    assert trend.slope_per_day > 0 and trend.crossing_on is None and trend.flag is TrendFlag.OK


def test_a_line_all_but_flat_has_no_crossing_and_does_not_fail():
    # float noise on equal readings gives a slope of about -1e-13 lx a day: a crossing billions of days away
    trend = fit_trend(_points([400.0, 400.0, 399.9999999999]), 300, Measure.DESK_LUX, dt.date(2026, 5, 1))
    assert trend.slope_per_day is not None and trend.slope_per_day < 0
    assert trend.crossing_on is None and trend.flag is TrendFlag.OK


def test_a_room_already_below_is_below_whatever_the_slope():
    trend = fit_trend(_points([280, 290]), 300, Measure.DESK_LUX, dt.date(2026, 5, 1))
    assert trend.flag is TrendFlag.BELOW


def test_one_reading_is_not_a_trend():
    trend = fit_trend(_points([320]), 300, Measure.DESK_LUX, dt.date(2026, 5, 1))
    assert trend.slope_per_day is None and trend.flag is TrendFlag.INSUFFICIENT
    assert fit_trend(_points([280]), 300, Measure.DESK_LUX, dt.date(2026, 5, 1)).flag is TrendFlag.BELOW


def test_the_room_flag_is_its_worst_measure():
    ok = fit_trend(_points([600, 610]), 500, Measure.BOARD_LUX, dt.date(2026, 5, 1))
    heading = fit_trend(_points([360, 340, 320]), 300, Measure.DESK_LUX, dt.date(2026, 5, 1))
    assert room_flag([ok, heading]) is TrendFlag.HEADING_BELOW
    assert room_flag([]) is TrendFlag.INSUFFICIENT


def test_only_the_assigned_engineer_records_and_only_while_the_visit_is_in_progress():
    from chalicelib.domain.inspection_checks import check_recording
    from chalicelib.errors import Forbidden, IllegalTransition

    check_recording("in_progress", "eng-1", "eng-1")
    with pytest.raises(Forbidden):
        check_recording("in_progress", "eng-1", "eng-2")
    with pytest.raises(IllegalTransition, match="start it first") as refused:
        check_recording("assigned", "eng-1", "eng-1")
    assert refused.value.extra == {"current_status": "assigned"}
    with pytest.raises(IllegalTransition, match="cannot complete a visit that is completed"):
        check_recording("completed", "eng-1", "eng-1", completing=True)


def test_a_findings_ticket_id_is_derived_from_the_visit_and_the_item():
    from chalicelib.domain.inspection_checks import finding_ticket_id

    first = finding_ticket_id("iv_1", "lamp#l_1")
    assert first == finding_ticket_id("iv_1", "lamp#l_1")  # a retry opens the same ticket
    assert first.startswith("t_") and len(first) == 18
    assert len({first, finding_ticket_id("iv_1", "room#A-101"), finding_ticket_id("iv_2", "lamp#l_1")}) == 3
