"""Demo data for `make run`: one contract, two schools, rooms, 64 lamps, one user per role, a few tickets.

Written through the same service functions the API uses, so demo data obeys every rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from chalicelib.auth import Principal, Role
from chalicelib.models.access import UserModel
from chalicelib.models.base import bind_tables
from chalicelib.schemas import ContractIn, SchoolIn, TicketIn, TransitionIn
from chalicelib.services import imports, registry, tickets
from devtools.token import DEMO_SUBS

DEMO_NAMES = {
    "engineer": "Li Qiang (line-1 engineer)",
    "expert": "Zhao Min (line-2 expert)",
    "dispatcher": "Chen Jing (service centre)",
    "parts_manager": "Wu Lei (spare parts)",
    "project_lead": "Sun Hui (project lead)",
    "manager": "Zhou Ping (manager)",
    "technical_manager": "Qian Wei (technical manager)",
    "admin": "Admin",
}

SCHOOLS = [
    {
        "code": "SH01",
        "name": "上海市静安区第一中心小学",
        "address": "上海市静安区新闸路 1 号",
        "province": "上海",
        "latitude": 31.2304,
        "longitude": 121.4532,
        "contacts": [{"name": "王老师", "role": "后勤主任", "phone": "+86 21 5555 0101"}],
        "hazards": [
            "Ladder needed above 3 m: classroom ceilings are 3.6 m",
            "Sign in at the gate; no work during exams",
        ],
    },
    {
        "code": "SH02",
        "name": "上海市徐汇区实验中学",
        "address": "上海市徐汇区漕溪北路 88 号",
        "province": "上海",
        "latitude": 31.1880,
        "longitude": 121.4370,
        "contacts": [{"name": "李老师", "role": "总务处", "phone": "+86 21 5555 0202"}],
        "hazards": ["Chemistry lab B-301: follow the lab's safety briefing"],
    },
]
ROOMS = [("A-101", "A", "1"), ("A-102", "A", "1"), ("B-201", "B", "2"), ("B-301", "B", "3")]
LAMPS_PER_ROOM = 8


def _equipment_csv(school_code: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["room_id", "building", "floor", "position", "model", "serial", "batch", "installed_on", "accepted_on"]
    )
    for room, building, floor in ROOMS:
        for position in range(1, LAMPS_PER_ROOM + 1):
            model = "EP-LED-40" if position <= 6 else "EP-BB-36"  # 2 blackboard lamps per room
            writer.writerow(
                [
                    room,
                    building,
                    floor,
                    position,
                    model,
                    f"{school_code}-{room}-{position:02d}",
                    "2025-B07",
                    "2025-08-18",
                    "2025-09-01",
                ]
            )
    return out.getvalue().encode()


# Open311 (issue 9): a demo partner platform whose api_key is the same on every start, so that `make run` can
# print it beside the tokens. Local only: a deployed stage issues each partner a random key, shown once
# (services.open311.issue_partner_key), and stores only its hash.
DEMO_OPEN311_PARTNER = ("p_demo_open311", "Jing'an district 12345 platform (demo)")
DEMO_OPEN311_KEY = "lampcare-demo-open311-key"


def open311_demo_key() -> str:
    """Registers the demo partner (again: a data dir saved before Open311 existed gets it too); its key."""
    from chalicelib.services import open311

    open311.register_partner_key(*DEMO_OPEN311_PARTNER, DEMO_OPEN311_KEY)
    return DEMO_OPEN311_KEY


def seed(now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    bind_tables()
    for role, sub in DEMO_SUBS.items():
        UserModel(sub, name=DEMO_NAMES[role], role=role, phone="+86 138 0000 0000").save()
    admin = Principal(sub=DEMO_SUBS["admin"], roles=frozenset({Role.ADMIN}))
    dispatcher = Principal(sub=DEMO_SUBS["dispatcher"], roles=frozenset({Role.DISPATCHER}))
    contract = registry.create_contract(
        ContractIn(code="SH-EDU-2025", name="上海市教室护眼灯改造项目", customer="Shanghai education bureau"), now
    )
    schools = []
    for spec in SCHOOLS:
        school = registry.create_school(SchoolIn(contract_id=contract.contract_id, **spec), now)
        imports.import_lamps(school.school_id, _equipment_csv(spec["code"]), "text/csv", "all_or_nothing", admin, now)
        schools.append(school)

    first_school = schools[0].school_id
    lamps = registry.list_lamps(first_school, "A-101", registry_page(3), admin).items
    red = tickets.create_ticket(
        TicketIn(
            source="school_report",
            school_id=first_school,
            lamp_ids=[lamps[0].lamp_id],
            category="not_lit",
            level=4,
            description="Whole front row dark during the maths lesson",
            reporter={"name": "王老师", "role": "teacher"},
        ),
        dispatcher,
        now,
    )
    triage = TransitionIn.model_validate({"action": "triage", "version": red.version, "level": 4})
    tickets.transition_ticket(red.ticket_id, triage, dispatcher, now)
    tickets.create_ticket(
        TicketIn(
            source="inspection",
            school_id=first_school,
            lamp_ids=[lamps[1].lamp_id],
            category="flickering",
            level=2,
            description="Flicker visible on camera at 50 Hz",
        ),
        dispatcher,
        now,
    )
    open311_demo_key()
    seed_stock(now)
    seed_inspections(contract.contract_id, first_school, now)  # issue 12.1, 12.2
    return {
        "contract": contract.model_dump(mode="json"),
        "schools": [s.model_dump(mode="json") for s in schools],
        "first_lamp": lamps[2].model_dump(mode="json"),
    }


# Parts and stock (issue 11.6, D-P): the two demo lamp models' common spares, with the installed quantity
# the 3 % rule (D-P1) is measured against. The depot holds too few lens covers, so one part is flagged.
DEMO_PARTS = [
    # sku, name, unit, fits, installed, in the depot
    ("DRV-40W", "LED 驱动电源 40W", "个", ["EP-LED-40"], 96, 6),
    ("LENS-EP40", "防眩光扩散罩 (EP-LED-40)", "个", ["EP-LED-40"], 96, 1),
    ("DRV-36W", "黑板灯驱动电源 36W", "个", ["EP-BB-36"], 32, 2),
    ("HANGER", "吊装组件", "套", ["EP-LED-40", "EP-BB-36"], 128, 10),
]


def seed_stock(now: dt.datetime) -> dict[str, str]:
    """The catalogue, the city's depot with stock, and the demo engineer's van with a few drivers."""
    from chalicelib.schemas import LocationIn, MoveStockIn, PartIn
    from chalicelib.services import parts

    manager = Principal(sub=DEMO_SUBS["parts_manager"], roles=frozenset({Role.PARTS_MANAGER}))
    for sku, name, unit, fits, installed, _ in DEMO_PARTS:
        parts.create_part(
            PartIn(sku=sku, name=name, unit=unit, fits_models=fits, installed_qty=installed), manager, now
        )
    depot = parts.create_location(LocationIn(kind="depot", name="上海静安备件库"), manager, now).location_id
    van = parts.create_location(
        LocationIn(kind="van", name=f"{DEMO_NAMES['engineer']}'s van", engineer_id=DEMO_SUBS["engineer"]), manager, now
    ).location_id
    for sku, *_, held in DEMO_PARTS:
        move = {"kind": "received", "sku": sku, "qty": held, "to_location_id": depot, "note": "opening stock"}
        parts.move_stock(MoveStockIn.model_validate(move), manager, now=now)
    issue = {"kind": "issued", "sku": "DRV-40W", "qty": 2, "from_location_id": depot, "to_location_id": van}
    parts.move_stock(MoveStockIn.model_validate(issue), manager, now=now)
    return {"depot": depot, "van": van}


def registry_page(limit: int) -> Any:
    from chalicelib.schemas import PageQuery

    return PageQuery(limit=limit)


# Inspection rounds (issue 12.1, 12.2): Shanghai's school calendar (illustrative dates: load the State
# Council's holiday schedule and the education bureau's semesters each year), a plan of monthly and
# end-of-semester rounds for both schools, and the first due visit assigned to the demo engineer.
DEMO_CALENDAR = {
    "semesters": [
        {"name": "2026-spring", "start": "2026-03-02", "end": "2026-07-03"},
        {"name": "2026-autumn", "start": "2026-09-01", "end": "2027-01-22"},
        {"name": "2027-spring", "start": "2027-02-22", "end": "2027-07-02"},
    ],
    "holidays": [*(f"2026-10-0{d}" for d in range(1, 8)), "2027-01-01"],
    "makeup_workdays": ["2026-09-20", "2026-10-10"],
}


def seed_inspections(contract_id: str, assigned_school_id: str, now: dt.datetime) -> dict[str, Any]:
    """The plan for every school; the visit assigned to the demo engineer is at `assigned_school_id` (SH01,
    whose position the demos and tests check in at), whatever order the plan lists the schools in."""
    from chalicelib.schemas import AssignInspectionVisitIn, InspectionPlanIn, InspectionVisitQuery, SchoolCalendarIn
    from chalicelib.services import inspections

    lead = Principal(sub=DEMO_SUBS["project_lead"], roles=frozenset({Role.PROJECT_LEAD}))
    inspections.put_calendar("上海", SchoolCalendarIn.model_validate(DEMO_CALENDAR), lead, now)
    plan = InspectionPlanIn.model_validate({"styles": ["monthly", "end_of_semester"], "region": "上海"})
    answer = inspections.put_plan(contract_id, plan, lead, now)
    query = InspectionVisitQuery(school_id=assigned_school_id, limit=1)
    visits = inspections.list_visits(query, lead, now).items
    if visits:
        assign = AssignInspectionVisitIn(assignee_id=DEMO_SUBS["engineer"], note="demo: this month's round")
        inspections.assign_visit(visits[0].visit_id, assign, lead, now)
    return answer.model_dump(mode="json")
