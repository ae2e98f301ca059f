"""Inspection rounds (issue 12): plans, school calendars, inspection visits (list, assign, start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.auth import STAFF, Role
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas_inspections import (
        InspectionPlanOut,
        InspectionVisitOut,
        InspectionVisitPageOut,
        SchoolCalendarOut,
    )
    from chalicelib.services import inspections
else:
    inspections = lazy_module("chalicelib.services.inspections")

api = Api(__name__)

PLANNERS = [Role.ADMIN, Role.PROJECT_LEAD, Role.DISPATCHER]
DISPATCH = [Role.DISPATCHER, Role.ADMIN, Role.PROJECT_LEAD]
FIELD = [Role.ENGINEER, Role.EXPERT]
# Planners and managers read every visit; engineers and experts the visits assigned to them (the service).
READERS = [*PLANNERS, Role.MANAGER, Role.TECHNICAL_MANAGER, *FIELD]


@api.route(
    "/contracts/{contract_id}/inspection-plan",
    "PUT",
    operation_id="putInspectionPlan",
    response="InspectionPlanOut",
    roles=PLANNERS,
    body="InspectionPlanIn",
)
def put_inspection_plan(ctx: RequestContext, contract_id: str) -> InspectionPlanOut:
    """Sets the contract's inspection rounds: per school, its styles (monthly D-I1, end_of_semester D-I3,
    quarterly, half_yearly, return_visit D-I2) and the calendar region placing their windows; `styles` alone
    covers every school of the contract. Generates the due visits of this month and the next two (PLAN-6);
    a daily job generates the months that come into reach; never a visit twice. A style taken out of a
    school's plan cancels its visits not yet due and not assigned."""
    return inspections.put_plan(contract_id, ctx.body, ctx.principal)


@api.route(
    "/calendars/{region}",
    "PUT",
    operation_id="putSchoolCalendar",
    response="SchoolCalendarOut",
    roles=PLANNERS,
    body="SchoolCalendarIn",
)
def put_school_calendar(ctx: RequestContext, region: str) -> SchoolCalendarOut:
    """Replaces a region's school calendar: semesters, public holidays and make-up working days (调休).
    Due windows are moved by it (CAL-1..CAL-4) when visits are generated."""
    return inspections.put_calendar(region, ctx.body, ctx.principal)


@api.route("/calendars/{region}", "GET", operation_id="getSchoolCalendar", response="SchoolCalendarOut", roles=STAFF)
def get_school_calendar(ctx: RequestContext, region: str) -> SchoolCalendarOut:
    """A region's school calendar; without one stored, the default (weekends only, CAL-5)."""
    return inspections.get_calendar(region)


@api.route(
    "/inspection-visits",
    "GET",
    operation_id="listInspectionVisits",
    response="InspectionVisitPageOut",
    roles=READERS,
    query="InspectionVisitQuery",
)
def list_inspection_visits(ctx: RequestContext) -> InspectionVisitPageOut:
    """Exactly one of: `school_id` (every visit of the school), `assignee_id` (an engineer's open visits;
    engineers ask for their own), `status=overdue` (open visits past due, PLAN-7). Earliest due first."""
    return inspections.list_visits(ctx.query, ctx.principal)


@api.route(
    "/inspection-visits/{visit_id}/assignment",
    "POST",
    operation_id="assignInspectionVisit",
    response="InspectionVisitOut",
    roles=DISPATCH,
    body="AssignInspectionVisitIn",
)
def assign_inspection_visit(ctx: RequestContext, visit_id: str) -> InspectionVisitOut:
    """Assigns (or reassigns) a planned visit to an engineer: it shows in the engineer's work list (D-I4)."""
    return inspections.assign_visit(visit_id, ctx.body, ctx.principal)


@api.route(
    "/inspection-visits/{visit_id}/start",
    "POST",
    operation_id="startInspectionVisit",
    response="InspectionVisitOut",
    roles=FIELD,
    body="StartInspectionVisitIn",
    guarded=True,
)
def start_inspection_visit(ctx: RequestContext, visit_id: str) -> InspectionVisitOut:
    """The assigned engineer checks in at the school: GPS position, accuracy and device time, compared with
    the school's fence like a ticket's check-in; outside is accepted and flagged (`inside_fence: false`),
    never refused. From `assigned`."""
    return inspections.start_visit(visit_id, ctx.body, ctx.principal, ctx.guard)
