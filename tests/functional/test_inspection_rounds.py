"""Inspection rounds through the API (issue 12.1, 12.2, 12.6): a plan generates the due visits of the
horizon, placed by the region's school calendar; visits are listed by school, by engineer and overdue;
assigned; started by the assigned engineer with a geofenced check-in (outside flagged, never refused;
a retry answered, not repeated); and an overdue visit escalated to the project lead once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.functional.factories import call, make_contract, make_school, make_user, ok

NOW = dt.datetime(2025, 9, 20, 2, 0, tzinfo=dt.UTC)  # Saturday 20 September, 10:00 in China
SHANGHAI = {
    "semesters": [{"name": "2025-autumn", "start": "2025-09-01", "end": "2026-01-17"}],
    "holidays": [f"2025-10-0{d}" for d in range(1, 9)],
    "makeup_workdays": ["2025-09-28", "2025-10-11"],
}
KEY = "Idempotency-Key"


@pytest.fixture
def clock(monkeypatch: Any) -> dict[str, dt.datetime]:
    """The services' clock, moved by the test."""
    from chalicelib.services import inspections

    now = {"at": NOW}
    monkeypatch.setattr(inspections, "utcnow", lambda: now["at"])
    return now


@pytest.fixture
def world(client: Any, auth: Any, clock: Any) -> dict[str, Any]:
    contract = make_contract(client, auth)
    schools = [make_school(client, auth, contract["contract_id"], province="上海") for _ in range(2)]
    make_user("eng-1", "engineer")
    make_user("eng-2", "engineer")
    ok(call(client, "PUT", "/calendars/shanghai", auth("admin"), SHANGHAI))
    return {"contract": contract["contract_id"], "schools": [s["school_id"] for s in schools]}


def _plan(client: Any, auth: Any, world: dict[str, Any], role: str = "project_lead") -> Any:
    body = {
        "styles": ["monthly", "end_of_semester"],
        "region": "shanghai",
        "schools": [{"school_id": world["schools"][1], "styles": ["quarterly"]}],
    }
    return call(client, "PUT", f"/contracts/{world['contract']}/inspection-plan", auth(role), body)


def _visits(client: Any, auth: Any, query: str, role: str = "dispatcher", sub: str | None = None) -> list[Any]:
    return ok(call(client, "GET", f"/inspection-visits?{query}", auth(role, sub)))["items"]


def test_a_plan_generates_the_months_visits_placed_by_the_school_calendar(client, auth, world):
    answer = ok(_plan(client, auth, world))
    assert answer["generated_from"] == "2025-09-20" and answer["generated_until"] == "2025-11-30"
    assert answer["visits_created"] == 4

    first, second = world["schools"]
    windows = [
        (v["style"], v["period"], v["window_start"], v["window_end"])
        for v in _visits(client, auth, f"school_id={first}")
    ]
    assert windows == [
        ("monthly", "2025-09", "2025-09-01", "2025-09-30"),
        ("monthly", "2025-10", "2025-10-09", "2025-10-31"),  # 1-8 October are holidays: opens on the 9th
        ("monthly", "2025-11", "2025-11-03", "2025-12-01"),  # 30 November is a Sunday: due Monday
    ]  # the end-of-semester round (5-16 January) is beyond the horizon
    quarterly = _visits(client, auth, f"school_id={second}")
    assert [(v["period"], v["window_end"], v["status"]) for v in quarterly] == [("2025-Q3", "2025-09-22", "planned")]

    again = ok(_plan(client, auth, world, role="admin"))
    assert (again["visits_created"], again["visits_existing"]) == (0, 4)
    assert len(_visits(client, auth, f"school_id={first}")) == 3

    page = ok(call(client, "GET", f"/inspection-visits?school_id={first}&limit=2", auth("manager")))
    rest = ok(
        call(
            client, "GET", f"/inspection-visits?school_id={first}&limit=2&cursor={page['next_cursor']}", auth("manager")
        )
    )
    assert [v["period"] for v in page["items"] + rest["items"]] == ["2025-09", "2025-10", "2025-11"]


def test_the_plan_is_refused_clearly(client, auth, world):
    other = make_school(client, auth)["school_id"]
    status, body = call(
        client,
        "PUT",
        f"/contracts/{world['contract']}/inspection-plan",
        auth("dispatcher"),
        {"schools": [{"school_id": other, "styles": ["monthly"]}]},
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "schools[0].school_id"
    status, _ = _plan(client, auth, world, role="engineer")
    assert status == 403
    status, body = call(client, "PUT", f"/contracts/{world['contract']}/inspection-plan", auth("admin"), {})
    assert status == 422 and body["error"]["details"][0]["field"] == "styles"
    twice = {"schools": [{"school_id": other, "styles": []}, {"school_id": other, "styles": ["monthly"]}]}
    status, body = call(client, "PUT", f"/contracts/{world['contract']}/inspection-plan", auth("admin"), twice)
    assert status == 422 and body["error"]["details"][0]["field"] == "schools"
    status, body = call(client, "PUT", "/contracts/nope/inspection-plan", auth("admin"), {"styles": ["monthly"]})
    assert status == 404
    status, body = call(
        client, "PUT", f"/contracts/{world['contract']}/inspection-plan", auth("admin"), {"styles": ["weekly"]}
    )
    assert status == 422


def test_a_calendar_that_contradicts_itself_is_refused_naming_the_day(client, auth, world):
    status, body = call(
        client,
        "PUT",
        "/calendars/beijing",
        auth("admin"),
        {"holidays": ["2025-10-01"], "makeup_workdays": ["2025-10-01"]},
    )
    assert status == 422
    assert {d["field"] for d in body["error"]["details"]} >= {"makeup_workdays"}
    default = ok(call(client, "GET", "/calendars/beijing", auth("engineer")))
    assert default["default"] is True and default["revision"] == 0
    stored = ok(call(client, "GET", "/calendars/shanghai", auth("engineer")))
    assert stored["makeup_workdays"] == ["2025-09-28", "2025-10-11"] and stored["revision"] == 1


def _assign(client: Any, auth: Any, visit_id: str, engineer: str = "eng-1") -> Any:
    return call(
        client, "POST", f"/inspection-visits/{visit_id}/assignment", auth("dispatcher"), {"assignee_id": engineer}
    )


def _start(client: Any, auth: Any, visit_id: str, key: str | None, sub: str = "eng-1", lat: float = 31.0) -> Any:
    headers = auth("engineer", sub)
    if key:
        headers = {**headers, KEY: key}
    body = {"lat": lat, "lon": 121.47, "accuracy_m": 25, "device_at": "2025-09-20T10:01:00+08:00"}
    response = client.http.post(
        f"/inspection-visits/{visit_id}/start", headers=headers, body=__import__("json").dumps(body)
    )
    return response


def test_an_assigned_visit_is_in_the_engineers_list_and_started_with_a_flagged_check_in(client, auth, world):
    ok(_plan(client, auth, world))
    visit = _visits(client, auth, f"school_id={world['schools'][0]}")[0]

    assigned = ok(_assign(client, auth, visit["visit_id"]))
    assert assigned["status"] == "assigned" and assigned["assignee_id"] == "eng-1"
    assert [v["visit_id"] for v in _visits(client, auth, "assignee_id=eng-1", "engineer", "eng-1")] == [
        visit["visit_id"]
    ]
    assert _visits(client, auth, "assignee_id=eng-2", "engineer", "eng-2") == []
    work = ok(call(client, "GET", "/me/work", auth("engineer", "eng-1")))  # D-I4: beside the tickets
    assert [(v["visit_id"], v["status"]) for v in work["inspection_visits"]] == [(visit["visit_id"], "assigned")]
    assert ok(call(client, "GET", "/me/work", auth("engineer", "eng-2")))["inspection_visits"] == []
    status, _ = call(client, "GET", f"/inspection-visits?school_id={world['schools'][0]}", auth("engineer", "eng-1"))
    assert status == 403  # an engineer lists his own visits
    status, body = _assign(client, auth, visit["visit_id"], engineer="nobody")
    assert status == 422 and body["error"]["details"][0]["field"] == "assignee_id"

    assert _start(client, auth, visit["visit_id"], None).status_code == 400  # the key is required
    assert _start(client, auth, visit["visit_id"], "key-other-1", sub="eng-2").status_code == 403

    first = _start(client, auth, visit["visit_id"], "key-start-1")  # 26 km south of the school
    assert first.status_code == 200
    started = __import__("json").loads(first.body)
    assert started["status"] == "in_progress"
    assert started["check_in"]["inside_fence"] is False and started["check_in"]["distance_m"] > 20_000
    assert started["check_in"]["device_at"] == "2025-09-20T02:01:00+00:00"

    replays = [_start(client, auth, visit["visit_id"], "key-start-1") for _ in range(3)]
    assert all(r.status_code == 200 and r.headers.get("Idempotent-Replayed") == "true" for r in replays)
    assert all(__import__("json").loads(r.body) == started for r in replays)
    current = _visits(client, auth, "assignee_id=eng-1", "engineer", "eng-1")[0]
    assert current["version"] == started["version"] and current["check_in"] == started["check_in"]

    again = _start(client, auth, visit["visit_id"], "key-start-2")  # a new key: a second start
    assert again.status_code == 409
    assert __import__("json").loads(again.body)["error"]["current_status"] == "in_progress"
    status, _ = _assign(client, auth, visit["visit_id"], engineer="eng-2")
    assert status == 409  # started: no longer reassigned


def test_inside_the_fence_is_not_flagged(client, auth, world):
    ok(_plan(client, auth, world))
    visit = _visits(client, auth, f"school_id={world['schools'][0]}")[0]
    ok(_assign(client, auth, visit["visit_id"]))
    started = __import__("json").loads(_start(client, auth, visit["visit_id"], "key-inside-1", lat=31.2302).body)
    assert started["check_in"]["inside_fence"] is True


def _escalate(client: Any, tick: dt.datetime) -> Any:
    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/inspection_escalation"],
        region="us-east-1",
    )
    event["time"] = tick.isoformat().replace("+00:00", "Z")
    return client.lambda_.invoke("inspection_escalation", event).payload


def test_overdue_visits_are_listed_and_the_project_lead_is_told_once(client, auth, world, clock, monkeypatch):
    from chalicelib import timers
    from chalicelib.models import sla

    published: list[tuple[str, str, str]] = []

    def publish(topic: str, subject: str, message: str, attributes: dict[str, Any]) -> str:
        published.append((attributes["ticket_id"]["StringValue"], attributes["role"]["StringValue"], message))
        return f"msg-{len(published)}"

    monkeypatch.setattr(timers, "publish", publish)
    ok(_plan(client, auth, world))
    september = _visits(client, auth, f"school_id={world['schools'][0]}")[0]
    quarterly = _visits(client, auth, f"school_id={world['schools'][1]}")[0]

    # Monday 22 September, 23:59 in China: the quarterly round is due today, nothing is overdue yet
    clock["at"] = dt.datetime(2025, 9, 22, 15, 59, tzinfo=dt.UTC)
    assert _visits(client, auth, "status=overdue", "project_lead") == []
    assert _escalate(client, clock["at"])["escalated"] == []

    clock["at"] = dt.datetime(2025, 9, 22, 16, 0, tzinfo=dt.UTC)  # Tuesday 00:00 in China
    overdue = _visits(client, auth, "status=overdue", "project_lead")
    assert [v["visit_id"] for v in overdue] == [quarterly["visit_id"]] and overdue[0]["overdue"] is True
    run = _escalate(client, clock["at"])
    assert run["escalated"] == [quarterly["visit_id"]]
    assert [(p[0], p[1]) for p in published] == [(quarterly["visit_id"], "project_lead")]
    assert "2025-Q3" in published[0][2]

    clock["at"] = dt.datetime(2025, 10, 1, 0, 0, tzinfo=dt.UTC)
    run = _escalate(client, clock["at"])
    assert run["escalated"] == [september["visit_id"]]  # the quarterly one is not told twice
    assert _escalate(client, clock["at"])["escalated"] == []
    assert [p[0] for p in published] == [quarterly["visit_id"], september["visit_id"]]
    overdue = _visits(client, auth, "status=overdue", "project_lead")
    assert [v["visit_id"] for v in overdue] == [quarterly["visit_id"], september["visit_id"]]  # most overdue first
    assert all(v["escalated_at"] for v in overdue)

    notes = sla.notifications_of(quarterly["visit_id"])
    assert [(n.notification_key, n.result, n.message_id) for n in notes] == [("overdue.project_lead", "sent", "msg-1")]
    # an escalated visit can still be assigned and done (its version moved on with the escalation)
    assert ok(_assign(client, auth, quarterly["visit_id"]))["escalated_at"] is not None


def test_listing_asks_for_exactly_one_selector(client, auth, token, world):
    status, body = call(client, "GET", "/inspection-visits", auth("dispatcher"))
    assert status == 400 and body["error"]["details"][0]["field"] == "query"
    status, _ = call(client, "GET", f"/inspection-visits?school_id={world['schools'][0]}&status=overdue", auth("admin"))
    assert status == 400
    status, _ = call(client, "GET", "/inspection-visits?status=late", auth("admin"))
    assert status in (400, 422)
    school = {"Authorization": f"Bearer {token('school_staff', school_id=world['schools'][0])}"}
    status, _ = call(client, "GET", f"/inspection-visits?school_id={world['schools'][0]}", school)
    assert status == 403


def test_a_style_taken_out_of_the_plan_cancels_its_planned_visits_but_not_assigned_ones(client, auth, world):
    ok(_plan(client, auth, world))
    first = world["schools"][0]
    september, october, november = _visits(client, auth, f"school_id={first}")
    ok(_assign(client, auth, october["visit_id"]))

    body = {"schools": [{"school_id": first, "styles": ["quarterly"], "region": "shanghai"}]}
    answer = ok(call(client, "PUT", f"/contracts/{world['contract']}/inspection-plan", auth("dispatcher"), body))
    assert answer["visits_cancelled"] == 2  # September's and November's; October's is assigned
    assert {s["school_id"]: s["styles"] for s in answer["schools"]}[first] == ["quarterly"]
    statuses = {v["period"]: v["status"] for v in _visits(client, auth, f"school_id={first}")}
    assert statuses == {"2025-09": "cancelled", "2025-Q3": "planned", "2025-10": "assigned", "2025-11": "cancelled"}
    # cancelled visits never fall overdue: in December only the assigned and the quarterly one are late
    from chalicelib.services import inspections

    run = inspections.escalate_overdue(dt.datetime(2025, 12, 5, tzinfo=dt.UTC))
    escalated = {inspections.load_visit(i).period for i in run.escalated}
    assert escalated >= {"2025-10", "2025-Q3"} and not escalated & {"2025-09", "2025-11"}


def test_a_region_in_chinese_is_one_calendar_however_the_path_is_encoded(client, auth, world):
    ok(call(client, "PUT", "/calendars/%E4%B8%8A%E6%B5%B7", auth("admin"), {"holidays": ["2025-10-01"]}))
    stored = ok(call(client, "GET", "/calendars/上海", auth("engineer")))
    assert (stored["region"], stored["holidays"], stored["default"]) == ("上海", ["2025-10-01"], False)
    assert call(client, "GET", "/calendars/no%20such%20region", auth("engineer"))[0] == 404
    status, body = call(client, "PUT", "/calendars/a%20b", auth("admin"), {})
    assert status == 422 and body["error"]["details"][0]["field"] == "region"


def _planning(client: Any, tick: dt.datetime) -> Any:
    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/inspection_planning"],
        region="us-east-1",
    )
    event["time"] = tick.isoformat().replace("+00:00", "Z")
    return client.lambda_.invoke("inspection_planning", event).payload


def test_the_daily_job_generates_the_months_that_come_into_the_horizon_once(client, auth, world):
    ok(_plan(client, auth, world))
    first, second = world["schools"]
    run = _planning(client, dt.datetime(2025, 12, 1, 1, 0, tzinfo=dt.UTC))  # 1 December: now to February
    # December, January, February and the end-of-semester round (5-16 January); mid-December's quarterly
    assert (run["contracts"], run["visits_created"]) == (1, 5)
    again = _planning(client, dt.datetime(2025, 12, 1, 1, 0, tzinfo=dt.UTC))
    assert again["visits_created"] == 0
    periods = [v["period"] for v in _visits(client, auth, f"school_id={first}")]
    assert periods == ["2025-09", "2025-10", "2025-11", "2025-12", "2025-autumn", "2026-01", "2026-02"]
    assert [v["period"] for v in _visits(client, auth, f"school_id={second}")] == ["2025-Q3", "2025-Q4"]


def test_the_escalation_reads_one_query_however_many_visits_are_not_due(client, auth, world):
    """The sweep Queries the sparse by_escalation index: visits not yet due, done or escalated cost nothing."""
    from chalicelib.services import inspections
    from local_aws.calls import record_calls

    ok(_plan(client, auth, world))
    with record_calls() as log:
        run = inspections.escalate_overdue(NOW)
    assert (run.found, log.dynamodb()) == ([], ["Query"])

    late = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)  # September's and the quarterly round are overdue
    inspections.escalate_overdue(late)
    with record_calls() as log:
        assert inspections.escalate_overdue(late).found == []  # escalated: out of the index
    assert log.dynamodb() == ["Query"]
