"""The visit's rules (chalicelib/domain/visit.py): the geofence, device times, parts lines, swaps, check-out."""

from __future__ import annotations

import datetime as dt

import pytest

from chalicelib.domain import visit
from chalicelib.domain.lifecycle import Status
from chalicelib.errors import Forbidden, IllegalTransition, InvalidInput

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
SCHOOL = (31.2304, 121.4737)


def test_haversine_gives_the_known_distance_between_two_points():
    # one degree of latitude is about 111.2 km anywhere
    assert visit.distance_m(31.0, 121.0, 32.0, 121.0) == pytest.approx(111_195, rel=1e-3)
    assert visit.distance_m(*SCHOOL, *SCHOOL) == 0


def test_a_check_in_near_the_school_is_inside_and_a_far_one_is_flagged_not_refused():
    near = visit.check_fence(31.2310, 121.4740, 20, *SCHOOL, None)
    assert near.inside is True and near.fence_m == visit.DEFAULT_FENCE_M and near.distance_m < 100
    far = visit.check_fence(31.25, 121.50, 20, *SCHOOL, 300)
    assert far.inside is False and 3000 < far.distance_m < 4000


def test_a_poor_fix_whose_circle_reaches_the_fence_counts_as_inside():
    # ~450 m away, fence 300 m: inside only when the fix is no better than ~150 m
    lat = SCHOOL[0] + 450 / 111_195
    assert visit.check_fence(lat, SCHOOL[1], 100, *SCHOOL, 300).inside is False
    assert visit.check_fence(lat, SCHOOL[1], 200, *SCHOOL, 300).inside is True


def test_a_school_without_a_position_gives_no_verdict():
    assert visit.check_fence(31.0, 121.0, 10, None, None, None).inside is None


def test_device_time_is_kept_beside_the_server_time_and_a_wrong_clock_is_flagged():
    assert visit.device_time(None, NOW) == {"device_at": None, "device_clock_ok": None}
    offline = visit.device_time(NOW - dt.timedelta(days=2), NOW)
    assert offline == {"device_at": "2026-11-27T02:00:00+00:00", "device_clock_ok": True}
    assert visit.device_time(NOW + dt.timedelta(hours=1), NOW)["device_clock_ok"] is False
    assert visit.device_time(NOW - dt.timedelta(days=30), NOW)["device_clock_ok"] is False


def test_parts_lines_of_one_location_and_sku_are_merged():
    lines = [visit.PartLine("A", 1, "van"), visit.PartLine("A", 2, "van"), visit.PartLine("A", 1, "depot")]
    assert visit.merge_parts(lines) == [visit.PartLine("A", 3, "van"), visit.PartLine("A", 1, "depot")]


def test_a_swap_names_a_lamp_of_the_ticket_and_a_new_serial():
    assert visit.check_swap("S1", "S9", {"l_1": "S1", "l_2": "S2"}) == "l_1"
    with pytest.raises(InvalidInput) as err:
        visit.check_swap("S3", "S9", {"l_1": "S1"})
    assert err.value.details[0].field == "swap.old_serial"
    with pytest.raises(InvalidInput) as err:
        visit.check_swap("S1", "S1", {"l_1": "S1"})
    assert err.value.details[0].field == "swap.new_serial"


def test_check_out_comes_after_the_school_signed_once_and_by_the_assignee():
    visit.check_out_allowed(Status.SIGNED_OFF, "eng", "eng", checked_out=False)
    with pytest.raises(IllegalTransition):
        visit.check_out_allowed(Status.RESOLVED, "eng", "eng", checked_out=False)
    with pytest.raises(IllegalTransition):
        visit.check_out_allowed(Status.SIGNED_OFF, "eng", "eng", checked_out=True)
    with pytest.raises(Forbidden):
        visit.check_out_allowed(Status.SIGNED_OFF, "eng", "other", checked_out=False)


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+8613800138000", "+8613800138000"),
        ("021-12345678", None),
        ("", None),
    ],
)
def test_a_contact_phone_becomes_an_e164_number_sms_can_reach(phone, expected):
    assert visit.e164(phone) == expected


def test_the_eta_message_names_the_ticket_and_the_time_in_china():
    text = visit.eta_message("No. 3 Primary", "T-2026-000001", dt.datetime(2026, 11, 29, 1, 30, tzinfo=dt.UTC))
    assert "09:30" in text and "T-2026-000001" in text and "No. 3 Primary" in text
