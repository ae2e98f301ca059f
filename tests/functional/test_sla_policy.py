"""SLA policies through the API (D-S5): getSlaPolicy / putSlaPolicy, admin only, validated, revised; a
new revision governs the tickets reported after it and no other (D-S3)."""

from __future__ import annotations

import copy
import datetime as dt

from tests.functional.factories import call, make_contract, make_lamp, make_school, make_ticket, ok, transition

CENTRE = {"name": "Pudong service centre", "latitude": 31.2304, "longitude": 121.4737, "province": "上海市"}


def policy_url(contract_id: str) -> str:
    return f"/contracts/{contract_id}/sla-policy"


def since_report(ticket: dict, field: str) -> dt.timedelta:
    return dt.datetime.fromisoformat(ticket[field]) - dt.datetime.fromisoformat(ticket["reported_at"])


def put_policy(client, auth, contract_id: str, policy: dict, revision: int, role: str = "admin"):
    return call(client, "PUT", policy_url(contract_id), auth(role, "admin-1"), {"revision": revision, "policy": policy})


def test_a_new_contract_has_the_default_policy_as_revision_1_readable_by_staff(client, auth):
    contract = make_contract(client, auth)
    for role in ("manager", "engineer", "dispatcher"):
        read = ok(call(client, "GET", policy_url(contract["contract_id"]), auth(role)))
        assert (read["contract_id"], read["revision"], read["updated_by"]) == (contract["contract_id"], 1, None)
    assert read["updated_at"] == contract["created_at"]
    levels = read["policy"]["levels"]
    assert {k: (v["response_minutes"], v["onsite_minutes"]) for k, v in levels.items()} == {
        "4": (5, 10),  # red's "immediate" is the hotline's 5 minutes (D-S5)
        "3": (10, 20),
        "2": (20, 40),
        "1": (30, 60),
    }
    assert read["policy"]["calendar"]["name"] == "7x24"
    assert [s["tier"] for s in read["policy"]["escalation"]] == ["line_2", "project_lead", "technical_manager"]


def test_only_an_admin_may_change_the_policy(client, auth):
    contract = make_contract(client, auth)
    policy = ok(call(client, "GET", policy_url(contract["contract_id"]), auth("admin")))["policy"]
    for role in ("dispatcher", "manager", "project_lead", "engineer"):
        code, body = put_policy(client, auth, contract["contract_id"], policy, 1, role=role)
        assert (code, body["error"]["code"]) == (403, "forbidden"), role
    code, body = call(client, "GET", policy_url(contract["contract_id"]), {})
    assert code == 401
    assert ok(put_policy(client, auth, contract["contract_id"], policy, 1))["revision"] == 2


def test_an_invalid_policy_is_refused_naming_the_field(client, auth):
    contract = make_contract(client, auth)
    good = ok(call(client, "GET", policy_url(contract["contract_id"]), auth("admin")))["policy"]

    def problems(policy: dict) -> dict[str, str]:
        code, body = put_policy(client, auth, contract["contract_id"], policy, 1)
        assert code == 422, body
        return {d["field"]: d["problem"] for d in body["error"]["details"]}

    immediate = copy.deepcopy(good)
    immediate["levels"]["4"]["response_minutes"] = 0
    assert "greater than 0" in problems(immediate)["policy.levels.4.response_minutes"]

    clash = copy.deepcopy(good)
    clash["calendar"] = {"holidays": ["2025-10-01"], "makeup_days": ["2025-10-01"]}
    assert "both a holiday and a make-up" in problems(clash)["policy.calendar.makeup_days"]

    far_without_centre = copy.deepcopy(good)
    far_without_centre["overrides"] = [{"when": {"beyond_km": 100}, "terms": {"onsite_minutes": 4320}}]
    assert "service_centre" in problems(far_without_centre)["policy.overrides"]

    typo = copy.deepcopy(good)
    typo["levels"]["2"]["onsite_minuts"] = 30
    assert "policy.levels.2.onsite_minuts" in problems(typo)

    unknown_role = copy.deepcopy(good)
    unknown_role["levels"]["3"]["notify_roles"] = ["boss"]
    assert "policy.levels.3.notify_roles.0" in problems(unknown_role)

    # nothing was written
    assert ok(call(client, "GET", policy_url(contract["contract_id"]), auth("admin")))["revision"] == 1


def test_an_edit_based_on_an_old_revision_is_a_409_naming_the_current_one(client, auth):
    contract = make_contract(client, auth)
    policy = ok(call(client, "GET", policy_url(contract["contract_id"]), auth("admin")))["policy"]
    ok(put_policy(client, auth, contract["contract_id"], policy, 1))
    code, body = put_policy(client, auth, contract["contract_id"], policy, 1)
    assert (code, body["error"]["code"], body["error"]["current_version"]) == (409, "stale_version", 2)


def test_an_unknown_contract_has_no_policy(client, auth):
    code, body = call(client, "GET", policy_url("c_0000000000000000"), auth("admin"))
    assert (code, body["error"]["code"]) == (404, "not_found")


def test_a_new_revision_governs_tickets_reported_after_it_and_no_others(client, auth):
    """D-S3 + D-S5: an open ticket keeps its deadlines, and a level change on it still uses its own revision."""
    contract = make_contract(client, auth)
    school = make_school(client, auth, contract["contract_id"])
    before = make_ticket(client, auth, school["school_id"], level=2)
    assert since_report(before, "onsite_due") == dt.timedelta(minutes=40)

    policy = ok(call(client, "GET", policy_url(contract["contract_id"]), auth("admin")))["policy"]
    policy["levels"]["2"]["onsite_minutes"] = 90
    policy["levels"]["4"]["onsite_minutes"] = 30
    policy["levels"]["4"]["resolution_minutes"] = 720
    policy["levels"]["4"]["resolution_loaner"] = True  # D-S8
    revised = ok(put_policy(client, auth, contract["contract_id"], policy, 1))
    assert (revised["revision"], revised["updated_by"]) == (2, "admin-1")
    assert ok(call(client, "GET", policy_url(contract["contract_id"]), auth("manager"))) == revised

    after = make_ticket(client, auth, school["school_id"], level=2)
    assert since_report(after, "onsite_due") == dt.timedelta(minutes=90)
    unchanged = ok(call(client, "GET", f"/tickets/{before['ticket_id']}", auth("dispatcher")))
    assert (unchanged["onsite_due"], unchanged["response_due"]) == (before["onsite_due"], before["response_due"])

    old_red = ok(transition(client, auth, before, "change_level", level=4))
    new_red = ok(transition(client, auth, after, "change_level", level=4))
    assert since_report(old_red, "onsite_due") == dt.timedelta(minutes=10)  # revision 1's red
    assert old_red["resolution_due"] is None
    assert since_report(new_red, "onsite_due") == dt.timedelta(minutes=30)  # revision 2's red
    assert since_report(new_red, "resolution_due") == dt.timedelta(hours=12)


def test_distance_and_province_rules_use_the_schools_position_and_province(client, auth):
    contract = make_contract(client, auth)
    policy = ok(call(client, "GET", policy_url(contract["contract_id"]), auth("admin")))["policy"]
    policy["service_centre"] = CENTRE
    policy["overrides"] = [
        {"name": "beyond 100 km", "when": {"beyond_km": 100}, "terms": {"onsite_minutes": 72 * 60}},
        {"name": "out of province", "when": {"region": "out_of_province"}, "terms": {"response_minutes": 720}},
    ]
    ok(put_policy(client, auth, contract["contract_id"], policy, 1))
    # 80 km and 150 km north of the centre; the far one across the border in Jiangsu
    near = make_school(client, auth, contract["contract_id"], latitude=31.2304 + 80 / 111.195, province="上海")
    far = make_school(
        client, auth, contract["contract_id"], latitude=31.2304 + 150 / 111.195, longitude=121.4737, province="江苏省"
    )
    assert far["province"] == "江苏省"

    near_ticket = make_ticket(client, auth, near["school_id"], level=2)
    far_ticket = make_ticket(client, auth, far["school_id"], level=2)
    assert (since_report(near_ticket, "response_due"), since_report(near_ticket, "onsite_due")) == (
        dt.timedelta(minutes=20),
        dt.timedelta(minutes=40),
    )
    assert (since_report(far_ticket, "response_due"), since_report(far_ticket, "onsite_due")) == (
        dt.timedelta(hours=12),
        dt.timedelta(hours=72),
    )
    # the school's facts at the report stay with the ticket: a level change keeps the zone
    raised = ok(transition(client, auth, far_ticket, "change_level", level=4))
    assert since_report(raised, "onsite_due") == dt.timedelta(hours=72)


def test_a_contract_stored_before_sla_rules_still_works(client, auth):
    """A stored policy of the first shape (red "immediate" = 0 minutes) loads, governs tickets, and is kept as
    revision 1 for its tickets when it is first revised."""
    from chalicelib.models.access import ContractModel
    from chalicelib.models.base import bind_tables

    bind_tables()
    ContractModel(
        "c_firstshape000001",
        code="OLD-1",
        name="Contract from before SLA rules",
        policy={
            "levels": {
                "4": {"response_minutes": 0, "onsite_minutes": 10, "notify_roles": ["parts_manager", "manager"]},
                "3": {"response_minutes": 10, "onsite_minutes": 20, "notify_roles": []},
                "2": {"response_minutes": 20, "onsite_minutes": 40, "notify_roles": []},
                "1": {"response_minutes": 30, "onsite_minutes": 60, "notify_roles": []},
            },
            "default_level": 3,
        },
        warranty={"years": 5},
        created_at=dt.datetime(2025, 9, 1, tzinfo=dt.UTC),
    ).save()
    read = ok(call(client, "GET", policy_url("c_firstshape000001"), auth("admin")))
    assert (read["revision"], read["policy"]["levels"]["4"]["response_minutes"]) == (1, 5)
    assert ok(call(client, "GET", "/contracts/c_firstshape000001", auth("admin")))["policy"] == read["policy"]

    school = make_school(client, auth, "c_firstshape000001")
    lamp = make_lamp(client, auth, school["school_id"])
    ticket = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    assert (ticket["level"], since_report(ticket, "onsite_due")) == (3, dt.timedelta(minutes=20))

    policy = read["policy"]
    policy["levels"]["4"]["onsite_minutes"] = 45
    ok(put_policy(client, auth, "c_firstshape000001", policy, 1))
    red = ok(transition(client, auth, ticket, "change_level", level=4))
    assert (since_report(red, "response_due"), since_report(red, "onsite_due")) == (
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=10),
    )
