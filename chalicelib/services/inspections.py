"""Inspection rounds (issue 12): plans that generate due visits, school calendars, the visits' listing,
assignment and start (the engineer's geofenced check-in), and the escalation of overdue visits.

Rules: PLAN-1..PLAN-8 (domain/inspection_plans.py), CAL-1..CAL-5 (domain/school_calendar.py), D-I1..D-I4.

- `put_plan` stores the contract's plan and generates the due visits of the horizon (PLAN-6) for every
  school of the plan: reads the contract's schools (a Query), the calendars (one BatchGet), which of the
  due visits exist (BatchGet, 100 a call), and puts each missing one where none exists (so two writers
  racing create it once). Written again, it creates only what is new (the months that came into reach).
- `start_visit` is the assigned engineer's check-in, through the visit core's geofence (domain.visit):
  outside the fence is accepted and flagged, never refused. A guarded write (chalicelib.guards).
- `escalate_overdue` is the periodic sweep (handlers/inspection_jobs.py): one Query on the sparse
  `by_escalation` index; each visit marked once (a conditional write) and the project lead told through
  the SLA's notifications (claimed once in the notifications table, published to the role's topic, the
  result stored; a claim whose writer died is sent by the SLA reconciliation).

For the other parts of issue 12 (checklists, findings, completion, report): `load_visit`, `visit_view`,
`models.inspections.apply_visit_change` (the visit, the guard and extra writes in one transaction).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from chalicelib import timers
from chalicelib.auth import Principal, Role
from chalicelib.domain import inspection_plans as plans
from chalicelib.domain.inspection_plans import CHINA, Style, VisitStatus
from chalicelib.domain.lifecycle import FIELD_ROLES
from chalicelib.domain.school_calendar import SchoolCalendar, Semester, default_calendar, problems
from chalicelib.errors import FieldProblem, Forbidden, InvalidInput, InvalidQuery, NotFound, StaleVersion
from chalicelib.guards import WriteGuard
from chalicelib.models import access, inspections, sla
from chalicelib.models.inspections import InspectionPlanModel, InspectionVisitModel, SchoolCalendarModel
from chalicelib.observability import logger
from chalicelib.schemas_inspections import (
    REGION_PATTERN,
    AssignInspectionVisitIn,
    InspectionPlanIn,
    InspectionPlanOut,
    InspectionPlanSchoolOut,
    InspectionVisitOut,
    InspectionVisitPageOut,
    InspectionVisitQuery,
    SchoolCalendarIn,
    SchoolCalendarOut,
    SemesterOut,
    StartInspectionVisitIn,
)
from chalicelib.services.ids import utcnow
from chalicelib.services.paging import decode_cursor, encode_cursor

DEFAULT_REGION = "default"
SCHOOL_PAGE = 200
ESCALATE_TO = ("project_lead",)  # PLAN-7: like an SLA breach's project-lead rung (D-S4)
ESCALATION_PAGE = 100
# Who reads every visit; engineers and experts read their own (the work list).
PLANNERS = frozenset({Role.ADMIN, Role.PROJECT_LEAD, Role.DISPATCHER})


def china_today(now: dt.datetime) -> dt.date:
    return now.astimezone(CHINA).date()


# ---- views ------------------------------------------------------------------------------------------


def visit_view(visit: InspectionVisitModel, now: dt.datetime | None = None) -> InspectionVisitOut:
    """A visit as the API shows it; `overdue` as of `now`."""
    now = now or utcnow()
    due = dt.date.fromisoformat(visit.window_end)
    status = VisitStatus(visit.status)
    return InspectionVisitOut(
        visit_id=visit.visit_id,
        contract_id=visit.contract_id,
        school_id=visit.school_id,
        style=Style(visit.style),
        period=visit.period,
        region=visit.region,
        window_start=dt.date.fromisoformat(visit.window_start),
        window_end=due,
        overdue_from=plans.overdue_from(due),
        status=status,
        overdue=plans.is_overdue(status, due, now),
        escalated_at=visit.overdue_at,
        assignee_id=visit.assignee_id,
        assigned_at=visit.assigned_at,
        check_in=visit.check_in,
        started_at=visit.started_at,
        completed_at=visit.completed_at,
        sign_off=visit.sign_off,
        version=int(visit.version or 0),
    )


def load_visit(visit_id: str, version: int | None = None) -> InspectionVisitModel:
    """The visit, or 404; with `version`, 409 stale_version when the visit has changed since."""
    visit = inspections.get_visit(visit_id)
    if visit is None:
        raise NotFound(f"inspection visit '{visit_id}' does not exist")
    if version is not None and version != visit.version:
        raise StaleVersion(
            "the inspection visit was changed by someone else meanwhile; reload it",
            extra={"current_version": visit.version, "current_status": visit.status},
        )
    return visit


# ---- calendars --------------------------------------------------------------------------------------


def _calendar(region: str, item: SchoolCalendarModel | None) -> SchoolCalendar:
    if item is None:
        return default_calendar(region)
    return SchoolCalendar(
        region=region,
        semesters=tuple(
            Semester(s["name"], dt.date.fromisoformat(s["start"]), dt.date.fromisoformat(s["end"]))
            for s in item.semesters or []
        ),
        holidays=frozenset(dt.date.fromisoformat(d) for d in item.holidays or []),
        makeup_workdays=frozenset(dt.date.fromisoformat(d) for d in item.makeup_workdays or []),
    )


def _calendar_view(region: str, item: SchoolCalendarModel | None) -> SchoolCalendarOut:
    if item is None:
        return SchoolCalendarOut(
            region=region, semesters=[], holidays=[], makeup_workdays=[], revision=0, default=True, updated_at=None
        )
    return SchoolCalendarOut(
        region=region,
        semesters=[SemesterOut(name=s["name"], start=s["start"], end=s["end"]) for s in item.semesters or []],
        holidays=sorted(dt.date.fromisoformat(d) for d in item.holidays or []),
        makeup_workdays=sorted(dt.date.fromisoformat(d) for d in item.makeup_workdays or []),
        revision=int(item.revision),
        default=False,
        updated_at=item.updated_at,
    )


def region_name(raw: str, *, writing: bool) -> str:
    """The region in a path, decoded once (a gateway decodes path parameters, a test client may not): a
    name that cannot be a region is 404 on a read and 422 naming `region` on a write."""
    name = unquote(raw).strip()
    if re.fullmatch(REGION_PATTERN, name):
        return name
    if writing:
        raise InvalidInput(
            "not a region name", details=[FieldProblem("region", "letters, digits, Chinese characters, _ . : -")]
        )
    raise NotFound(f"region '{name[:64]}' has no calendar and cannot have one")


def get_calendar(region: str) -> SchoolCalendarOut:
    """The region's calendar; without one, the default (CAL-5), shown as such rather than 404."""
    region = region_name(region, writing=False)
    return _calendar_view(region, inspections.get_calendar(region))


def put_calendar(
    region: str, body: SchoolCalendarIn, actor: Principal, now: dt.datetime | None = None
) -> SchoolCalendarOut:
    """Replaces the region's calendar. Visits already generated keep their windows; those generated from
    now on are placed by it."""
    now = now or utcnow()
    region = region_name(region, writing=True)
    semesters = [Semester(s.name, s.start, s.end) for s in body.semesters]
    found = problems(semesters, body.holidays, body.makeup_workdays)
    if found:
        raise InvalidInput("the calendar is not consistent", details=found)
    current = inspections.get_calendar(region)
    item = SchoolCalendarModel(
        region,
        semesters=[{"name": s.name, "start": s.start.isoformat(), "end": s.end.isoformat()} for s in semesters],
        holidays=sorted({d.isoformat() for d in body.holidays}),
        makeup_workdays=sorted({d.isoformat() for d in body.makeup_workdays}),
        revision=int(current.revision) + 1 if current else 1,
        updated_at=now,
        updated_by=actor.sub,
    )
    inspections.put_calendar(item)
    return _calendar_view(region, item)


# ---- plans ------------------------------------------------------------------------------------------


def _contract_schools(contract_id: str) -> dict[str, Any]:
    schools: dict[str, Any] = {}
    cursor = None
    while True:
        page = access.query_schools(contract_id, SCHOOL_PAGE, cursor)
        schools.update({s.school_id: s for s in page.items})
        if not page.next_key:
            return schools
        cursor = page.next_key


def put_plan(
    contract_id: str, body: InspectionPlanIn, actor: Principal, now: dt.datetime | None = None
) -> InspectionPlanOut:
    """Stores the contract's plan (per school: styles and calendar region) and generates the due visits of
    the horizon for every school of the plan (PLAN-6); again, it creates only what is new."""
    now = now or utcnow()
    if body.styles is None and not body.schools:
        raise InvalidInput(
            "say which inspections the schools get",
            details=[FieldProblem("styles", "give styles for every school of the contract, or schools, or both")],
        )
    access.get_contract(contract_id)  # 404 before anything is read or written
    schools = _contract_schools(contract_id)
    unknown = [
        FieldProblem(f"schools[{i}].school_id", f"school '{s.school_id}' is not a school of this contract")
        for i, s in enumerate(body.schools)
        if s.school_id not in schools
    ]
    if unknown:
        raise InvalidInput("the plan names schools the contract does not have", details=unknown)
    stored = inspections.plan_of(contract_id)
    before = {row.school_id: set(row.styles) for row in stored}
    listed = {s.school_id: s for s in body.schools}
    rows: list[InspectionPlanModel] = []
    for school_id, school in schools.items():
        entry = listed.get(school_id)
        if entry is None and body.styles is None:
            continue  # not in this change: its row (if any) stays
        styles = entry.styles if entry is not None else (body.styles or [])
        region = (entry.region if entry else None) or body.region or school.province or DEFAULT_REGION
        rows.append(
            InspectionPlanModel(
                contract_id,
                school_id,
                styles=[s.value for s in dict.fromkeys(styles)],
                region=region,
                updated_at=now,
                updated_by=actor.sub,
            )
        )
    inspections.put_plan(rows)
    plan = {row.school_id: row for row in stored}
    plan.update({row.school_id: row for row in rows})
    created, existing = generate_visits(contract_id, list(plan.values()), now, schools)
    cancelled = 0
    for row in rows:
        dropped = before.get(row.school_id, set()) - set(row.styles)
        if dropped:
            cancelled += _cancel_dropped(row.school_id, dropped, now)
    today = china_today(now)
    return InspectionPlanOut(
        contract_id=contract_id,
        generated_from=today,
        generated_until=plans.horizon_end(today) - dt.timedelta(days=1),
        schools=[
            InspectionPlanSchoolOut(school_id=r.school_id, region=r.region, styles=[Style(s) for s in r.styles])
            for r in sorted(plan.values(), key=lambda r: r.school_id)
        ],
        visits_created=created,
        visits_existing=existing,
        visits_cancelled=cancelled,
    )


def _cancel_dropped(school_id: str, styles: set[str], now: dt.datetime) -> int:
    """A style taken out of a school's plan: its visits not yet due and not yet assigned are cancelled, so
    they never fall overdue (PLAN-7). Assigned or started ones stay: a person is on them."""
    cancelled = 0
    for visit in inspections.upcoming_school_visits(school_id, now):
        if visit.style not in styles or visit.status != VisitStatus.PLANNED.value:
            continue
        visit.status = VisitStatus.CANCELLED.value
        visit.cancelled_at = now
        visit.updated_at = now
        try:
            inspections.apply_visit_change(visit)
        except StaleVersion:
            continue  # assigned meanwhile: a person is on it
        cancelled += 1
    return cancelled


def _site(school: Any) -> dict[str, Any] | None:
    """What check-in compares the phone's position with, kept on the visit (one read less per start)."""
    if school is None:
        return None
    return {
        "name": school.name,
        "latitude": float(school.latitude),
        "longitude": float(school.longitude),
        "fence_m": int(school.geofence_m) if school.geofence_m else None,
    }


def generate_visits(
    contract_id: str, rows: list[InspectionPlanModel], now: dt.datetime, schools: dict[str, Any]
) -> tuple[int, int]:
    """Creates the plan's due visits of the horizon that do not exist yet; (created, already there)."""
    today = china_today(now)
    stored = inspections.batch_get_calendars([r.region for r in rows]) if rows else {}
    wanted: dict[str, InspectionVisitModel] = {}
    for row in rows:
        cal = _calendar(row.region, stored.get(row.region))
        for due in plans.due_visits([Style(s) for s in row.styles], cal, today):
            visit_id = plans.visit_id(contract_id, row.school_id, due.style, due.period)
            wanted[visit_id] = InspectionVisitModel(
                visit_id,
                contract_id=contract_id,
                school_id=row.school_id,
                style=due.style.value,
                period=due.period,
                region=row.region,
                site=_site(schools.get(row.school_id)),
                window_start=due.window.start.isoformat(),
                window_end=due.window.end.isoformat(),
                due_at=inspections.due_text(plans.overdue_from(due.due)),
                status=VisitStatus.PLANNED.value,
                created_at=now,
                updated_at=now,
            )
    there = inspections.existing_visit_ids(list(wanted)) if wanted else set()
    created = sum(inspections.create_visit(v) for visit_id, v in wanted.items() if visit_id not in there)
    return created, len(wanted) - created


@dataclass
class Extension:
    checked_at: dt.datetime
    contracts: int = 0
    created: int = 0
    existing: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at,
            "contracts": self.contracts,
            "visits_created": self.created,
            "visits_existing": self.existing,
        }


def extend_plans(now: dt.datetime | None = None) -> Extension:
    """PLAN-6 kept up without anyone writing the plan again: every contract's plan generates the visits that
    came into its horizon (the daily job). Reads: one Query of the plan rows, then per contract a BatchGet of
    its schools, of the calendars and of the horizon's visits; writes only the new visits."""
    now = now or utcnow()
    run = Extension(now)
    by_contract: dict[str, list[InspectionPlanModel]] = {}
    for row in inspections.every_plan_row():
        if row.styles:
            by_contract.setdefault(row.contract_id, []).append(row)
    for contract_id, rows in by_contract.items():
        schools = access.batch_get_schools([r.school_id for r in rows])
        created, existing = generate_visits(contract_id, rows, now, schools)
        run.contracts += 1
        run.created += created
        run.existing += existing
    return run


# ---- visits -----------------------------------------------------------------------------------------


def list_visits(
    query: InspectionVisitQuery, actor: Principal, now: dt.datetime | None = None
) -> InspectionVisitPageOut:
    """Exactly one of school_id, assignee_id, status=overdue: each a Query on its index."""
    now = now or utcnow()
    given = [name for name in ("school_id", "assignee_id", "status") if getattr(query, name) is not None]
    if len(given) != 1:
        raise InvalidQuery(
            "give exactly one of school_id, assignee_id, status",
            details=[FieldProblem("query", "exactly one of school_id, assignee_id, status=overdue")],
        )
    if not actor.has_any(PLANNERS | {Role.MANAGER, Role.TECHNICAL_MANAGER}) and query.assignee_id != actor.sub:
        raise Forbidden("engineers and experts list the visits assigned to them: ?assignee_id=<your id>")
    cursor = decode_cursor(query.cursor)
    if query.school_id is not None:
        page = inspections.query_school_visits(query.school_id, query.limit, cursor)
    elif query.assignee_id is not None:
        page = inspections.query_assignee_visits(query.assignee_id, query.limit, cursor)
    else:
        page = inspections.query_overdue_visits(now, query.limit, cursor)
    return InspectionVisitPageOut(
        items=[visit_view(v, now) for v in page.items], next_cursor=encode_cursor(page.next_key)
    )


def open_visits_of(engineer_id: str, limit: int = 20, now: dt.datetime | None = None) -> list[InspectionVisitOut]:
    """The engineer's open inspection visits, nearest due first (one Query): for the work list (D-I4)."""
    page = inspections.query_assignee_visits(engineer_id, limit, None)
    return [visit_view(v, now) for v in page.items]


def _check_assignee(user_id: str) -> None:
    try:
        user = access.get_user(user_id)
    except NotFound as exc:
        raise InvalidInput(
            "no such user", details=[FieldProblem("assignee_id", f"user '{user_id}' does not exist")]
        ) from exc
    if not user.active or user.role not in FIELD_ROLES:
        raise InvalidInput(
            "inspection visits are assigned to active engineers or line-2 experts",
            details=[FieldProblem("assignee_id", f"user '{user_id}' is a {user.role}")],
        )


def assign_visit(
    visit_id: str, body: AssignInspectionVisitIn, actor: Principal, now: dt.datetime | None = None
) -> InspectionVisitOut:
    """PLAN-8: a dispatcher assigns (or reassigns) a planned visit to an engineer; it then shows in the
    engineer's work list."""
    now = now or utcnow()
    visit = load_visit(visit_id, body.version)
    plans.check_assign(VisitStatus(visit.status))
    _check_assignee(body.assignee_id)
    visit.assignee_id = body.assignee_id
    visit.assigned_at = now
    visit.assigned_by = actor.sub
    visit.status = VisitStatus.ASSIGNED.value
    visit.updated_at = now
    if body.note:
        visit.note = body.note
    inspections.apply_visit_change(visit)
    return visit_view(visit, now)


def start_visit(
    visit_id: str,
    body: StartInspectionVisitIn,
    actor: Principal,
    guard: WriteGuard | None,
    now: dt.datetime | None = None,
) -> InspectionVisitOut:
    """PLAN-8, D-I4: the assigned engineer checks in at the school; the position is compared with the
    school's fence by the visit core's rule (domain.visit.check_fence): outside is accepted and flagged,
    never refused (indoor GPS is poor). A retry with the same Idempotency-Key gets the first answer."""
    from chalicelib.domain import visit as visit_rules

    now = now or utcnow()
    visit = load_visit(visit_id, body.version)
    plans.check_start(VisitStatus(visit.status), visit.assignee_id, actor.sub)
    site = visit.site or _site(access.get_school(visit.school_id)) or {}
    fence = visit_rules.check_fence(
        body.lat, body.lon, body.accuracy_m, site.get("latitude"), site.get("longitude"), site.get("fence_m")
    )
    visit.check_in = {
        "at": now.isoformat(),
        **visit_rules.device_time(body.device_at, now),
        "lat": body.lat,
        "lon": body.lon,
        "accuracy_m": body.accuracy_m,
        **fence.as_json(),
        "by": actor.sub,
    }
    visit.started_at = now
    visit.status = VisitStatus.IN_PROGRESS.value
    visit.updated_at = now
    if body.note:
        visit.note = body.note
    answer = visit_view(visit, now)
    answer = answer.model_copy(update={"version": answer.version + 1})  # as written
    inspections.apply_visit_change(visit, guard=guard.seal(answer) if guard else None)
    return answer


# ---- overdue visits (PLAN-7) ------------------------------------------------------------------------


@dataclass
class Escalation:
    checked_at: dt.datetime
    found: list[str] = field(default_factory=list)  # overdue and not yet escalated, most overdue first
    escalated: list[str] = field(default_factory=list)  # marked by this run
    notified: dict[str, str] = field(default_factory=dict)  # "<visit>.<role>" -> sent | failed
    more: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at,
            "found": len(self.found),
            "escalated": self.escalated,
            "notified": self.notified,
            "more": self.more,
        }


def escalate_overdue(now: dt.datetime | None = None, limit: int = ESCALATION_PAGE) -> Escalation:
    """PLAN-7: every open visit overdue at `now` and not yet escalated is marked (once: a conditional
    write) and the project lead is told, like an SLA breach (D-S4), through the SLA's notifications."""
    now = now or utcnow()
    ids, more = inspections.visits_to_escalate(now, limit)
    run = Escalation(now, ids, more=more)
    if not ids:
        return run
    marked = []
    for visit_id in ids:
        visit = inspections.mark_escalated(visit_id, ESCALATE_TO, now)
        if visit is not None:  # None: completed, cancelled, escalated or changed meanwhile
            marked.append(visit)
    schools = access.batch_get_schools(sorted({v.school_id for v in marked})) if marked else {}
    for visit in marked:
        run.escalated.append(visit.visit_id)
        school = schools.get(visit.school_id)
        message = plans.overdue_message(
            school.name if school else visit.school_id,
            Style(visit.style),
            visit.period,
            dt.date.fromisoformat(visit.window_end),
            visit.assignee_id,
        )
        for role in ESCALATE_TO:
            run.notified[f"{visit.visit_id}.{role}"] = _notify(visit, role, message, now)
    return run


def _notify(visit: InspectionVisitModel, role: str, message: str, now: dt.datetime) -> str:
    topic = timers.topic_arn(role)
    note = inspections.overdue_notification(visit, role, topic, f"Inspection overdue: {visit.period}", message)
    if not sla.claim_notification(note["item"], now):
        return "already"
    attributes = sla.sns_attributes(visit.visit_id, visit.school_id, role, inspections.OVERDUE_REASON, 0)
    try:
        message_id = timers.publish(topic, f"Inspection overdue: {visit.period}", message, attributes)
    except Exception as exc:  # noqa: BLE001 - an undelivered notification is stored with its error
        sla.store_delivery(note["key"], error=f"{type(exc).__name__}: {exc}"[:500])
        logger.warning("inspection overdue notification failed", visit_id=visit.visit_id, role=role)
        return "failed"
    sla.store_delivery(note["key"], message_id=message_id)
    return "sent"
