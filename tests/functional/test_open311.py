"""Open311 GeoReport v2 through the API (issue 9): partner platforms file and follow reports with the clients
they already have. Every answer is also checked against openapi.yaml (JSON by schema, XML read back through
the schema's `xml` annotations: tests/contract.py)."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest

from local_aws.calls import record_calls
from tests.functional.factories import api_world, call, drive, make_lamp, make_school, make_ticket, make_user, ok

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
FAULTS = {"not_lit", "flickering", "dim", "noise", "physical_damage", "controller_fault", "other", "room_dark"}


def issue_key(name: str = "Jing'an district 12345 platform") -> tuple[str, str]:
    from chalicelib.services import open311

    return open311.issue_partner_key(name)


def post(client: Any, fmt: str = "json", headers: dict[str, str] | None = None, **fields: str) -> Any:
    return client.http.post(f"/open311/v2/requests.{fmt}", headers=headers or FORM, body=urlencode(fields))


def get(client: Any, path: str, **query: str) -> Any:
    return client.http.get(f"/open311/v2/{path}" + (f"?{urlencode(query)}" if query else ""))


def body_json(response: Any) -> Any:
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.body)


def body_xml(response: Any) -> ET.Element:
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(response.body)


def records(root: ET.Element) -> list[dict[str, str]]:
    """<service_requests><request>...</request></service_requests> as text fields per element."""
    return [{field.tag: field.text or "" for field in item} for item in root]


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.body
    return [r["service_request_id"] for r in body_json(response)]


def w3(at: str) -> str:
    """An API time (ISO, maybe with fractions) as Open311 writes it: UTC, whole seconds, Z."""
    return dt.datetime.fromisoformat(at).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- discovery and services ------------------------------------------------------------------------------


def test_discovery_names_this_endpoint_its_spec_and_both_formats(client):
    discovery = body_json(get(client, "discovery.json"))
    (endpoint,) = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["formats"] == ["text/xml", "application/json"]
    assert discovery["key_service"] and discovery["contact"] and discovery["changeset"]

    root = body_xml(get(client, "discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/url") == endpoint["url"]


def test_the_service_list_has_one_realtime_service_per_fault_in_json_and_xml(client):
    services = body_json(get(client, "services.json"))
    assert {s["service_code"] for s in services} == FAULTS
    assert all(s["metadata"] is False and s["type"] == "realtime" for s in services)
    assert all(isinstance(s["keywords"], str) and s["service_name"] and s["group"] for s in services)
    dark = next(s for s in services if s["service_code"] == "room_dark")
    assert "不亮" in dark["keywords"]  # Chinese synonyms: what a bureau's operator types

    root = body_xml(get(client, "services.xml"))
    assert root.tag == "services" and {child.tag for child in root} == {"service"}
    as_xml = {s.findtext("service_code"): s for s in root}
    assert set(as_xml) == FAULTS
    assert as_xml["room_dark"].findtext("metadata") == "false"
    assert as_xml["room_dark"].findtext("keywords") == dark["keywords"]


# ---- POST requests ----------------------------------------------------------------------------------------


@pytest.fixture
def lamp(client, auth):
    school = make_school(client, auth, name="上海市静安区第一中心小学", latitude=31.2304, longitude=121.4532)
    made = make_lamp(client, auth, school["school_id"], room_id="B-201")
    return {**made, "school": school}


def test_a_request_filed_through_open311_becomes_a_ticket_and_reads_back_in_open311_terms(client, auth, lamp):
    partner_id, api_key = issue_key()
    response = post(
        client,
        api_key=api_key,
        service_code="flickering",
        address_id=lamp["asset_no"],
        description="The lamp above the blackboard flickers",
        phone="+86 138 0013 8000",
        first_name="Hua",
        last_name="Li",
        jurisdiction_id="jingan.gov.cn",
        email="li.hua@example.cn",
        **{"attribute[x]": "ignored"},
    )
    assert response.status_code == 200, response.body
    ((created),) = body_json(response)
    ref = created["service_request_id"]
    assert created["account_id"] is None and ref in created["service_notice"]

    # Staff see an ordinary school report, its level suggested from the fault (D-S3), the partner in the trail.
    ticket = ok(call(client, "GET", f"/tickets/{ref}", auth("dispatcher")))
    assert (ticket["source"], ticket["category"], ticket["lamp_ids"]) == (
        "school_report",
        "flickering",
        [lamp["lamp_id"]],
    )
    assert ticket["level"] == 1 and ticket["level_confirmed"] is False
    assert ticket["reporter"]["name"] == "Hua Li" and ticket["reporter"]["phone"] == "+86 138 0013 8000"
    events = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/events", auth()))["items"]
    assert (events[0]["action"], events[0]["actor"], events[0]["after"]["partner"]) == (
        "create",
        f"partner:{partner_id}",
        partner_id,
    )

    (as_json,) = body_json(get(client, f"requests/{ref}.json"))
    assert as_json == {
        "service_request_id": ref,
        "status": "open",
        "status_notes": "Received; the service centre will triage it.",
        "service_name": "Lamp flickering",
        "service_code": "flickering",
        "description": "The lamp above the blackboard flickers",
        "agency_responsible": "LampCare after-sales service centre",
        "service_notice": as_json["service_notice"],
        "requested_datetime": w3(ticket["reported_at"]),
        "updated_datetime": w3(ticket["updated_at"]),
        "expected_datetime": w3(ticket["onsite_due"]),  # the on-site deadline
        "address": f"B-201, 上海市静安区第一中心小学, {lamp['school']['address']}",
        "address_id": lamp["asset_no"],
        "zipcode": None,
        "lat": 31.2304,
        "long": 121.4532,
        "media_url": None,  # photos are private
    }
    assert "Hua" not in json.dumps(as_json) and "138" not in json.dumps(as_json)  # no personal data in public

    root = body_xml(get(client, f"requests/{ref}.xml"))
    assert root.tag == "service_requests"
    (as_xml,) = records(root)
    assert list(as_xml) == list(as_json)  # the spec's fields, in its order
    assert as_xml == {k: "" if v is None else str(v) for k, v in as_json.items()}


def test_a_second_request_on_a_lamp_with_an_open_case_joins_it(client, auth, lamp):
    _, api_key = issue_key()
    fields = {"api_key": api_key, "service_code": "not_lit", "address_id": lamp["asset_no"]}
    first = body_json(post(client, **fields))[0]["service_request_id"]
    again = post(client, "xml", **fields, description="Still dark")
    (joined,) = records(body_xml(again))
    assert joined["service_request_id"] == first and "already open" in joined["service_notice"]
    assert joined["account_id"] == ""
    ticket = ok(call(client, "GET", f"/tickets/{first}", auth("dispatcher")))
    assert ticket["lamp_ids"] == [lamp["lamp_id"]]
    events = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/events", auth()))["items"]
    assert [e["action"] for e in events] == ["create", "report_joined"]


def test_a_request_joining_a_case_an_inspection_opened_makes_it_a_request_partners_can_follow(client, auth, lamp):
    inspection = make_ticket(
        client, auth, lamp["school_id"], [lamp["lamp_id"]], source="inspection", category="hardware_fault"
    )
    assert get(client, f"requests/{inspection['ref']}.json").status_code == 404  # internal work, not a request
    assert ids(get(client, "requests.json")) == []
    _, api_key = issue_key()
    filed = post(client, api_key=api_key, service_code="dim", address_id=lamp["asset_no"])
    ref = body_json(filed)[0]["service_request_id"]
    assert ref == inspection["ref"]  # the lamp's open case, whoever opened it
    (followed,) = body_json(get(client, f"requests/{ref}.json"))
    assert (followed["service_code"], followed["status"]) == ("dim", "open")  # as the school reported it
    assert ids(get(client, "requests.json")) == [ref]


def test_a_qr_scan_and_an_open311_request_on_one_lamp_are_one_case(client, lamp):
    scanned = ok(
        call(client, "POST", f"/r/{lamp['qr_token']}/reports", {"Content-Type": "application/json"}, {"fault": "dim"}),
        201,
    )
    _, api_key = issue_key()
    filed = post(client, api_key=api_key, service_code="not_lit", address_id=lamp["asset_no"])
    assert body_json(filed)[0]["service_request_id"] == scanned["reference"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("api_key", [None, "", "not-a-key-anyone-was-given"])
def test_a_missing_or_unknown_api_key_is_403_in_the_spec_error_format_and_files_nothing(
    client, auth, lamp, fmt, api_key
):
    fields = {"service_code": "not_lit", "address_id": lamp["asset_no"]}
    if api_key is not None:
        fields["api_key"] = api_key
    response = post(client, fmt, **fields)
    assert response.status_code == 403
    if fmt == "json":
        (error,) = body_json(response)
        assert error["code"] == 403 and "api_key" in error["description"]
    else:
        root = body_xml(response)
        assert root.tag == "errors"
        (error,) = root
        assert error.tag == "error" and error.findtext("code") == "403" and "api_key" in error.findtext("description")
    listed = ok(call(client, "GET", f"/tickets?school_id={lamp['school_id']}", auth("dispatcher")))
    assert listed["items"] == []


def test_a_revoked_key_is_refused(client, lamp):
    from chalicelib.models import open311 as store

    partner_id, api_key = issue_key()
    partner = store.find_partner(api_key)
    assert partner is not None and partner.partner_id == partner_id
    partner.active = False
    store.put_partner(partner)
    assert post(client, api_key=api_key, service_code="dim", address_id=lamp["asset_no"]).status_code == 403


def test_only_the_hash_of_a_key_is_stored(client):
    import hashlib

    from chalicelib.models import open311 as store

    _, api_key = issue_key()
    stored = store.find_partner(api_key)
    assert stored is not None and stored.key_hash == hashlib.sha256(api_key.encode()).hexdigest()
    assert api_key not in json.dumps(stored.serialize())


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"service_code": "not_lit", "address_id": "SH99-99999"}, 404, "SH99-99999"),
        ({"service_code": "not_lit"}, 400, "address_id"),
        ({"service_code": "not_lit", "lat": "31.23", "long": "121.45"}, 400, "lat/long cannot tell which lamp"),
        ({"service_code": "sinkhole", "address_id": "{asset}"}, 404, "service_code 'sinkhole'"),
        ({"address_id": "{asset}"}, 400, "service_code"),
        ({"service_code": "dim", "address_id": "{asset}", "description": "x" * 4001}, 400, "4000"),
        ({"service_code": "dim", "address_id": "{asset}", "phone": "call me"}, 400, "phone"),
    ],
)
def test_requests_the_spec_refuses_get_its_status_and_say_why(client, auth, lamp, fields, status, says):
    _, api_key = issue_key()
    fields = {k: v.replace("{asset}", lamp["asset_no"]) for k, v in fields.items()}
    response = post(client, api_key=api_key, **fields)
    assert response.status_code == status, response.body
    errors = body_json(response)
    assert all(e["code"] == status for e in errors) and any(says in e["description"] for e in errors), errors
    listed = ok(call(client, "GET", f"/tickets?school_id={lamp['school_id']}", auth("dispatcher")))
    assert listed["items"] == []


def test_every_problem_of_a_request_is_its_own_error(client):
    _, api_key = issue_key()
    response = post(client, "xml", api_key=api_key, description="x" * 4001)
    assert response.status_code == 400
    described = [e.findtext("description") for e in body_xml(response)]
    assert [d.split(":")[0] for d in described] == ["service_code", "address_id", "description"]


def test_a_request_that_is_not_a_form_is_400(client, lamp):
    _, api_key = issue_key()
    body = json.dumps({"api_key": api_key, "service_code": "dim", "address_id": lamp["asset_no"]})
    response = client.http.post("/open311/v2/requests.json", headers={"Content-Type": "application/json"}, body=body)
    assert response.status_code == 400
    assert "application/x-www-form-urlencoded" in body_json(response)[0]["description"]


def test_a_replaced_lamps_number_files_on_the_unit_in_its_place(client, auth, lamp):
    replaced = ok(
        call(
            client,
            "POST",
            f"/lamps/{lamp['lamp_id']}/replacement",
            auth("admin"),
            {"serial": "SN-REPLACEMENT-1", "installed_on": "2026-01-05"},
        ),
        201,
    )
    _, api_key = issue_key()
    ref = body_json(post(client, api_key=api_key, service_code="dim", address_id=lamp["asset_no"]))[0][
        "service_request_id"
    ]
    ticket = ok(call(client, "GET", f"/tickets/{ref}", auth("dispatcher")))
    assert ticket["lamp_ids"] == [replaced["successor"]["lamp_id"]]


def test_an_unknown_request_or_format_is_404(client):
    response = get(client, "requests/T-2026-999999.json")
    assert response.status_code == 404 and "T-2026-999999" in body_json(response)[0]["description"]
    response = get(client, "requests/T-2026-999999.csv")
    assert response.status_code == 404 and body_xml(response).tag == "errors"  # XML: every endpoint speaks it


# ---- GET requests: every filter returns exactly its requests ----------------------------------------------


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


class TestRequestLists:
    """Nine tickets of one school, each in its own room (so no report joins another's case):

    name  reported      service      state       how
    G     now - 1 h     room_dark    open        a QR scan of the label
    A     now - 2 d     not_lit      open        Open311
    F     now - 3 d     noise        merged      Open311, merged into A
    E     now - 5 d     room_dark    resolved    Open311
    B     now - 10 d    flickering   cancelled   Open311
    C     now - 40 d    not_lit      open        Open311
    D     now - 100 d   dim          open        Open311 (outside the default 90 days)
    I     now           hardware     open        an inspection: internal work, never a request
    """

    @pytest.fixture(scope="class")
    def world(self, test_environment: Any) -> Iterator[SimpleNamespace]:
        from chalicelib.services import open311

        with api_world(test_environment) as world:
            client, auth = world.client, world.auth
            make_user("eng-1", "engineer")
            school = make_school(client, auth)
            lamps = {name: make_lamp(client, auth, school["school_id"], room_id=f"R-{name}") for name in "GAFEBCDI"}
            _, api_key = open311.issue_partner_key("Xuhui district platform")

            def filed(name: str, service: str, ago: dt.timedelta) -> str:
                fields = {"api_key": api_key, "service_code": service, "address_id": lamps[name]["asset_no"]}
                return open311.create_request(fields, now=NOW - ago).root[0].service_request_id

            refs = {
                "A": filed("A", "not_lit", dt.timedelta(days=2)),
                "F": filed("F", "noise", dt.timedelta(days=3)),
                "E": filed("E", "room_dark", dt.timedelta(days=5)),
                "B": filed("B", "flickering", dt.timedelta(days=10)),
                "C": filed("C", "not_lit", dt.timedelta(days=40)),
                "D": filed("D", "dim", dt.timedelta(days=100)),
            }
            scan = call(
                client,
                "POST",
                f"/r/{lamps['G']['qr_token']}/reports",
                {"Content-Type": "application/json"},
                {"fault": "room_dark"},
            )
            refs["G"] = ok(scan, 201)["reference"]
            inspection = make_ticket(
                client,
                auth,
                school["school_id"],
                [lamps["I"]["lamp_id"]],
                source="inspection",
                category="hardware_fault",
            )
            refs["I"] = inspection["ref"]

            def staff(ref: str) -> dict[str, Any]:
                return ok(call(client, "GET", f"/tickets/{ref}", auth("dispatcher")))

            drive(client, auth, staff(refs["B"]), "cancelled")
            drive(client, auth, staff(refs["E"]), "resolved")
            drive(client, auth, staff(refs["F"]), "merged", merge_into=staff(refs["A"])["ticket_id"])
            yield SimpleNamespace(client=client, refs=refs, lamps=lamps, school=school)

    def listed(self, world: SimpleNamespace, fmt: str = "json", **query: str) -> list[str]:
        """The names of the requests a GET requests answers, in its order; checks it only Queried."""
        with record_calls() as calls:
            response = get(world.client, f"requests.{fmt}", **query)
        assert response.status_code == 200, response.body
        assert set(calls.dynamodb()) <= {"Query", "BatchGetItem"}, calls.dynamodb()
        by_ref = {ref: name for name, ref in world.refs.items()}
        found = ids(response) if fmt == "json" else [r["service_request_id"] for r in records(body_xml(response))]
        return [by_ref[ref] for ref in found]

    def test_by_default_the_last_90_days_newest_first_without_merged_duplicates_or_internal_work(self, world):
        assert self.listed(world) == ["G", "A", "E", "B", "C"]
        assert self.listed(world, "xml") == ["G", "A", "E", "B", "C"]

    def test_status_open_closed_or_both(self, world):
        assert self.listed(world, status="open") == ["G", "A", "C"]
        assert self.listed(world, status="closed") == ["E", "B"]  # resolved, cancelled
        assert self.listed(world, status="open,closed") == ["G", "A", "E", "B", "C"]

    def test_service_code_one_or_several_with_or_without_status(self, world):
        assert self.listed(world, service_code="not_lit") == ["A", "C"]
        assert self.listed(world, service_code="not_lit,flickering") == ["A", "B", "C"]
        assert self.listed(world, service_code="room_dark", status="closed") == ["E"]
        assert self.listed(world, service_code="room_dark", status="open") == ["G"]  # a scan keeps its fault
        assert self.listed(world, service_code="controller_fault") == []

    def test_dates_bound_requested_datetime_across_months(self, world):
        def at(days: float) -> str:
            return (NOW - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

        assert self.listed(world, start_date=at(7)) == ["G", "A", "E"]
        assert self.listed(world, start_date=at(11), end_date=at(9)) == ["B"]
        assert self.listed(world, start_date=at(120), end_date=at(35)) == ["C", "D"]
        assert self.listed(world, end_date=at(30)) == ["C", "D"]  # the 90 days before end_date
        assert self.listed(world, start_date=at(45), status="open", service_code="not_lit") == ["A", "C"]
        local = (NOW - dt.timedelta(days=7)).astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert self.listed(world, start_date=local.isoformat()) == ["G", "A", "E"]  # +08:00, sent encoded

    def test_service_request_ids_override_every_other_filter(self, world):
        refs = world.refs
        asked = ",".join(refs[n] for n in ("B", "D", "F", "I"))  # I is internal work, not a request
        assert self.listed(world, service_request_id=asked) == ["B", "D", "F"]
        assert self.listed(world, service_request_id=asked, status="open", start_date="not a date") == ["B", "D", "F"]
        assert get(world.client, f"requests/{refs['I']}.json").status_code == 404

    def test_a_merged_duplicate_follows_the_case_it_was_merged_into(self, world):
        (merged,) = body_json(get(world.client, f"requests/{world.refs['F']}.json"))
        assert merged["status"] == "open" and merged["status_notes"].startswith(f"Merged into {world.refs['A']}.")
        assert merged["service_code"] == "noise"
        drive_closed = records(body_xml(get(world.client, f"requests/{world.refs['B']}.xml")))
        assert drive_closed[0]["status"] == "closed"

    def test_at_most_the_newest_limit_requests(self, world, monkeypatch):
        from chalicelib.domain import open311

        monkeypatch.setattr(open311, "MAX_REQUESTS", 2)
        assert self.listed(world) == ["G", "A"]
        monkeypatch.setattr(open311, "MAX_REQUESTS", 3)
        assert self.listed(world, status="closed,open") == ["G", "A", "E"]

    @pytest.mark.parametrize(
        ("query", "says"),
        [
            ({"status": "pending"}, "status"),
            ({"service_code": "sinkhole"}, "service_code"),
            ({"start_date": "yesterday"}, "start_date"),
            ({"start_date": "2026-11-01T00:00:00"}, "time zone"),
            ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
            ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "after end_date"),
            ({"service_request_id": ",".join(f"T-2026-{n:06d}" for n in range(101))}, "at most 100"),
        ],
    )
    def test_filters_that_cannot_be_used_are_400_saying_which(self, world, query, says):
        for fmt in ("json", "xml"):
            response = get(world.client, f"requests.{fmt}", **query)
            assert response.status_code == 400
            if fmt == "json":
                descriptions = [e["description"] for e in body_json(response)]
            else:
                descriptions = [e.findtext("description") for e in body_xml(response)]
            assert any(says in d for d in descriptions), descriptions


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_empty_request_id_is_a_404_in_the_specs_format_not_a_500(client, fmt):
    response = client.http.get(f"/open311/v2/requests/.{fmt}")
    assert response.status_code == 404, response.body
