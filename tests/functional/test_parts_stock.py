"""Parts and stock through the API (issue 11.6, D-P1..D-P3): catalogue, depots and vans, levels with the
3 % flag, movements that never take stock below zero, and a log that adds up."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from tests.functional.factories import call, make_school, make_ticket, make_user, ok

ENGINEER = "eng-li"


def _part(client: Any, auth: Any, sku: str, installed: int = 0, fits: list[str] | None = None) -> dict[str, Any]:
    body = {"sku": sku, "name": f"驱动电源 {sku}", "unit": "个", "fits_models": fits or [], "installed_qty": installed}
    return ok(call(client, "POST", "/parts", auth("parts_manager"), body), 201)


def _depot(client: Any, auth: Any, name: str = "静安备件库") -> str:
    return ok(call(client, "POST", "/locations", auth("parts_manager"), {"kind": "depot", "name": name}), 201)[
        "location_id"
    ]


def _van(client: Any, auth: Any, engineer: str = ENGINEER) -> str:
    make_user(engineer, "engineer")
    body = {"kind": "van", "name": f"{engineer}'s van", "engineer_id": engineer}
    return ok(call(client, "POST", "/locations", auth("parts_manager"), body), 201)["location_id"]


def _move(client: Any, auth: Any, role: str = "parts_manager", sub: str | None = None, **body: Any) -> tuple[int, Any]:
    """A movement with a new Idempotency-Key (required: kept in the movement's own transaction)."""
    return call(client, "POST", "/stock/movements", {**auth(role, sub), "Idempotency-Key": str(uuid.uuid4())}, body)


def _stock(client: Any, auth: Any, location_id: str, role: str = "parts_manager") -> dict[str, dict[str, Any]]:
    body = ok(call(client, "GET", f"/stock/{location_id}", auth(role)))
    return {item["sku"]: item for item in body["items"]}


def _log(client: Any, auth: Any, location_id: str, limit: int = 200) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = ok(call(client, "GET", f"/stock/{location_id}/movements?limit={limit}{cursor}", auth("parts_manager")))
        items += page["items"]
        if not page["next_cursor"]:
            return items
        cursor = f"&cursor={page['next_cursor']}"


def test_catalogue_lists_by_sku_and_by_the_lamp_model_a_part_fits(client, auth):
    _part(client, auth, "DRV-40", 400, ["EP-LED-40"])
    _part(client, auth, "BB-TUBE", 100, ["EP-BB-36"])
    _part(client, auth, "CLIP", 0, ["EP-LED-40", "EP-BB-36"])

    everything = ok(call(client, "GET", "/parts", auth("engineer")))
    assert [p["sku"] for p in everything["items"]] == ["BB-TUBE", "CLIP", "DRV-40"]
    assert everything["items"][2]["minimum_stock"] == 12  # 3 % of 400 (D-P1)
    fits = ok(call(client, "GET", "/parts?lamp_model=EP-LED-40", auth("engineer")))
    assert [p["sku"] for p in fits["items"]] == ["CLIP", "DRV-40"]
    assert fits["items"][1]["name"] == "驱动电源 DRV-40"

    status, body = call(client, "POST", "/parts", auth("admin"), {"sku": "CLIP", "name": "another clip"})
    assert status == 409 and body["error"]["details"][0]["field"] == "sku"
    status, _ = call(client, "POST", "/parts", auth("engineer"), {"sku": "NEW", "name": "x"})
    assert status == 403


def test_catalogue_pages_with_a_cursor(client, auth):
    for n in range(5):
        _part(client, auth, f"P-{n}", fits=["EP-LED-40"])
    first = ok(call(client, "GET", "/parts?lamp_model=EP-LED-40&limit=2", auth("engineer")))
    second = ok(
        call(client, "GET", f"/parts?lamp_model=EP-LED-40&limit=2&cursor={first['next_cursor']}", auth("engineer"))
    )
    assert [p["sku"] for p in first["items"] + second["items"]] == ["P-0", "P-1", "P-2", "P-3"]
    status, body = call(client, "GET", f"/parts?limit=2&cursor={first['next_cursor']}", auth("engineer"))
    assert status == 400 and body["error"]["details"][0]["field"] == "query.cursor"


def test_a_depot_under_three_percent_of_the_installed_quantity_is_flagged(client, auth):
    """D-P1: 3 % of 400 installed is 12; 11 in the depot is flagged, 12 is not; a part never received is."""
    _part(client, auth, "DRV-40", 400)
    _part(client, auth, "LENS", 50)  # 3 % of 50 is 1.5: two are needed
    _part(client, auth, "SPARE", 0)  # nothing installed: nothing to keep
    depot = _depot(client, auth)
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=11, to_location_id=depot), 201)

    levels = _stock(client, auth, depot)
    assert levels["DRV-40"]["quantity"] == 11 and levels["DRV-40"]["minimum_stock"] == 12
    assert levels["DRV-40"]["below_minimum"] is True
    assert (levels["LENS"]["quantity"], levels["LENS"]["minimum_stock"], levels["LENS"]["below_minimum"]) == (
        0,
        2,
        True,
    )
    assert levels["SPARE"]["below_minimum"] is False

    ok(_move(client, auth, kind="received", sku="DRV-40", qty=1, to_location_id=depot), 201)
    body = ok(call(client, "GET", f"/stock/{depot}", auth("dispatcher")))
    flagged = {i["sku"] for i in body["items"] if i["below_minimum"]}
    assert flagged == {"LENS"} and body["below_minimum_count"] == 1


def test_issuing_moves_stock_to_the_van_and_each_log_adds_up_to_its_level(client, auth):
    _part(client, auth, "DRV-40", 400)
    depot, van = _depot(client, auth), _van(client, auth)
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=10, to_location_id=depot, note="PO 2026-11"), 201)
    moved = ok(_move(client, auth, kind="issued", sku="DRV-40", qty=4, from_location_id=depot, to_location_id=van), 201)
    assert (moved["kind"], moved["actor"], moved["from_location_id"]) == ("issued", "user-parts_manager", depot)

    assert _stock(client, auth, depot)["DRV-40"]["quantity"] == 6
    van_stock = _stock(client, auth, van)
    assert van_stock["DRV-40"]["quantity"] == 4 and van_stock["DRV-40"]["below_minimum"] is None  # D-P1: depots

    depot_log, van_log = _log(client, auth, depot), _log(client, auth, van)
    assert [(m["kind"], m["delta"]) for m in depot_log] == [("issued", -4), ("received", 10)]  # newest first
    assert sum(m["delta"] for m in depot_log) == 6 and sum(m["delta"] for m in van_log) == 4
    assert van_log[0]["movement_id"] == depot_log[0]["movement_id"] == moved["movement_id"]


def test_taking_more_than_a_location_holds_is_409_naming_sku_location_and_what_it_holds(client, auth):
    _part(client, auth, "DRV-40", 400)
    depot, van = _depot(client, auth), _van(client, auth)
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=3, to_location_id=depot), 201)

    status, body = _move(client, auth, kind="issued", sku="DRV-40", qty=5, from_location_id=depot, to_location_id=van)
    assert status == 409
    error = body["error"]
    assert (error["code"], error["sku"], error["location_id"], error["available"]) == (
        "insufficient_stock",
        "DRV-40",
        depot,
        3,
    )
    assert error["details"][0]["field"] == "qty"
    # nothing changed: neither level nor log
    assert _stock(client, auth, depot)["DRV-40"]["quantity"] == 3
    assert _stock(client, auth, van) == {}
    assert len(_log(client, auth, depot)) == 1 and _log(client, auth, van) == []

    status, body = _move(client, auth, kind="adjusted", sku="DRV-40", qty=4, from_location_id=depot, note="count")
    assert status == 409 and body["error"]["available"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "issued", "to_location_id": "VAN"}, "from_location_id"),
        ({"kind": "received"}, "to_location_id"),
        ({"kind": "received", "to_location_id": "DEPOT", "from_location_id": "VAN"}, "from_location_id"),
        ({"kind": "prepared", "from_location_id": "DEPOT", "to_location_id": "VAN"}, "ticket_id"),
        ({"kind": "adjusted", "to_location_id": "DEPOT"}, "note"),
        ({"kind": "issued", "from_location_id": "DEPOT", "to_location_id": "DEPOT"}, "to_location_id"),
        ({"kind": "consumed", "from_location_id": "DEPOT"}, "kind"),  # only with the ticket's work record
    ],
)
def test_an_incomplete_movement_is_422_naming_the_field(client, auth, body, field):
    status, reply = _move(client, auth, sku="DRV-40", qty=1, **body)
    assert status == 422, reply
    assert field in [d["field"] for d in reply["error"]["details"]]


def test_locations_must_exist_be_of_the_right_kind_and_hold_a_known_part(client, auth):
    _part(client, auth, "DRV-40", 400)
    depot, van = _depot(client, auth), _van(client, auth)
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=5, to_location_id=depot), 201)

    cases = [
        ({"kind": "issued", "from_location_id": van, "to_location_id": depot}, "from_location_id"),  # van -> depot
        ({"kind": "received", "to_location_id": "depot_nowhere"}, "to_location_id"),
        ({"kind": "received", "to_location_id": van}, "to_location_id"),  # receipts go to a depot
    ]
    for body, field in cases:
        status, reply = _move(client, auth, sku="DRV-40", qty=1, **body)
        assert (status, reply["error"]["details"][0]["field"]) == (422, field), reply
    status, reply = _move(client, auth, kind="received", sku="NO-SUCH", qty=1, to_location_id=depot)
    assert (status, reply["error"]["details"][0]["field"]) == (422, "sku")
    assert _stock(client, auth, depot)["DRV-40"]["quantity"] == 5 and len(_log(client, auth, depot)) == 1


def test_parts_prepared_for_a_ticket_go_to_the_van_and_unused_ones_come_back(client, auth):
    """D-P3: the parts manager prepares parts for a yellow-or-worse fault; what is not used returns."""
    from chalicelib.models import stock

    school = make_school(client, auth)
    ticket = make_ticket(client, auth, school["school_id"], level=3)
    _part(client, auth, "DRV-40", 400)
    depot, van = _depot(client, auth), _van(client, auth)
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=10, to_location_id=depot), 201)

    status, reply = _move(
        client,
        auth,
        kind="prepared",
        sku="DRV-40",
        qty=3,
        from_location_id=depot,
        to_location_id=van,
        ticket_id="t_none",
    )
    assert (status, reply["error"]["details"][0]["field"]) == (422, "ticket_id")
    ok(
        _move(
            client,
            auth,
            kind="prepared",
            sku="DRV-40",
            qty=3,
            from_location_id=depot,
            to_location_id=van,
            ticket_id=ticket["ticket_id"],
        ),
        201,
    )
    # the engineer used one and brings two back from his van
    returned = ok(
        _move(
            client,
            auth,
            "engineer",
            ENGINEER,
            kind="returned",
            sku="DRV-40",
            qty=2,
            from_location_id=van,
            to_location_id=depot,
            ticket_id=ticket["ticket_id"],
            device_at="2026-11-29T10:00:00+08:00",
        ),
        201,
    )
    assert returned["actor"] == ENGINEER and returned["device_at"].startswith("2026-11-29T02:00:00")
    assert _stock(client, auth, depot)["DRV-40"]["quantity"] == 9
    assert _stock(client, auth, van)["DRV-40"]["quantity"] == 1
    for_ticket = stock.ticket_movements(ticket["ticket_id"])
    assert [(m.kind, int(m.qty), m.location_id) for m in for_ticket] == [("prepared", 3, depot), ("returned", 2, van)]

    # the ticket's parts: 3 prepared, 2 back, 1 still out (not recorded as used yet)
    summary = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/stock-movements", auth("parts_manager")))
    assert summary["parts"] == [{"sku": "DRV-40", "prepared": 3, "consumed": 0, "returned": 2, "outstanding": 1}]
    assert [m["kind"] for m in summary["movements"]] == ["prepared", "returned"]
    status, _ = call(client, "GET", f"/tickets/{ticket['ticket_id']}/stock-movements", auth("engineer", "eng-other"))
    assert status == 403  # not his ticket
    assert call(client, "GET", "/tickets/t_none/stock-movements", auth("dispatcher"))[0] == 404


def test_an_engineer_reads_and_returns_from_his_own_van_only(client, auth):
    _part(client, auth, "DRV-40", 400)
    depot, mine, theirs = _depot(client, auth), _van(client, auth), _van(client, auth, "eng-zhao")
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=10, to_location_id=depot), 201)
    for van in (mine, theirs):
        ok(_move(client, auth, kind="issued", sku="DRV-40", qty=2, from_location_id=depot, to_location_id=van), 201)

    assert ok(call(client, "GET", f"/stock/{mine}", auth("engineer", ENGINEER)))["items"][0]["quantity"] == 2
    assert call(client, "GET", f"/stock/{theirs}", auth("engineer", ENGINEER))[0] == 403
    assert call(client, "GET", f"/stock/{depot}", auth("engineer", ENGINEER))[0] == 403
    assert call(client, "GET", f"/stock/{theirs}/movements", auth("engineer", ENGINEER))[0] == 403
    assert call(client, "GET", "/stock/depot_nowhere", auth("dispatcher"))[0] == 404

    back = {"sku": "DRV-40", "qty": 1, "to_location_id": depot}
    status, reply = _move(client, auth, "engineer", ENGINEER, kind="returned", from_location_id=theirs, **back)
    assert (status, reply["error"]["details"][0]["field"]) == (403, "from_location_id")
    status, reply = _move(client, auth, "engineer", ENGINEER, kind="received", to_location_id=mine, sku="DRV-40", qty=1)
    assert (status, reply["error"]["details"][0]["field"]) == (403, "kind")
    ok(_move(client, auth, "engineer", ENGINEER, kind="returned", from_location_id=mine, **back), 201)
    assert (
        _stock(client, auth, theirs)["DRV-40"]["quantity"] == 2
        and _stock(client, auth, mine)["DRV-40"]["quantity"] == 1
    )


def test_vans_belong_to_one_engineer_and_locations_list_by_kind(client, auth):
    depot = _depot(client, auth, "Depot B")
    van = _van(client, auth)
    status, reply = call(
        client, "POST", "/locations", auth("admin"), {"kind": "van", "name": "second", "engineer_id": ENGINEER}
    )
    assert (status, reply["error"]["details"][0]["field"]) == (409, "engineer_id")
    status, reply = call(client, "POST", "/locations", auth("admin"), {"kind": "van", "name": "nobody's"})
    assert (status, reply["error"]["details"][0]["field"]) == (422, "engineer_id")
    make_user("disp-9", "dispatcher")
    status, reply = call(
        client, "POST", "/locations", auth("admin"), {"kind": "van", "name": "x", "engineer_id": "disp-9"}
    )
    assert (status, reply["error"]["details"][0]["field"]) == (422, "engineer_id")

    assert [x["location_id"] for x in ok(call(client, "GET", "/locations?kind=depot", auth("engineer")))["items"]] == [
        depot
    ]
    assert [x["location_id"] for x in ok(call(client, "GET", "/locations", auth("engineer")))["items"]] == [depot, van]
    mine = ok(call(client, "GET", f"/locations?engineer_id={ENGINEER}", auth("engineer", ENGINEER)))["items"]
    assert [(x["location_id"], x["kind"]) for x in mine] == [(van, "van")]


def test_a_movement_retried_with_its_idempotency_key_happens_once_and_gets_the_first_answer(client, auth):
    _part(client, auth, "DRV-40", 400)
    depot, van = _depot(client, auth), _van(client, auth)
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=5, to_location_id=depot), 201)
    headers = {**auth("parts_manager"), "Idempotency-Key": "5b0c1d2e-0000-4000-8000-000000000001"}
    take = {"kind": "issued", "sku": "DRV-40", "qty": 5, "from_location_id": depot, "to_location_id": van}
    first = client.http.post("/stock/movements", headers=headers, body=json.dumps(take))
    assert first.status_code == 201
    # the depot is empty now: a retry is still answered with the first answer, not a shortage
    for _ in range(3):
        again = client.http.post("/stock/movements", headers=headers, body=json.dumps(take))
        assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
        assert json.loads(again.body) == json.loads(first.body)
    assert (
        _stock(client, auth, depot)["DRV-40"]["quantity"] == 0 and _stock(client, auth, van)["DRV-40"]["quantity"] == 5
    )
    assert len(_log(client, auth, depot)) == 2 and len(_log(client, auth, van)) == 1

    other = client.http.post("/stock/movements", headers=headers, body=json.dumps({**take, "qty": 1}))
    assert other.status_code == 422 and json.loads(other.body)["error"]["details"][0]["field"] == "Idempotency-Key"
    missing = client.http.post("/stock/movements", headers=auth("parts_manager"), body=json.dumps(take))
    assert missing.status_code == 400 and json.loads(missing.body)["error"]["details"][0]["field"] == "Idempotency-Key"


def test_the_movement_log_pages_newest_first(client, auth):
    _part(client, auth, "DRV-40", 400)
    depot = _depot(client, auth)
    for qty in range(1, 6):
        ok(_move(client, auth, kind="received", sku="DRV-40", qty=qty, to_location_id=depot), 201)
    log = _log(client, auth, depot, limit=2)
    assert [m["qty"] for m in log] == [5, 4, 3, 2, 1]


# ---- the primitive the work record uses (ticket + stock in one transaction) ------------------------


def _stocked_van(client: Any, auth: Any, qty: int) -> str:
    _part(client, auth, "DRV-40", 400)
    depot, van = _depot(client, auth), _van(client, auth)
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=qty, to_location_id=depot), 201)
    ok(_move(client, auth, kind="issued", sku="DRV-40", qty=qty, from_location_id=depot, to_location_id=van), 201)
    return van


def test_a_consumption_commits_with_the_rest_of_its_transaction_or_not_at_all(client, auth):
    from chalicelib.domain.parts import InsufficientStock
    from chalicelib.models import stock
    from chalicelib.models.access import _connection
    from chalicelib.models.registry import UniqueKeyModel
    from chalicelib.models.transactions import Transaction, TransactionRefused

    van = _stocked_van(client, auth, 2)
    now = dt.datetime.now(dt.UTC)

    def record_work(key: str, qty: int) -> None:
        tx = Transaction()
        # stands for the ticket's own write in the work record's transaction
        tx.put(UniqueKeyModel(key, owner_id="t_1"), condition=UniqueKeyModel.key.does_not_exist(), label="ticket")
        stock.add_consumption(tx, van, "DRV-40", qty, ticket_id="t_1", actor=ENGINEER, at=now, lamp_id="l_1")
        try:
            tx.commit(_connection())
        except TransactionRefused as exc:
            stock.raise_for_stock(exc, field="parts[0].qty")
            raise

    with pytest.raises(InsufficientStock) as short:
        record_work("work#1", 3)
    assert (short.value.extra["available"], short.value.details[0].field) == (2, "parts[0].qty")
    assert list(UniqueKeyModel.batch_get(["work#1"])) == []  # the ticket's write did not happen either

    record_work("work#2", 2)
    assert stock.get_quantity(van, "DRV-40") == 0
    consumed = stock.ticket_movements("t_1")
    assert [(m.kind, int(m.delta), m.lamp_id) for m in consumed] == [("consumed", -2, "l_1")]
    log = _log(client, auth, van)
    assert [(m["kind"], m["delta"]) for m in log] == [("consumed", -2), ("issued", 2)]


def test_an_edit_of_the_installed_quantity_moves_the_flag_and_a_stale_edit_is_refused(client, auth):
    """D-P1's base is the parts manager's figure: when a project's lamps are installed it grows, and the
    depot that held enough is flagged."""
    _part(client, auth, "DRV-40", 100, ["EP-LED-40"])
    depot = _depot(client, auth)
    ok(_move(client, auth, kind="received", sku="DRV-40", qty=3, to_location_id=depot), 201)
    assert _stock(client, auth, depot)["DRV-40"]["below_minimum"] is False

    part = ok(call(client, "GET", "/parts/DRV-40", auth("engineer")))
    edit = {"version": part["version"], "installed_qty": 200, "fits_models": ["EP-BB-36"]}
    edited = ok(call(client, "PATCH", "/parts/DRV-40", auth("parts_manager"), edit))
    assert (edited["installed_qty"], edited["minimum_stock"], edited["version"]) == (200, 6, part["version"] + 1)
    assert edited["name"] == part["name"]  # fields not sent stay
    assert _stock(client, auth, depot)["DRV-40"]["below_minimum"] is True
    by_model = {
        m: ok(call(client, "GET", f"/parts?lamp_model={m}", auth("engineer")))["items"]
        for m in ("EP-LED-40", "EP-BB-36")
    }
    assert by_model["EP-LED-40"] == [] and [p["sku"] for p in by_model["EP-BB-36"]] == ["DRV-40"]

    status, reply = call(client, "PATCH", "/parts/DRV-40", auth("parts_manager"), {**edit, "installed_qty": 1})
    assert (status, reply["error"]["code"], reply["error"]["current_version"]) == (
        409,
        "stale_version",
        edited["version"],
    )
    assert call(client, "PATCH", "/parts/NOPE", auth("parts_manager"), edit)[0] == 404
    assert call(client, "PATCH", "/parts/DRV-40", auth("engineer"), edit)[0] == 403
