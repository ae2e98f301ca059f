"""The parts report (issue 13.3): parts used by the cases' work records (D-P2), by school, contract and
engineer and month, with every depot's stock against D-P1's 3 %; as JSON and CSV."""

from __future__ import annotations

import csv
import io

from tests.functional.factories import call, ok
from tests.functional.test_visit import ENGINEER, _eta, _stock_for, assigned_ticket, post


def test_parts_used_by_a_visit_are_reported_by_school_and_engineer_with_the_depots_stock(client, auth):
    school, lamp, ticket = assigned_ticket(client, auth)
    tid = ticket["ticket_id"]
    _stock_for(client, auth, ENGINEER, "DRV-40", 5, [lamp["model"]])
    for path, body in [
        ("acknowledge", {}),
        ("travel", {"eta": _eta()}),
        ("check-in", {"lat": 31.2310, "lon": 121.4740, "accuracy_m": 25}),
        (
            "work",
            {
                "cause": "driver",
                "category": "hardware_fault",
                "actions": "swap",
                "parts": [{"sku": "DRV-40", "qty": 2}],
            },
        ),
    ]:
        ok(post(client, auth, f"/tickets/{tid}/{path}", body))

    report = ok(call(client, "GET", f"/reports/parts?school_id={school['school_id']}", auth("parts_manager")))
    used = [{"sku": "DRV-40", "name": "驱动电源 DRV-40", "quantity": 2, "tickets": 1}]
    assert report["months"][0]["parts"] == used and report["total"] == used
    depot = next(d for d in report["depots"] if d["name"] == "depot DRV-40")
    assert [(i["sku"], i["quantity"]) for i in depot["items"]] == [("DRV-40", 0)]  # all issued to the van
    engineer = ok(call(client, "GET", f"/reports/parts?engineer_id={ENGINEER}", auth("manager")))
    assert engineer["total"] == used

    response = client.http.get(f"/reports/parts?school_id={school['school_id']}&format=csv", headers=auth("manager"))
    assert response.body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert [(r["month"] == "total", r["sku"], r["name"], r["quantity"]) for r in rows] == [
        (False, "DRV-40", "驱动电源 DRV-40", "2"),
        (True, "DRV-40", "驱动电源 DRV-40", "2"),
    ]
    code, body = call(client, "GET", "/reports/parts?level=2", auth("manager"))
    assert code == 400 and body["error"]["details"][0]["field"] == "query.level"
