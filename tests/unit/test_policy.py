"""Deadlines (D-S, D-S3) and warranty arithmetic (D-W1, D-W3)."""

import datetime as dt

import pytest
from pydantic import ValidationError

from chalicelib.domain.policy import ServicePolicy, deadlines_for, default_policy, in_warranty, warranty_end

REPORTED = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("level", "response", "onsite"),
    [(4, 5, 10), (3, 10, 20), (2, 20, 40), (1, 30, 60)],
)
def test_default_policy_matches_the_domain_table(level, response, onsite):
    due = deadlines_for(default_policy(), level, REPORTED)
    assert due.response_due == REPORTED + dt.timedelta(minutes=response)
    assert due.onsite_due == REPORTED + dt.timedelta(minutes=onsite)


def test_deadlines_run_through_the_night_seven_by_twenty_four():
    late = dt.datetime(2026, 11, 24, 23, 55, tzinfo=dt.UTC)
    assert deadlines_for(default_policy(), 4, late).onsite_due == dt.datetime(2026, 11, 25, 0, 5, tzinfo=dt.UTC)


def test_a_policy_must_define_every_level():
    with pytest.raises(ValidationError, match="levels 1, 2, 3 and 4"):
        ServicePolicy(levels={4: default_policy().levels[4]})


def test_five_year_warranty_counts_from_acceptance():
    assert warranty_end(dt.date(2024, 9, 1), 5) == dt.date(2029, 9, 1)
    assert in_warranty(dt.date(2024, 9, 1), 5, 0, dt.date(2029, 9, 1))
    assert not in_warranty(dt.date(2024, 9, 1), 5, 0, dt.date(2029, 9, 2))


def test_each_unremovable_fault_extends_warranty_by_sixty_days():
    assert warranty_end(dt.date(2024, 9, 1), 5, 120) == dt.date(2029, 9, 1) + dt.timedelta(days=120)


def test_eighteen_month_terms_and_leap_day_acceptance():
    assert warranty_end(dt.date(2025, 8, 31), 1.5) == dt.date(2027, 2, 28)
    assert warranty_end(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)
