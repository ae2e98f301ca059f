"""The asset registry through the API: contracts, schools, rooms, lamps, QR labels, replacement, history.

D-A1 every lamp registered with a QR label; D-A2 its maintenance record survives replacement;
D-A4 per-school numbering; D-S5/D-W1 each contract carries its own policy and warranty terms;
D-O5 a hazard list per site.
"""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest

from tests.functional.factories import (
    call,
    make_contract,
    make_lamp,
    make_school,
    make_ticket,
    make_user,
    ok,
    transition,
)

URL_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,}$")

# D-S5: a contract's own figures (4 h for an ordinary problem, 24 h for a major one, ...)
HOURS_POLICY = {
    "levels": {
        "4": {"response_minutes": 30, "onsite_minutes": 120, "notify_roles": ["project_lead"]},
        "3": {"response_minutes": 240, "onsite_minutes": 1440},
        "2": {"response_minutes": 240, "onsite_minutes": 1440},
        "1": {"response_minutes": 720, "onsite_minutes": 4320},
    },
    "default_level": 1,
}
# D-W1: the other seed contracts' warranty: 18 months on electrical parts, 3 years on the steel structure
THREE_YEAR_WARRANTY = {"years": 3, "component_years": {"electrical": 1.5, "steel_structure": 3}}


def lamp_body(school_id: str, **overrides):
    return {
        "school_id": school_id,
        "room_id": "A-101",
        "building": "Teaching block",
        "floor": "2",
        "position": "1",
        "model": "EP-LED-40",
        "serial": "SN-0001",
        "batch": "2025-B07",
        "configuration": "36W 4000K",
        "installed_on": "2025-08-20",
        "accepted_on": "2025-09-01",
        **overrides,
    }


def history_of(client, auth, lamp_id: str, limit: int | None = None) -> list[dict]:
    entries, cursor = [], None
    while True:
        query = "&".join(p for p in (f"limit={limit}" if limit else "", f"cursor={cursor}" if cursor else "") if p)
        page = ok(call(client, "GET", f"/lamps/{lamp_id}/history" + (f"?{query}" if query else ""), auth("manager")))
        entries += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return entries


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---- contracts ------------------------------------------------------------------------------


def test_contract_without_terms_gets_the_default_service_policy_and_warranty(client, auth):
    code, contract = call(
        client,
        "POST",
        "/contracts",
        auth("admin"),
        {"code": "SH-2026", "name": "Shanghai retrofit", "customer": "Pudong Education Bureau"},
    )

    assert code == 201, contract
    assert contract["contract_id"]
    assert (contract["code"], contract["name"], contract["customer"]) == (
        "SH-2026",
        "Shanghai retrofit",
        "Pudong Education Bureau",
    )
    levels = contract["policy"]["levels"]
    # DOMAIN D-S table: red immediate (the hotline's 5 min, D-S5)/10 min, orange 10/20, yellow 20/40, blue 30/60
    assert {lvl: (t["response_minutes"], t["onsite_minutes"]) for lvl, t in levels.items()} == {
        "4": (5, 10),
        "3": (10, 20),
        "2": (20, 40),
        "1": (30, 60),
    }
    assert set(levels["4"]["notify_roles"]) == {"parts_manager", "project_lead", "technical_manager"}
    assert set(levels["3"]["notify_roles"]) == {"parts_manager", "project_lead"}
    assert levels["2"]["notify_roles"] == ["parts_manager"]
    assert levels["1"]["notify_roles"] == []
    warranty = contract["warranty"]
    assert warranty["years"] == 5  # D-W1
    assert warranty["unremovable_fault_extension_days"] == 60  # D-W3
    assert warranty["repeat_failure_replacement_after"] == 2  # D-W4

    assert ok(call(client, "GET", f"/contracts/{contract['contract_id']}", auth("engineer"))) == contract


def test_contract_with_its_own_terms_keeps_them_and_they_govern_its_schools(client, auth):
    contract = make_contract(client, auth, policy=HOURS_POLICY, warranty=THREE_YEAR_WARRANTY)

    fetched = ok(call(client, "GET", f"/contracts/{contract['contract_id']}", auth("manager")))
    assert fetched["policy"]["default_level"] == 1
    assert fetched["policy"]["levels"]["3"]["onsite_minutes"] == 1440
    assert fetched["policy"]["levels"]["4"]["notify_roles"] == ["project_lead"]
    assert fetched["warranty"]["years"] == 3
    assert fetched["warranty"]["component_years"] == {"electrical": 1.5, "steel_structure": 3}
    assert fetched["warranty"]["unremovable_fault_extension_days"] == 60  # defaults fill what the contract omits

    school = make_school(client, auth, contract["contract_id"])
    lamp = make_lamp(client, auth, school["school_id"], accepted_on="2025-09-01")
    assert lamp["warranty"]["ends_on"] == "2028-09-01"  # the contract's 3 years from acceptance

    ticket = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    assert ticket["level"] == 1  # the contract's provisional level
    reported = parse_time(ticket["reported_at"])
    assert parse_time(ticket["onsite_due"]) - reported == dt.timedelta(hours=72)
    assert parse_time(ticket["response_due"]) - reported == dt.timedelta(hours=12)


def test_contract_policy_without_all_four_levels_is_a_422(client, auth):
    levels = {k: v for k, v in HOURS_POLICY["levels"].items() if k != "4"}

    code, body = call(
        client, "POST", "/contracts", auth("admin"), {"code": "X1", "name": "x", "policy": {"levels": levels}}
    )

    assert code == 422
    assert [d["field"] for d in body["error"]["details"]] == ["policy.levels"]


def test_unknown_contract_is_a_404(client, auth):
    code, body = call(client, "GET", "/contracts/c_0000000000000000", auth("admin"))

    assert code == 404
    assert body["error"]["code"] == "not_found"
    assert "c_0000000000000000" in body["error"]["message"]


# ---- schools ------------------------------------------------------------------------------


def test_school_keeps_address_gps_contacts_and_hazard_notes(client, auth):
    contract = make_contract(client, auth)
    body = {
        "contract_id": contract["contract_id"],
        "code": "PD-001",
        "name": "上海市浦东新区第一小学",
        "address": "88 Xueyuan Road, Pudong, Shanghai",
        "latitude": 31.2304,
        "longitude": 121.4737,
        "contacts": [
            {"name": "Ms Wang", "role": "head teacher", "phone": "+86 138 0013 8000", "email": "wang@pd1.edu.cn"},
            {"name": "Mr Li", "role": "caretaker"},
        ],
        "hazards": ["Block B ceiling has asbestos tiles: do not drill", "Gym lamps at 9 m: lift required"],
    }

    code, school = call(client, "POST", "/schools", auth("admin"), body)

    assert code == 201, school
    for field in ("contract_id", "code", "name", "address", "latitude", "longitude", "hazards"):
        assert school[field] == body[field], field
    assert school["contacts"] == [
        {"name": "Ms Wang", "role": "head teacher", "phone": "+86 138 0013 8000", "email": "wang@pd1.edu.cn"},
        {"name": "Mr Li", "role": "caretaker", "phone": "", "email": ""},
    ]

    fetched = ok(call(client, "GET", f"/schools/{school['school_id']}", auth("engineer")))
    assert fetched == {**school, "rooms": []}

    make_lamp(client, auth, school["school_id"], room_id="B-203", building="Block B", floor="2")
    rooms = ok(call(client, "GET", f"/schools/{school['school_id']}", auth("engineer")))["rooms"]
    assert rooms == [{"room_id": "B-203", "building": "Block B", "floor": "2", "name": "B-203"}]


def test_list_schools_pages_with_a_cursor_showing_every_school_once_in_name_order(client, auth):
    contract = make_contract(client, auth)
    other = make_contract(client, auth)
    names = [
        "Zhangjiang Middle",
        "anting Primary",
        "Beicai Primary",
        "Caolu Middle",
        "dongming Primary",
        "Gaoqiao Primary",
        "Huinan Middle",
    ]
    ids = {make_school(client, auth, contract["contract_id"], name=name)["school_id"]: name for name in names}
    others = {
        make_school(client, auth, other["contract_id"], name=name)["school_id"] for name in ("Jinqiao", "Kangqiao")
    }

    seen, pages, cursor = [], 0, None
    while True:
        query = f"?contract_id={contract['contract_id']}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = ok(call(client, "GET", f"/schools{query}", auth("manager")))
        pages += 1
        assert len(page["items"]) <= 3
        seen += [s["school_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break

    assert sorted(seen) == sorted(ids)  # every school once, none of the other contract's
    assert pages == 3
    assert [ids[s] for s in seen] == sorted(names, key=str.casefold)

    everything = ok(call(client, "GET", "/schools?limit=200", auth("dispatcher")))
    assert {s["school_id"] for s in everything["items"]} == set(ids) | others
    assert everything["next_cursor"] is None


def test_a_cursor_from_another_list_is_refused(client, auth):
    contract, other = make_contract(client, auth), make_contract(client, auth)
    for _ in range(2):
        make_school(client, auth, contract["contract_id"])
        make_school(client, auth, other["contract_id"])
    page = ok(call(client, "GET", f"/schools?contract_id={contract['contract_id']}&limit=1", auth("manager")))

    code, body = call(
        client,
        "GET",
        f"/schools?contract_id={other['contract_id']}&limit=1&cursor={page['next_cursor']}",
        auth("manager"),
    )

    assert (code, body["error"]["code"]) == (400, "invalid_query")
    assert [d["field"] for d in body["error"]["details"]] == ["query.cursor"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latitude": 95}, "latitude"),
        ({"longitude": -181}, "longitude"),
        ({"colour": "red"}, "colour"),
        ({"hazards": [""]}, "hazards.0"),
        ({"address": ""}, "address"),
    ],
)
def test_invalid_school_is_a_422_naming_the_field(client, auth, change, field):
    contract = make_contract(client, auth)
    body = {
        "contract_id": contract["contract_id"],
        "code": "PD-002",
        "name": "x",
        "address": "1 Road",
        "latitude": 31.2,
        "longitude": 121.4,
        **change,
    }

    code, reply = call(client, "POST", "/schools", auth("admin"), body)

    assert code == 422, reply
    assert reply["error"]["code"] == "validation_failed"
    assert [d["field"] for d in reply["error"]["details"]] == [field]
    assert ok(call(client, "GET", "/schools", auth("admin")))["items"] == []


def test_bad_contact_email_is_a_422_naming_just_that_field(client, auth):
    contract = make_contract(client, auth)
    body = {
        "contract_id": contract["contract_id"],
        "code": "PD-002",
        "name": "x",
        "address": "1 Road",
        "latitude": 31.2,
        "longitude": 121.4,
        "contacts": [{"name": "Ms Wang", "email": "not-an-address"}],
    }

    code, reply = call(client, "POST", "/schools", auth("admin"), body)

    assert code == 422, reply
    assert [d["field"] for d in reply["error"]["details"]] == ["contacts.0.email"]


def test_school_under_an_unknown_contract_is_a_404(client, auth):
    body = {
        "contract_id": "c_nosuchcontract",
        "code": "PD-003",
        "name": "x",
        "address": "1 Road",
        "latitude": 31.2,
        "longitude": 121.4,
    }

    code, reply = call(client, "POST", "/schools", auth("admin"), body)

    assert code == 404
    assert "c_nosuchcontract" in reply["error"]["message"]
    assert ok(call(client, "GET", "/schools", auth("admin")))["items"] == []


def test_school_codes_are_unique_whatever_the_case(client, auth):
    contract = make_contract(client, auth)
    make_school(client, auth, contract["contract_id"], code="PD-004")

    code, body = call(
        client,
        "POST",
        "/schools",
        auth("admin"),
        {
            "contract_id": contract["contract_id"],
            "code": "pd-004",
            "name": "Another",
            "address": "2 Road",
            "latitude": 31.2,
            "longitude": 121.4,
        },
    )

    assert code == 409
    assert [d["field"] for d in body["error"]["details"]] == ["code"]
    assert len(ok(call(client, "GET", "/schools", auth("admin")))["items"]) == 1


def test_unknown_school_is_a_404(client, auth):
    code, body = call(client, "GET", "/schools/s_nosuchschool", auth("manager"))

    assert code == 404
    assert body["error"]["code"] == "not_found"


# ---- lamps ------------------------------------------------------------------------------------


def test_lamp_is_registered_with_its_details_a_qr_label_and_a_warranty_from_acceptance(client, auth):
    school = make_school(client, auth)

    code, lamp = call(client, "POST", "/lamps", auth("dispatcher"), lamp_body(school["school_id"]))

    assert code == 201, lamp
    for field in (
        "school_id",
        "room_id",
        "position",
        "model",
        "serial",
        "batch",
        "configuration",
        "installed_on",
        "accepted_on",
    ):
        assert lamp[field] == lamp_body(school["school_id"])[field], field
    assert lamp["asset_no"] == f"{school['code']}-00001"  # D-A4: the school's own numbering
    assert lamp["status"] == "in_service"
    assert (lamp["has_open_fault"], lamp["open_tickets"]) == (False, 0)
    # D-W1: five years counted from the acceptance date (2025-09-01), not the installation (08-20)
    assert lamp["warranty"] == {"years": 5, "extension_days": 0, "ends_on": "2030-09-01", "in_warranty": True}
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth("engineer"))) == lamp

    rooms = ok(call(client, "GET", f"/schools/{school['school_id']}", auth("manager")))["rooms"]
    assert rooms == [{"room_id": "A-101", "building": "Teaching block", "floor": "2", "name": "A-101"}]
    assert [h["kind"] for h in history_of(client, auth, lamp["lamp_id"])] == ["registered"]

    second = ok(
        call(client, "POST", "/lamps", auth("admin"), lamp_body(school["school_id"], serial="SN-0002", position="2")),
        201,
    )
    assert second["asset_no"] == f"{school['code']}-00002"


@pytest.mark.parametrize(
    ("years", "accepted_on", "ends_on"),
    [
        (1, "2024-02-29", "2025-02-28"),  # a leap-day acceptance ends on the last day of February
        (3, "2025-09-01", "2028-09-01"),
        (1.5, "2025-08-31", "2027-02-28"),  # D-W1's 18 months, from the end of a month
    ],
)
def test_warranty_end_follows_the_contracts_terms(client, auth, years, accepted_on, ends_on):
    contract = make_contract(client, auth, warranty={"years": years})
    school = make_school(client, auth, contract["contract_id"])

    lamp = make_lamp(client, auth, school["school_id"], installed_on="2024-02-01", accepted_on=accepted_on)

    assert lamp["warranty"]["ends_on"] == ends_on
    assert lamp["warranty"]["years"] == years


def test_a_lamp_accepted_long_ago_is_out_of_warranty(client, auth):
    school = make_school(client, auth)

    lamp = make_lamp(client, auth, school["school_id"], installed_on="2015-03-01", accepted_on="2015-03-10")

    assert lamp["warranty"]["ends_on"] == "2020-03-10"
    assert lamp["warranty"]["in_warranty"] is False


def test_qr_token_is_url_safe_unguessable_and_unrelated_to_the_lamp(client, auth):
    school = make_school(client, auth)
    lamps = [make_lamp(client, auth, school["school_id"], position=str(p)) for p in range(1, 6)]

    tokens = [lamp["qr_token"] for lamp in lamps]
    assert len(set(tokens)) == len(tokens)
    for lamp in lamps:
        token = lamp["qr_token"]
        assert URL_SAFE_TOKEN.match(token), token
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16  # at least 128 bits
        for identifier in (lamp["lamp_id"], lamp["lamp_id"].split("_", 1)[1], lamp["serial"], lamp["asset_no"]):
            assert identifier not in token
        assert lamp["report_url"].endswith(f"/r/{token}")


def test_a_serial_is_registered_once_across_all_schools(client, auth):
    school, elsewhere = make_school(client, auth), make_school(client, auth)
    first = make_lamp(client, auth, school["school_id"], serial="SN-DUP")

    for target in (school, elsewhere):
        code, body = call(
            client, "POST", "/lamps", auth("admin"), lamp_body(target["school_id"], serial="SN-DUP", position="9")
        )
        assert code == 409, body
        assert [d["field"] for d in body["error"]["details"]] == ["serial"]

    listed = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps", auth("manager")))["items"]
    assert [lamp["lamp_id"] for lamp in listed] == [first["lamp_id"]]
    assert ok(call(client, "GET", f"/schools/{elsewhere['school_id']}/lamps", auth("manager")))["items"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"installed_on": "2025-09-10", "accepted_on": "2025-09-01"}, "accepted_on"),
        ({"accepted_on": "2025-02-30"}, "accepted_on"),
        ({"serial": ""}, "serial"),
        ({"room_id": "A 101"}, "room_id"),
        ({"wattage": 36}, "wattage"),
        ({"position": 3}, "position"),  # a number where the API takes text
        ({"accepted_on": "1st September"}, "accepted_on"),
        ({"installed_on": 0}, "installed_on"),  # not a Unix timestamp: that would be 1970, out of warranty
        ({"accepted_on": "86400"}, "accepted_on"),
    ],
)
def test_invalid_lamp_is_a_422_naming_the_field(client, auth, change, field):
    school = make_school(client, auth)

    code, body = call(client, "POST", "/lamps", auth("admin"), lamp_body(school["school_id"], **change))

    assert code == 422, body
    assert [d["field"] for d in body["error"]["details"]] == [field]


def test_lamp_in_an_unknown_school_is_a_404(client, auth):
    code, body = call(client, "POST", "/lamps", auth("admin"), lamp_body("s_nosuchschool"))

    assert code == 404
    assert "s_nosuchschool" in body["error"]["message"]


def test_unknown_lamp_is_a_404(client, auth):
    for path in ("/lamps/l_nosuchlamp", "/lamps/l_nosuchlamp/history"):
        code, body = call(client, "GET", path, auth("manager"))
        assert code == 404, path
        assert body["error"]["code"] == "not_found"


# ---- QR labels: resolve and rotate -----------------------------------------------------------


def test_scanning_a_label_without_an_account_shows_where_the_lamp_is_and_nothing_private(client, auth):
    school = make_school(
        client,
        auth,
        name="上海市第一中学",
        contacts=[{"name": "Ms Wang", "phone": "13800138000"}],
        hazards=["asbestos in block B"],
    )
    lamp = make_lamp(client, auth, school["school_id"], room_id="B-203", position="4", model="EP-BB-60")

    code, page = call(client, "GET", f"/r/{lamp['qr_token']}", {})

    assert code == 200, page
    assert page == {
        "lamp": {
            "asset_no": lamp["asset_no"],
            "room_id": "B-203",
            "position": "4",
            "model": "EP-BB-60",
            "has_open_fault": False,
        },
        "school": {"name": "上海市第一中学"},
        "report_url": lamp["report_url"],
    }

    make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    assert ok(call(client, "GET", f"/r/{lamp['qr_token']}", {}))["lamp"]["has_open_fault"] is True


def test_unknown_qr_token_is_a_404(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])

    for token in ("AAAAAAAAAAAAAAAAAAAAAA", lamp["lamp_id"], lamp["serial"]):
        code, body = call(client, "GET", f"/r/{token}", {})
        assert code == 404, token
        assert body["error"]["code"] == "not_found"


def test_rotating_a_qr_token_retires_the_old_label_and_is_recorded(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    old_token = lamp["qr_token"]

    code, rotated = call(client, "POST", f"/lamps/{lamp['lamp_id']}/qr-token", auth("dispatcher", "disp-7"))

    assert code == 200, rotated
    new_token = rotated["qr_token"]
    assert new_token != old_token
    assert URL_SAFE_TOKEN.match(new_token)
    assert rotated["report_url"].endswith(f"/r/{new_token}")
    assert rotated["lamp_id"] == lamp["lamp_id"]
    assert rotated["asset_no"] == lamp["asset_no"]
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth("manager")))["qr_token"] == new_token

    assert ok(call(client, "GET", f"/r/{new_token}", {}))["lamp"]["asset_no"] == lamp["asset_no"]
    code, body = call(client, "GET", f"/r/{old_token}", {})
    assert code == 404
    assert body["error"]["code"] == "not_found"

    history = history_of(client, auth, lamp["lamp_id"])
    assert [(h["kind"], h["actor"]) for h in history] == [("registered", "user-admin"), ("qr_rotated", "disp-7")]


def test_engineer_cannot_rotate_a_qr_token(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])

    code, body = call(client, "POST", f"/lamps/{lamp['lamp_id']}/qr-token", auth("engineer"))

    assert code == 403
    assert ok(call(client, "GET", f"/r/{lamp['qr_token']}", {}))["lamp"]["asset_no"] == lamp["asset_no"]


# ---- replacement (D-A2) -----------------------------------------------------------------------


def test_replacement_takes_the_old_units_place_and_both_keep_their_history(client, auth):
    school = make_school(client, auth)
    neighbour = make_lamp(client, auth, school["school_id"], room_id="A-101", position="1")
    old = make_lamp(client, auth, school["school_id"], room_id="A-101", position="2", configuration="36W 4000K")
    ticket = make_ticket(client, auth, school["school_id"], [old["lamp_id"]])

    code, result = call(
        client,
        "POST",
        f"/lamps/{old['lamp_id']}/replacement",
        auth("engineer", "eng-1"),
        {
            "serial": "SN-NEW-1",
            "installed_on": "2026-01-05",
            "reason": "driver board burnt out (D-S2: swap, don't repair)",
            "ticket_id": ticket["ticket_id"],
        },
    )

    assert code == 201, result
    replaced, successor = result["replaced"], result["successor"]
    assert (replaced["lamp_id"], replaced["status"], replaced["successor_id"]) == (
        old["lamp_id"],
        "replaced",
        successor["lamp_id"],
    )
    assert successor["predecessor_id"] == old["lamp_id"]
    assert successor["status"] == "in_service"
    assert (successor["room_id"], successor["position"]) == ("A-101", "2")
    assert (successor["model"], successor["configuration"]) == (old["model"], "36W 4000K")
    assert successor["serial"] == "SN-NEW-1"
    assert successor["asset_no"] not in (old["asset_no"], neighbour["asset_no"])
    assert successor["asset_no"].startswith(f"{school['code']}-")
    assert successor["qr_token"] != old["qr_token"]
    assert successor["warranty"]["ends_on"] == "2031-01-05"  # a new unit's warranty runs from its installation
    assert successor["open_tickets"] == 0

    # the room shows the successor in the old unit's place, not the old unit
    room = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps?room_id=A-101", auth("manager")))["items"]
    assert {lamp["lamp_id"] for lamp in room} == {neighbour["lamp_id"], successor["lamp_id"]}
    assert ok(call(client, "GET", f"/lamps/{successor['lamp_id']}", auth("manager"))) == successor
    assert ok(call(client, "GET", f"/r/{successor['qr_token']}", {}))["lamp"]["asset_no"] == successor["asset_no"]

    # the old unit is still on record, with its whole history and a link to its successor
    still_there = ok(call(client, "GET", f"/lamps/{old['lamp_id']}", auth("manager")))
    assert (still_there["status"], still_there["successor_id"]) == ("replaced", successor["lamp_id"])
    old_history = history_of(client, auth, old["lamp_id"])
    assert [h["kind"] for h in old_history] == ["registered", "ticket_opened", "replaced"]
    assert old_history[-1]["ref"] == successor["lamp_id"]
    assert old_history[-1]["actor"] == "eng-1"
    assert old_history[-1]["data"]["ticket_id"] == ticket["ticket_id"]
    assert "SN-NEW-1" in old_history[-1]["summary"]
    new_history = history_of(client, auth, successor["lamp_id"])
    assert [(h["kind"], h["ref"]) for h in new_history] == [("installed_as_replacement", old["lamp_id"])]
    assert old["serial"] in new_history[0]["summary"]

    page = ok(call(client, "GET", f"/lamps/{successor['lamp_id']}/history", auth("manager")))
    assert page["lamp"]["predecessor_id"] == old["lamp_id"]


def test_a_replacement_can_be_replaced_in_turn_but_a_replaced_lamp_cannot(client, auth):
    school = make_school(client, auth)
    first = make_lamp(client, auth, school["school_id"])
    second = ok(
        call(
            client,
            "POST",
            f"/lamps/{first['lamp_id']}/replacement",
            auth("dispatcher"),
            {"serial": "SN-R2", "installed_on": "2026-01-05"},
        ),
        201,
    )["successor"]

    code, body = call(
        client,
        "POST",
        f"/lamps/{first['lamp_id']}/replacement",
        auth("dispatcher"),
        {"serial": "SN-R3", "installed_on": "2026-01-06"},
    )

    assert code == 409
    assert body["error"]["current_status"] == "replaced"
    assert body["error"]["successor_id"] == second["lamp_id"]

    third = ok(
        call(
            client,
            "POST",
            f"/lamps/{second['lamp_id']}/replacement",
            auth("dispatcher"),
            {"serial": "SN-R3", "installed_on": "2026-01-06", "model": "EP-LED-45"},
        ),
        201,
    )["successor"]
    assert third["model"] == "EP-LED-45"
    assert third["predecessor_id"] == second["lamp_id"]
    listed = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps", auth("manager")))["items"]
    assert [lamp["lamp_id"] for lamp in listed] == [third["lamp_id"]]


def test_replacement_with_an_already_registered_serial_is_a_409_and_changes_nothing(client, auth):
    school = make_school(client, auth)
    old = make_lamp(client, auth, school["school_id"], position="1")
    other = make_lamp(client, auth, school["school_id"], position="2")

    code, body = call(
        client,
        "POST",
        f"/lamps/{old['lamp_id']}/replacement",
        auth("engineer"),
        {"serial": other["serial"], "installed_on": "2026-01-05"},
    )

    assert code == 409, body
    assert [d["field"] for d in body["error"]["details"]] == ["serial"]  # a retry cannot help: say why
    unchanged = ok(call(client, "GET", f"/lamps/{old['lamp_id']}", auth("manager")))
    assert (unchanged["status"], unchanged["successor_id"]) == ("in_service", None)
    listed = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps", auth("manager")))["items"]
    assert {lamp["lamp_id"] for lamp in listed} == {old["lamp_id"], other["lamp_id"]}
    assert [h["kind"] for h in history_of(client, auth, old["lamp_id"])] == ["registered"]
    assert other["serial"] in body["error"]["message"]


# ---- history (D-A2) ---------------------------------------------------------------------------


def test_history_is_chronological_and_includes_the_tickets_on_that_lamp_only(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"], position="1")
    other = make_lamp(client, auth, school["school_id"], position="2")
    make_user("eng-1", "engineer")
    ticket = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    other_ticket = make_ticket(client, auth, school["school_id"], [other["lamp_id"]])
    ok(call(client, "POST", f"/lamps/{lamp['lamp_id']}/qr-token", auth("admin")))
    ticket = ok(transition(client, auth, ticket, "triage", level=3, category="hardware_fault"))
    ticket = ok(transition(client, auth, ticket, "assign", assignee_id="eng-1"))
    ticket = ok(transition(client, auth, ticket, "acknowledge", "engineer", "eng-1"))
    ticket = ok(transition(client, auth, ticket, "resolve", "engineer", "eng-1", note="Swapped the driver board"))

    history = history_of(client, auth, lamp["lamp_id"])

    assert [h["kind"] for h in history] == ["registered", "ticket_opened", "qr_rotated", "ticket_resolve"]
    times = [parse_time(h["at"]) for h in history]
    assert times == sorted(times)
    opened, resolved = history[1], history[3]
    assert (opened["ref"], opened["data"]["ticket_id"]) == (ticket["ref"], ticket["ticket_id"])
    assert (resolved["ref"], resolved["actor"], resolved["summary"]) == (
        ticket["ref"],
        "eng-1",
        "Swapped the driver board",
    )
    assert all(other_ticket["ref"] != h["ref"] for h in history)
    assert history_of(client, auth, lamp["lamp_id"], limit=1) == history  # one entry a page, same record

    other_history = history_of(client, auth, other["lamp_id"])
    assert [(h["kind"], h["ref"]) for h in other_history] == [
        ("registered", ""),
        ("ticket_opened", other_ticket["ref"]),
    ]


# ---- who may do what ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "method", "path", "expected"),
    [
        ("engineer", "POST", "/schools", 403),
        ("dispatcher", "POST", "/schools", 403),
        ("dispatcher", "POST", "/contracts", 403),
        ("engineer", "POST", "/lamps", 403),
        ("manager", "POST", "/lamps/{lamp_id}/replacement", 403),
        ("parts_manager", "POST", "/lamps/{lamp_id}/qr-token", 403),
        (None, "GET", "/schools", 401),
        (None, "GET", "/lamps/{lamp_id}", 401),
        (None, "POST", "/lamps/{lamp_id}/replacement", 401),
        ("garbage", "GET", "/schools/{school_id}", 401),
    ],
)
def test_roles_and_tokens_are_enforced(client, auth, role, method, path, expected):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    bodies = {
        "/schools": {
            "contract_id": school["contract_id"],
            "code": "NEW",
            "name": "x",
            "address": "1 Road",
            "latitude": 31.2,
            "longitude": 121.4,
        },
        "/contracts": {"code": "P9", "name": "x"},
        "/lamps": lamp_body(school["school_id"], serial="SN-NEW"),
        "/lamps/{lamp_id}/replacement": {"serial": "SN-NEW", "installed_on": "2026-01-05"},
    }
    if role is None:
        headers = {"Content-Type": "application/json"}
    elif role == "garbage":
        headers = {"Content-Type": "application/json", "Authorization": "Bearer not.a.token"}
    else:
        headers = auth(role)

    code, body = call(
        client,
        method,
        path.format(lamp_id=lamp["lamp_id"], school_id=school["school_id"]),
        headers,
        bodies.get(path) if method == "POST" else None,
    )

    assert code == expected, body
    assert body["error"]["code"] == ("forbidden" if expected == 403 else "unauthenticated")
    after = ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth("manager")))
    assert (after["status"], after["qr_token"]) == ("in_service", lamp["qr_token"])
    assert len(ok(call(client, "GET", "/schools", auth("manager")))["items"]) == 1


def test_every_staff_role_can_read_the_registry_and_an_engineer_can_replace(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    for role in ("engineer", "expert", "dispatcher", "parts_manager", "project_lead", "manager", "admin"):
        assert ok(call(client, "GET", f"/schools/{school['school_id']}", auth(role)))["code"] == school["code"]
        assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth(role)))["serial"] == lamp["serial"]
        assert (
            ok(call(client, "GET", f"/contracts/{school['contract_id']}", auth(role)))["contract_id"]
            == school["contract_id"]
        )

    ok(
        call(
            client,
            "POST",
            f"/lamps/{lamp['lamp_id']}/replacement",
            auth("engineer"),
            {"serial": "SN-BY-ENGINEER", "installed_on": "2026-01-05"},
        ),
        201,
    )


def test_a_rooms_lamps_are_listed_in_the_order_people_number_them(client, auth):
    """Position 2 comes before 10 (labels and work lists read the same way); named spots sort after."""
    school = make_school(client, auth)
    for position in ["10", "2", "1", "front-left", "11"]:
        make_lamp(client, auth, school["school_id"], room_id="B-201", position=position)
    listed = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps?room_id=B-201", auth("engineer")))["items"]
    assert [lamp["position"] for lamp in listed] == ["1", "2", "10", "11", "front-left"]
    for room in ["B-1001", "B-21"]:
        make_lamp(client, auth, school["school_id"], room_id=room, position="1")
    whole = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps", auth("engineer")))["items"]
    assert list(dict.fromkeys(lamp["room_id"] for lamp in whole)) == ["B-21", "B-201", "B-1001"]
