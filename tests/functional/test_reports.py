"""Reports (issue 13) against a hand-computed fixture: a ticket reported in the last second of November (China
time) and one in the first second of December, a level change, a reopened ticket and a merged duplicate.

The tickets are driven through the services with a fixed clock (the deadlines and the times are then
known to the second); the reports are read over the API. Default policy (DOMAIN's table, 7 x 24):
level 1 response 30 / on site 60 min, level 2 20 / 40, level 3 10 / 20; D-S4's ladder: step 1 at the
response deadline, step 2 at the on-site deadline, step 3 an hour after it.

November, school S (eng-1 on every case):
  T1 reported 2026-11-30 23:59:59 +08 (level 2): acknowledged after 15 min (met), on site after 50 min
     (late: due 40; step 2 fell due at 40), resolved after 60 min.
  T3 reported 2026-11-10 10:00 +08 (level 2, then 3 at 5 min: due 10 / 20): acknowledged after 12 min
     (late; step 1 at 10), on site after 18 (met), resolved after 30.
  T4 reported 2026-11-12 09:00 +08 (level 1): acknowledged after 5 (met), resolved by phone after 20 (before
     the on-site deadline: nobody needed, not counted), reopened after 2 h: open, reopened, no first-time fix.
  T5 reported 2026-11-12 09:05 +08: merged into T4 (counts only as merged).
December: T2 reported 2026-12-01 00:00:00 +08 (level 1), untouched: response and on site pending.

Response times 15, 12, 5 min: mean 10.7; histogram buckets [14,16), [12,14), [5,6): median 13.0 (rank 1.5,
half-way through [12,14)), p90 15.4 (rank 2.7: 0.7 through [14,16)), worst 16 (the bucket's upper edge).
On-site times 50, 18: mean 34.0; median 20.0 (rank 1 at the top of [18,20)), p90 54.0 (0.8 through [50,55)),
worst 55.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from chalicelib.auth import Principal, Role
from tests.functional.factories import call, make_contract, make_lamp, make_school, make_user, ok

CN = dt.timezone(dt.timedelta(hours=8))
DISPATCHER = Principal("disp-1", frozenset({Role.DISPATCHER}))
ENGINEER = Principal("eng-1", frozenset({Role.ENGINEER}))


def _create(school_id: str, at: dt.datetime, level: int, lamp_ids: list[str] | None = None) -> Any:
    from chalicelib.schemas import TicketIn
    from chalicelib.services import tickets

    body = TicketIn.model_validate(
        {
            "source": "dispatcher",
            "school_id": school_id,
            "lamp_ids": lamp_ids or [],
            "category": "not_lit",
            "level": level,
            "description": "the lamp above the blackboard is dark",
        }
    )
    return tickets.create_ticket(body, DISPATCHER, now=at)


def _do(ticket: Any, action: str, at: dt.datetime, actor: Principal = DISPATCHER, **fields: Any) -> Any:
    from chalicelib.schemas import TransitionIn
    from chalicelib.services import tickets

    body = TransitionIn.model_validate({"action": action, "version": ticket.version, **fields})
    return tickets.transition_ticket(ticket.ticket_id, body, actor, now=at)


def _visit(ticket: Any, start: dt.datetime, ack: int, on_site: int | None, resolve: int, level: int) -> Any:
    m = dt.timedelta(minutes=1)
    ticket = _do(ticket, "triage", start + m * 0.5, level=level)
    ticket = _do(ticket, "assign", start + m * 0.6, assignee_id="eng-1")
    ticket = _do(ticket, "acknowledge", start + m * ack, ENGINEER)
    if on_site is not None:
        ticket = _do(ticket, "depart", start + m * (ack + 1), ENGINEER)
        ticket = _do(ticket, "arrive", start + m * on_site, ENGINEER)
    return _do(ticket, "resolve", start + m * resolve, ENGINEER, note="driver board swapped")


@pytest.fixture
def fixture(client: Any, auth: Any) -> dict[str, Any]:
    contract = make_contract(client, auth, name="护眼灯改造项目")
    school = make_school(client, auth, contract["contract_id"], name="第一实验小学")
    other = make_school(client, auth, contract["contract_id"])
    make_user("eng-1", "engineer", "Li Wei")
    make_user("disp-1", "dispatcher")
    lamps = [make_lamp(client, auth, school["school_id"]) for _ in range(4)]
    sid = school["school_id"]

    t1_at = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=CN)
    t1 = _visit(_create(sid, t1_at, 2), t1_at, ack=15, on_site=50, resolve=60, level=2)

    t2 = _create(sid, dt.datetime(2026, 12, 1, 0, 0, 0, tzinfo=CN), 1)

    t3_at = dt.datetime(2026, 11, 10, 10, 0, tzinfo=CN)
    t3 = _create(sid, t3_at, 2)
    t3 = _do(t3, "triage", t3_at + dt.timedelta(minutes=1), level=2)
    t3 = _do(t3, "change_level", t3_at + dt.timedelta(minutes=5), level=3)
    t3 = _do(t3, "assign", t3_at + dt.timedelta(minutes=6), assignee_id="eng-1")
    t3 = _do(t3, "acknowledge", t3_at + dt.timedelta(minutes=12), ENGINEER)
    t3 = _do(t3, "depart", t3_at + dt.timedelta(minutes=13), ENGINEER)
    t3 = _do(t3, "arrive", t3_at + dt.timedelta(minutes=18), ENGINEER)
    t3 = _do(t3, "resolve", t3_at + dt.timedelta(minutes=30), ENGINEER, note="fixed")

    t4_at = dt.datetime(2026, 11, 12, 9, 0, tzinfo=CN)
    t4 = _create(sid, t4_at, 1, [lamps[0]["lamp_id"]])
    t4 = _do(t4, "triage", t4_at + dt.timedelta(minutes=1), level=1)
    t5 = _create(sid, t4_at + dt.timedelta(minutes=5), 1)
    _do(t5, "merge", t4_at + dt.timedelta(minutes=6), merge_into=t4.ticket_id)
    t4 = _do(t4, "assign", t4_at + dt.timedelta(minutes=2), assignee_id="eng-1")
    t4 = _do(t4, "acknowledge", t4_at + dt.timedelta(minutes=5), ENGINEER)
    t4 = _do(t4, "resolve", t4_at + dt.timedelta(minutes=20), ENGINEER, note="reset by phone")
    t4 = _do(
        t4, "reopen", t4_at + dt.timedelta(hours=2), Principal("mgr", frozenset({Role.MANAGER})), note="dark again"
    )
    return {"school": school, "other": other, "contract": contract, "tickets": [t1, t2, t3, t4], "lamps": lamps}


def _report(client: Any, auth: Any, query: str, role: str = "manager", **headers: str) -> tuple[int, Any]:
    return call(client, "GET", f"/reports/sla?{query}", {**auth(role), **headers})


def test_sla_report_counts_every_figure_of_the_hand_computed_month(client, auth, fixture):
    sid = fixture["school"]["school_id"]
    report = ok(_report(client, auth, f"period=2026-11&to=2026-12&school_id={sid}"))
    assert report["scope"] == {"kind": "school", "id": sid, "name": "第一实验小学"}
    november, december = report["months"]
    assert november["month"] == "2026-11"
    assert november["tickets"] == 3  # T1 (its last second), T3, T4; the merged T5 apart
    assert november["merged"] == 1
    assert november["by_level"] == {"1": 1, "2": 1, "3": 1, "4": 0}  # T3 counts at its new level
    assert (november["open"], november["closed"], november["reopened"], november["cancelled"]) == (1, 0, 1, 0)
    assert november["response"] == {
        "met": 2,
        "breached": 1,
        "met_late": 1,
        "missed": 0,
        "pending": 0,
        "percent_met": 66.7,
        "times": {"count": 3, "mean_minutes": 10.7, "median_minutes": 13.0, "p90_minutes": 15.4, "worst_minutes": 16.0},
    }
    assert november["onsite"] == {
        "met": 1,
        "breached": 1,
        "met_late": 1,
        "missed": 0,
        "pending": 0,
        "percent_met": 50.0,
        "times": {"count": 2, "mean_minutes": 34.0, "median_minutes": 20.0, "p90_minutes": 54.0, "worst_minutes": 55.0},
    }
    assert november["resolution"]["percent_met"] is None  # the default policy sets no resolution target
    assert november["escalations"] == {"step_1": 1, "step_2": 1, "step_3": 0}

    assert december["tickets"] == 1  # T2: the first second of December in China (16:00 UTC on 30 November)
    assert december["by_level"]["1"] == 1
    assert december["response"]["pending"] == 1 and december["onsite"]["pending"] == 1
    assert december["response"]["percent_met"] is None
    assert report["total"]["tickets"] == 4 and report["total"]["merged"] == 1


def test_level_and_engineer_scopes_follow_the_level_change(client, auth, fixture):
    level3 = ok(_report(client, auth, "period=2026-11&level=3"))["total"]
    assert level3["tickets"] == 1 and level3["response"]["met_late"] == 1 and level3["onsite"]["met"] == 1
    level2 = ok(_report(client, auth, "period=2026-11&level=2"))["total"]
    assert level2["tickets"] == 1  # T1 only: T3 left level 2 when it changed
    engineer = ok(call(client, "GET", "/reports/engineers?period=2026-11&engineer_id=eng-1", auth("manager")))
    total = engineer["total"]
    assert engineer["scope"]["name"] == "Li Wei"
    assert (total["tickets"], total["resolved"], total["first_time_fix"]) == (3, 3, 2)
    assert total["first_time_fix_rate"] == 66.7
    assert total["mean_travel_minutes"] == 19.5  # T1 departed at 16, on site at 50 (34); T3 13 -> 18 (5)
    contract = ok(_report(client, auth, f"period=2026-11&contract_id={fixture['contract']['contract_id']}"))
    assert contract["total"]["tickets"] == 3  # the shards summed


def test_csv_has_a_bom_its_headers_and_the_figures(client, auth, fixture):
    sid = fixture["school"]["school_id"]
    response = client.http.get(
        f"/reports/sla?period=2026-11&to=2026-12&school_id={sid}", headers={**auth("manager"), "Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert [r["month"] for r in rows] == ["2026-11", "2026-12", "total"]
    november = rows[0]
    assert november["scope_name"] == "第一实验小学"
    assert november["tickets"] == "3" and november["level_3"] == "1" and november["merged"] == "1"
    assert november["response_met"] == "2" and november["response_breached"] == "1"
    assert november["response_percent_met"] == "66.7" and november["response_p90_min"] == "15.4"
    assert november["onsite_worst_min"] == "55.0" and november["escalations_step_2"] == "1"
    assert rows[1]["response_percent_met"] == ""  # nothing decided in December yet

    same = client.http.get(f"/reports/sla?period=2026-11&school_id={sid}&format=csv", headers=auth("manager"))
    assert same.body.decode("utf-8-sig").splitlines()[1] == response.body.decode("utf-8-sig").splitlines()[1]


def _series(svg: bytes) -> dict[str, list[str]]:
    """Each data series of a pygal chart: its title (from the legend) and its values, in order."""
    root = ET.fromstring(svg)
    svg_ns = "{http://www.w3.org/2000/svg}"
    titles = {
        g.get("id", "").removeprefix("activate-serie-"): "".join(g.find(f"{svg_ns}text").itertext())
        for g in root.iter(f"{svg_ns}g")
        if g.get("id", "").startswith("activate-serie-")
    }
    found: dict[str, list[str]] = {}
    for group in root.iter(f"{svg_ns}g"):
        match = re.fullmatch(r"series serie-(\d+) color-\d+", group.get("class", ""))
        if match:
            values = [d.text or "" for d in group.iter(f"{svg_ns}desc") if d.get("class") == "value"]
            found.setdefault(titles[match.group(1)], []).extend(values)  # pygal splits a series in groups
    return found


def test_svg_charts_carry_the_compliance_and_category_series(client, auth, fixture):
    sid = fixture["school"]["school_id"]
    chart = client.http.get(
        f"/reports/sla?period=2026-11&to=2026-12&school_id={sid}",
        headers={**auth("manager"), "Accept": "image/svg+xml"},
    )
    assert chart.status_code == 200 and chart.headers["Content-Type"].startswith("image/svg+xml")
    series = _series(chart.body)
    assert series["Response 响应"] == ["66.7"]  # December has nothing decided: a gap, no point
    assert series["On site 到场"] == ["50"]
    faults = client.http.get(
        f"/reports/fault-trends?period=2026-11&to=2026-12&school_id={sid}&format=svg", headers=auth("manager")
    )
    assert faults.status_code == 200
    assert _series(faults.body) == {"not_lit": ["3", "1"]}


def test_fault_trends_per_thousand_lamps_by_model_and_the_lamps_that_failed_again(client, auth, fixture):
    sid, lamp = fixture["school"]["school_id"], fixture["lamps"][0]
    _create(sid, dt.datetime(2026, 11, 20, 8, 0, tzinfo=CN), 1, [lamp["lamp_id"]])  # T4's lamp, a second case
    trends = ok(call(client, "GET", f"/reports/fault-trends?period=2026-11&school_id={sid}", auth("manager")))
    assert trends["installed_lamps"] == 4
    november = trends["months"][0]
    assert november["faults"] == 4 and november["by_category"] == {"not_lit": 4} and november["reopened"] == 1
    assert november["per_thousand_lamps"] == 1000.0  # 4 faults over 4 lamps
    assert trends["by_model"] == {"EP-LED-40": 2}  # T4 and the new case name a lamp; T1 and T3 none
    assert trends["per_thousand_by_model"] == {"EP-LED-40": 500.0}
    assert trends["repeated_lamps"] == [
        {"lamp_id": lamp["lamp_id"], "asset_no": lamp["asset_no"], "model": "EP-LED-40", "faults": 2}
    ]


def test_school_staff_read_their_own_school_and_no_other(client, auth, token, fixture):
    sid, other = fixture["school"]["school_id"], fixture["other"]["school_id"]

    def staff(school: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token('school_staff', 'staff-1', school_id=school)}"}

    assert ok(call(client, "GET", f"/reports/sla?period=2026-11&school_id={sid}", staff(sid)))["total"]["tickets"] == 3
    code, _ = call(client, "GET", f"/reports/sla?period=2026-11&school_id={other}", staff(sid))
    assert code == 404
    code, _ = call(client, "GET", "/reports/sla?period=2026-11&level=2", staff(sid))
    assert code == 403
    code, _ = call(client, "GET", f"/schools/{other}/reports/monthly?month=2026-11", staff(sid))
    assert code == 404
    monthly = ok(call(client, "GET", f"/schools/{sid}/reports/monthly?month=2026-11", staff(sid)))
    assert monthly["sla"]["tickets"] == 3 and monthly["visits"] == 2 and monthly["lamps_in_service"] == 4


def test_school_monthly_pdf_says_the_figures_in_chinese(client, auth, fixture):
    from pypdf import PdfReader

    sid = fixture["school"]["school_id"]
    response = client.http.get(
        f"/schools/{sid}/reports/monthly?month=2026-11", headers={**auth("manager"), "Accept": "application/pdf"}
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.body))
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4
    text = "".join(page.extract_text() for page in reader.pages)
    assert "第一实验小学" in text and "月度服务报告" in text and "2026-11" in text
    assert "66.7" in text  # the response deadlines met
    assert "已重开" in text  # T4, open again


def test_bad_queries_name_the_field(client, auth, fixture):
    code, body = _report(client, auth, "period=2026-13&school_id=x")
    assert code == 400 and body["error"]["details"][0]["field"] == "query.period"
    code, body = _report(client, auth, "period=2026-11")
    assert code == 400 and body["error"]["details"][0]["field"].startswith("query.")
    code, body = _report(client, auth, "period=2026-11&to=2024-01&school_id=x")
    assert code == 400 and body["error"]["details"][0]["field"] == "query.to"
    code, body = _report(client, auth, "period=2024-01&to=2026-11&school_id=x")
    assert code == 400 and body["error"]["details"][0]["field"] == "query.to"
    code, _ = _report(client, auth, "period=2026-11&school_id=x", role="engineer")
    assert code == 403


def test_a_report_reads_its_rows_not_the_tickets(client, auth, fixture, no_scan_guard):
    sid = fixture["school"]["school_id"]
    no_scan_guard.calls.clear()
    ok(_report(client, auth, f"period=2026-11&to=2026-12&school_id={sid}"))
    assert no_scan_guard.dynamodb() == ["Query", "GetItem"]  # the rows, the school's name


def test_rebuilt_aggregates_equal_the_incremental_ones(client, auth, fixture, no_scan_guard):
    from chalicelib.models import report_aggregates
    from devtools import rebuild_aggregates

    def rows() -> dict[Any, dict[str, float]]:  # a row emptied by a change (T3 left level 2) holds only zeros
        return {key: values for key, values in report_aggregates.scan_rows().items() if values}

    incremental = rows()
    assert ("level#3", next(k[1] for k in incremental if k[0] == "level#3")) in incremental
    report_aggregates.replace_rows({})  # a bug lost them all
    assert rows() == {}
    result = rebuild_aggregates.rebuild()
    assert rows() == incremental
    assert result.tickets == 5 and result.facts_updated == 0
    # a maintenance command scans (so did this test, to compare); no request did
    no_scan_guard.calls[:] = [c for c in no_scan_guard.calls if c[1] != "Scan"]
    sid = fixture["school"]["school_id"]
    assert ok(_report(client, auth, f"period=2026-11&school_id={sid}"))["total"]["tickets"] == 3


def test_the_rebuild_corrects_a_tickets_counted_facts(client, auth, fixture, no_scan_guard):
    """After a bug (here: one ticket's rows lost and its counted facts wrong) the rebuild puts both right,
    so the ticket's next change adds the right difference."""
    from chalicelib.models import report_aggregates
    from devtools import rebuild_aggregates

    t4 = fixture["tickets"][3]
    ticket = report_aggregates.get_ticket(t4.ticket_id)
    report_aggregates.keep_facts(ticket, report_aggregates.reports.Facts.from_json({**ticket.report_facts, "level": 4}))
    result = rebuild_aggregates.rebuild()
    no_scan_guard.calls[:] = [c for c in no_scan_guard.calls if c[1] != "Scan"]
    assert result.facts_updated == 1
    _do(report_aggregates.get_ticket(t4.ticket_id), "triage", dt.datetime(2026, 11, 12, 12, tzinfo=CN), level=2)
    sid = fixture["school"]["school_id"]
    november = ok(_report(client, auth, f"period=2026-11&school_id={sid}"))["total"]
    assert november["by_level"] == {"1": 0, "2": 2, "3": 1, "4": 0} and november["tickets"] == 3
