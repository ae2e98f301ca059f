"""D-P1's 3 % rule and what each kind of stock movement needs (chalicelib.domain.parts)."""

from __future__ import annotations

import pytest

from chalicelib.domain.parts import MovementKind, below_minimum, minimum_stock, movement_problems, ticket_parts


@pytest.mark.parametrize(
    ("installed", "minimum"),
    [(0, 0), (1, 1), (33, 1), (34, 2), (100, 3), (101, 4), (400, 12), (401, 13), (10_000, 300)],
)
def test_the_minimum_is_three_percent_of_the_installed_quantity_rounded_up(installed, minimum):
    assert minimum_stock(installed) == minimum


def test_stock_is_flagged_only_below_the_minimum():
    assert below_minimum(11, 400) and not below_minimum(12, 400) and not below_minimum(13, 400)
    assert below_minimum(0, 1)
    assert not below_minimum(0, 0)  # nothing installed: nothing to keep


def _fields(kind, source=None, target=None, ticket=None, note=""):
    return [p.field for p in movement_problems(MovementKind(kind), source, target, ticket, note)]


def test_each_kind_names_what_it_lacks():
    assert _fields("received", target="d") == []
    assert _fields("received", source="v", target="d") == ["from_location_id"]
    assert _fields("issued", target="v") == ["from_location_id"]
    assert _fields("prepared", source="d", target="v") == ["ticket_id"]  # D-P3: for a ticket
    assert _fields("returned", source="v", target="d") == []
    assert _fields("consumed", source="v") == ["ticket_id"]  # D-P2: against the work order
    assert _fields("consumed", source="v", target="d", ticket="t") == ["to_location_id"]
    assert _fields("adjusted", target="d") == ["note"]
    assert _fields("adjusted", source="d", target="v", note="count") == ["from_location_id"]
    assert _fields("issued", source="d", target="d") == ["to_location_id"]


def test_a_tickets_parts_add_up_per_sku_and_what_is_out_never_goes_negative():
    totals = ticket_parts(
        [
            ("prepared", "DRV", 3),
            ("consumed", "DRV", 1),
            ("returned", "DRV", 1),
            ("consumed", "LENS", 2),  # from the van's own stock: nothing was prepared
        ]
    )
    assert [(t.sku, t.prepared, t.consumed, t.returned, t.outstanding) for t in totals] == [
        ("DRV", 3, 1, 1, 1),
        ("LENS", 0, 2, 0, 0),
    ]
