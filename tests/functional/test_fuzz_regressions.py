"""What a fuzzer (schemathesis on openapi.yaml, and hand probes) made the API answer with a 5xx.

Each test is one cause: bad input must get a 4xx in the one error shape, naming what is wrong, or be
served as the valid input it also is; never an internal error.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.functional.factories import call, drive, make_school, make_ticket, make_user, ok, transition
from tests.workbooks import package, row_xml, worksheet

CSV_HEADER = "room_id,position,model,serial,installed_on,accepted_on\n"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HEADER_CELLS = ["room_id", "position", "model", "serial", "installed_on", "accepted_on"]


def post_import(client: Any, auth: Any, school_id: str, body: bytes, content_type: str) -> tuple[int, Any]:
    response = client.http.post(
        f"/schools/{school_id}/lamps/import?mode=all_or_nothing",
        headers={**auth("admin"), "Content-Type": content_type},
        body=body,
    )
    return response.status_code, response.json_body


# ---- equipment-list imports -------------------------------------------------------------------------


def test_a_csv_declared_in_a_charset_that_cannot_decode_text_is_read_as_utf8(client, auth):
    """`undefined` and `punycode` are codecs Python knows, but they raise a bare UnicodeError (not a
    UnicodeDecodeError): the declaration is ignored as an unknown one is, and the list still imports."""
    school = make_school(client, auth)
    for number, charset in enumerate(["undefined", "punycode"]):
        body = f"{CSV_HEADER}A-101,{number},EP-LED-40,SN-CHARSET-{number},2025-08-18,2025-09-01\n".encode()

        code, report = post_import(client, auth, school["school_id"], body, f"text/csv; charset={charset}")

        assert code == 200, (charset, report)
        assert report["created"] == 1


def test_an_xlsx_row_numbered_infinity_is_refused_as_unreadable(client, auth):
    school = make_school(client, auth)
    rows = row_xml(1, HEADER_CELLS) + row_xml(2, ["A-101", "1", "EP-LED-40", "SN-INF-1", "2025-08-18", "2025-09-01"])
    for number in ("inf", "1e400"):
        body = package(worksheet(rows.replace('<row r="2">', f'<row r="{number}">')))

        code, refusal = post_import(client, auth, school["school_id"], body, XLSX)

        assert code == 422, refusal
        assert refusal["error"]["details"] == [{"field": "(body)", "problem": "not XLSX"}]


def test_an_xlsx_cell_pointing_past_the_shared_strings_is_refused_as_unreadable(client, auth):
    school = make_school(client, auth)
    strings = "".join(f"<si><t>{text}</t></si>" for text in HEADER_CELLS)
    table = f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}</sst>'
    header = "".join(f'<c r="{column}1" t="s"><v>{index}</v></c>' for index, column in enumerate("ABCDEF"))
    for index in ("6", "-7"):  # one past the table; before its start
        rows = f'<row r="1">{header}</row><row r="2"><c r="A2" t="s"><v>{index}</v></c></row>'
        body = package(worksheet(rows), shared_strings=table)

        code, refusal = post_import(client, auth, school["school_id"], body, XLSX)

        assert code == 422, refusal
        assert refusal["error"]["details"] == [{"field": "(body)", "problem": "not XLSX"}]
    assert ok(call(client, "GET", f"/schools/{school['school_id']}/lamps", auth("admin")))["items"] == []


# ---- lamps' dates ----------------------------------------------------------------------------------------


def test_a_lamp_date_whose_warranty_would_end_past_year_9999_is_422_naming_the_date(client, auth):
    """A warranty ends years after acceptance (D-W1): 9999-12-31 had no end date, and the registration failed."""
    school = make_school(client, auth)
    lamp = {"school_id": school["school_id"], "room_id": "A-101", "model": "EP-LED-40"}
    far = {"installed_on": "2025-08-18", "accepted_on": "9999-12-31"}
    code, refusal = call(
        client, "POST", "/lamps", auth("admin"), {**lamp, "position": "1", "serial": "SN-FAR-1", **far}
    )
    assert code == 422, refusal
    assert [d["field"] for d in refusal["error"]["details"]] == ["accepted_on"]

    body = f"{CSV_HEADER}A-101,2,EP-LED-40,SN-FAR-2,2025-08-18,9999-12-31\n".encode()
    code, refusal = post_import(client, auth, school["school_id"], body, "text/csv")
    assert code == 422, refusal
    assert [(r["row"], r["column"]) for r in refusal["error"]["rows"]] == [(2, "accepted_on")]

    installed = ok(
        call(
            client,
            "POST",
            "/lamps",
            auth("admin"),
            {**lamp, "position": "3", "serial": "SN-FAR-3", "installed_on": "2025-08-18", "accepted_on": "2025-09-01"},
        ),
        201,
    )
    replacement = {"serial": "SN-FAR-4", "installed_on": "9999-12-31"}
    code, refusal = call(client, "POST", f"/lamps/{installed['lamp_id']}/replacement", auth("admin"), replacement)
    assert code == 422, refusal
    assert [d["field"] for d in refusal["error"]["details"]] == ["installed_on"]


# ---- ticket transitions ----------------------------------------------------------------------------------


def test_an_expected_arrival_too_far_ahead_to_store_is_422_naming_eta(client, auth):
    """9999-12-31T23:59:59-12:00 is year 10000 in UTC: the ticket could not be written and depart was a 500.
    An arrival more than 30 days ahead is refused as the typo it is; the ticket stays as it was."""
    make_user("eng-1", "engineer")
    ticket = drive(client, auth, make_ticket(client, auth, make_school(client, auth)["school_id"]), "acknowledged")
    for eta in ("9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59Z", "2999-01-01T08:00:00+08:00"):
        code, refusal = transition(client, auth, ticket, "depart", role="engineer", sub="eng-1", eta=eta)

        assert code == 422, (eta, refusal)
        assert [d["field"] for d in refusal["error"]["details"]] == ["eta"]
    unchanged = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}", auth("dispatcher")))
    assert (unchanged["status"], unchanged["version"], unchanged["eta"]) == ("acknowledged", ticket["version"], None)


# ---- ids longer than DynamoDB takes as a key ----------------------------------------------------------------

# DynamoDB refuses a read whose key value is over 2,048 bytes (a ValidationException: a 500 on AWS); moto checks
# only writes, so these tests run with local_aws' key_limits(), which makes its reads refuse as DynamoDB does.
TOO_LONG_IDS = ["x" * 3000, "中" * 700]  # 3,000 bytes; 700 characters of 2,100 bytes


@pytest.fixture
def dynamodb_key_limits(aws):
    from local_aws.moto_patches import key_limits

    with key_limits():
        yield


def _path_operations() -> list[Any]:
    import app  # noqa: F401 - declaring the routes fills OPERATIONS
    from chalicelib.handlers._api import OPERATIONS

    return [op for op in OPERATIONS if "{" in op.path]


def _a_role_allowed(op: Any) -> str:
    """A role the route lets in: its roles are checked before its path (an engineer's route refuses an admin)."""
    if op.roles is None or "admin" in {r.value for r in op.roles}:
        return "admin"
    return sorted(r.value for r in op.roles if r.value != "school_staff")[0]


def test_a_path_id_longer_than_any_id_is_404_naming_it_on_every_route(client, auth, dynamodb_key_limits):
    operations = _path_operations()
    assert len(operations) >= 15
    for op in operations:
        for too_long in TOO_LONG_IDS:
            names = re.findall(r"{(\w+)}", op.path)
            path = op.path
            for name in names:
                path = path.replace(f"{{{name}}}", too_long + (".json" if name == "service_request_file" else ""))
            headers = {**auth(_a_role_allowed(op)), "Content-Type": "application/json"}
            response = getattr(client.http, op.method.lower())(path, headers=headers, body="{}")

            assert response.status_code == 404, (op.method, op.path, response.body[:300])
            assert all(name.encode() in response.body for name in names), response.body


def test_open311_values_longer_than_any_key_name_nothing(client, auth, dynamodb_key_limits):
    from chalicelib.services import open311

    _, api_key = open311.issue_partner_key("Long ids platform")
    for too_long in TOO_LONG_IDS:
        response = client.http.get(f"/open311/v2/requests.json?{urlencode({'service_request_id': too_long})}")
        assert (response.status_code, response.json_body) == (200, [])

        form = {"api_key": api_key, "service_code": "not_lit", "address_id": too_long}
        response = client.http.post("/open311/v2/requests.json", headers=FORM, body=urlencode(form))
        assert response.status_code == 404, response.body


# ---- SLA policies --------------------------------------------------------------------------------------


def test_a_calendar_with_too_little_working_time_for_the_targets_is_422_not_a_500_on_every_report(client, auth):
    """One working minute a week cannot hold a year-long target within the 30 years deadlines are counted
    in: every ticket of the contract failed (ValueError, a 500). The policy is refused where it is written."""
    sparse = {"working_days": [1], "working_hours": [{"start": "08:00", "end": "08:01"}]}
    year = {"response_minutes": 527040, "onsite_minutes": 527040}
    policy = {"levels": {str(level): year for level in (1, 2, 3, 4)}, "calendar": sparse}

    code, refusal = call(
        client, "POST", "/contracts", auth("admin"), {"code": "PSPARSE", "name": "x", "policy": policy}
    )
    assert code == 422, refusal
    assert "calendar" in refusal["error"]["details"][0]["problem"]

    contract = ok(call(client, "POST", "/contracts", auth("admin"), {"code": "PSPARSE2", "name": "x"}), 201)
    current = ok(call(client, "GET", f"/contracts/{contract['contract_id']}/sla-policy", auth("admin")))
    code, refusal = call(
        client,
        "PUT",
        f"/contracts/{contract['contract_id']}/sla-policy",
        auth("admin"),
        {"revision": current["revision"], "policy": policy},
    )
    assert code == 422, refusal

    # the same week of working time holds a week-long target: the policy stands and tickets get deadlines
    week = {"response_minutes": 60, "onsite_minutes": 7 * 24 * 60}
    working = {
        **policy,
        "levels": {str(level): week for level in (1, 2, 3, 4)},
        "calendar": {**sparse, "working_hours": [{"start": "08:00", "end": "18:00"}]},
    }
    ok(
        call(
            client,
            "PUT",
            f"/contracts/{contract['contract_id']}/sla-policy",
            auth("admin"),
            {"revision": current["revision"], "policy": working},
        )
    )
    school = make_school(client, auth, contract_id=contract["contract_id"])
    assert make_ticket(client, auth, school["school_id"])["onsite_due"]


# ---- Open311 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start_date": "9999-12-31"}, "start_date"),  # + 90 days: past datetime's last year
        ({"end_date": "0001-01-01"}, "end_date"),  # - 90 days: before its first
        ({"start_date": "9999-12-31T23:59:59-12:00"}, "start_date"),  # in UTC: year 10000
        ({"end_date": "0001-01-01T00:00:00+12:00"}, "end_date"),  # in UTC: year 0
        ({"start_date": "0001-01-01T00:00:00+01:00", "end_date": "0001-01-02T00:00:00Z"}, "start_date"),
    ],
)
def test_open311_list_dates_at_the_ends_of_the_calendar_are_400_naming_the_date(client, query, field):
    for fmt in ("json", "xml"):
        response = client.http.get(f"/open311/v2/requests.{fmt}?{urlencode(query)}")

        assert response.status_code == 400, response.body
        if fmt == "json":
            assert any(field in e["description"] and "out of range" in e["description"] for e in response.json_body)
