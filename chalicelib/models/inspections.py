"""Inspection rounds' storage (issue 12; D-I1..D-I4): plans, school calendars and inspection visits.

Access patterns, each a key read or a Query:
- a contract's plan: one item per (contract, school) with its styles (`InspectionPlanModel`);
- a region's school calendar, replaced as a whole (`SchoolCalendarModel`);
- a visit by id; a school's visits by due date (`by_school`); an engineer's open visits by due date
  (`by_assignee`, sparse: set while assigned or in progress: the work list); every open visit by due date
  (`by_open`, sparse: the overdue list is `due_at <= now` on it); the visits still to escalate
  (`by_escalation`, sparse: open and not yet escalated; the periodic sweep's Query, so what it reads does
  not grow with visits that are done or already escalated).

The sparse keys are set from the status on every write (`_set_keys`), never by hand. A visit is created
once per (contract, school, style, period): its id is derived from them (domain.inspection_plans.visit_id)
and it is put only where none exists. Every change goes through `apply_visit_change`: the visit's
VersionAttribute (a stale write is 409 stale_version with the current version and status), the app's
write guard (chalicelib.guards) and the caller's extra writes, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.domain.inspection_plans import OPEN_STATUSES, VisitStatus
from chalicelib.errors import StaleVersion
from chalicelib.models.access import Page, _commit, _cursor, _page, _unexpected
from chalicelib.models.base import bind_tables, register
from chalicelib.models.sla import UNDELIVERED
from chalicelib.models.transactions import Transaction, TransactionRefused
from chalicelib.models.write_guards import add_guard

if TYPE_CHECKING:
    from chalicelib.guards import SealedGuard

OPEN = "open"  # by_open's one hash key
ESCALATE = "due"  # by_escalation's one hash key
VISIT_LABEL = "visit"
CONDITION_FAILED = "ConditionalCheckFailedException"


def due_text(at: dt.datetime) -> str:
    """UTC, fixed width: sorts as time does."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- plans and calendars ------------------------------------------------------------------------------


class PlansByListing(GlobalSecondaryIndex["InspectionPlanModel"]):
    """Every plan row, by contract: the daily job that keeps each plan's horizon generated (PLAN-6)."""

    class Meta:
        index_name = "by_listing"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)  # constant "plan": a row per school of a contract with rounds
    contract_id = UnicodeAttribute(range_key=True)


@register
class InspectionPlanModel(Model):
    class Meta:
        table_name = "inspection-plans"

    contract_id = UnicodeAttribute(hash_key=True)
    school_id = UnicodeAttribute(range_key=True)
    styles = cast(
        "ListAttribute[str]", ListAttribute(of=UnicodeAttribute, default=list)
    )  # domain.inspection_plans.Style values
    region = UnicodeAttribute()  # the school calendar that places its windows
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute(default="")
    listing = UnicodeAttribute(default="plan")

    by_listing = PlansByListing()


@register
class SchoolCalendarModel(Model):
    class Meta:
        table_name = "school-calendars"

    region = UnicodeAttribute(hash_key=True)
    semesters = JSONAttribute(default=list)  # [{name, start, end}] ISO dates
    holidays = cast("ListAttribute[str]", ListAttribute(of=UnicodeAttribute, default=list))  # ISO dates
    makeup_workdays = cast(
        "ListAttribute[str]", ListAttribute(of=UnicodeAttribute, default=list)
    )  # ISO dates (调休上班)
    revision = NumberAttribute(default=1)  # +1 per replacement
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute(default="")


def put_plan(rows: Sequence[InspectionPlanModel]) -> None:
    """The plan's rows for the schools named (each row replaces that school's)."""
    bind_tables()
    with InspectionPlanModel.batch_write() as batch:
        for row in rows:
            batch.save(row)


def plan_of(contract_id: str) -> list[InspectionPlanModel]:
    bind_tables()
    return list(InspectionPlanModel.query(contract_id))


def every_plan_row() -> list[InspectionPlanModel]:
    """Every plan row of every contract, by contract (one Query, paged by pynamodb): schools with rounds."""
    bind_tables()
    return list(InspectionPlanModel.by_listing.query("plan"))


def get_calendar(region: str) -> SchoolCalendarModel | None:
    bind_tables()
    try:
        return SchoolCalendarModel.get(region)
    except SchoolCalendarModel.DoesNotExist:
        return None


def batch_get_calendars(regions: Sequence[str]) -> dict[str, SchoolCalendarModel]:
    bind_tables()
    return {c.region: c for c in SchoolCalendarModel.batch_get(list(dict.fromkeys(regions)))}


def put_calendar(item: SchoolCalendarModel) -> None:
    """Replaces the region's calendar (a new revision); visits already generated keep their windows."""
    bind_tables()
    item.save()


# ---- visits -----------------------------------------------------------------------------------------


class VisitsBySchool(GlobalSecondaryIndex["InspectionVisitModel"]):
    class Meta:
        index_name = "by_school"
        projection = AllProjection()

    school_id = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class VisitsByAssignee(GlobalSecondaryIndex["InspectionVisitModel"]):
    """An engineer's open visits (assigned, in progress), nearest due first: the work list."""

    class Meta:
        index_name = "by_assignee"
        projection = AllProjection()

    open_assignee = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class VisitsOpen(GlobalSecondaryIndex["InspectionVisitModel"]):
    """Every open visit by due time; overdue ones are those with `due_at <= now`."""

    class Meta:
        index_name = "by_open"
        projection = AllProjection()

    open_flag = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class VisitsToEscalate(GlobalSecondaryIndex["InspectionVisitModel"]):
    """Open visits not yet escalated (PLAN-7): the sweep's Query for `due_at <= now`."""

    class Meta:
        index_name = "by_escalation"
        projection = KeysOnlyProjection()

    escalate = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


@register
class InspectionVisitModel(Model):
    """One due inspection visit of a school (D-I1..D-I3). The check-in, photos and sign-off have the same
    shapes as a ticket's visit (issue 11); `report` holds what the checklists and readings produce."""

    class Meta:
        table_name = "inspection-visits"

    visit_id = UnicodeAttribute(hash_key=True)
    contract_id = UnicodeAttribute()
    school_id = UnicodeAttribute()
    style = UnicodeAttribute()  # domain.inspection_plans.Style
    period = UnicodeAttribute()  # "2026-03", "2026-Q1", "2025-autumn" ...
    region = UnicodeAttribute(default="")
    window_start = UnicodeAttribute()  # ISO date, China time
    window_end = UnicodeAttribute()  # ISO date: the due date
    due_at = UnicodeAttribute()  # when it becomes overdue (PLAN-7), UTC fixed width: every index's sort key
    status = UnicodeAttribute(default=VisitStatus.PLANNED.value)
    # The school as check-in needs it, kept when the visit is generated: {name, latitude, longitude, fence_m}
    site = JSONAttribute(null=True)
    assignee_id = UnicodeAttribute(null=True)
    assigned_at = UTCDateTimeAttribute(null=True)
    assigned_by = UnicodeAttribute(null=True)
    # {at, device_at, device_clock_ok, lat, lon, accuracy_m, distance_m, fence_m, inside_fence, by}
    check_in = JSONAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    visit_photos = JSONAttribute(default=list)  # [{photo_id, stage, key, content_type, size, at}]
    sign_off = JSONAttribute(null=True)  # as a ticket's (services.sign_off)
    report = JSONAttribute(null=True)  # checklists, readings, findings, evaluation (issue 12.3-12.5)
    completed_at = UTCDateTimeAttribute(null=True)
    completed_by = UnicodeAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)
    overdue_at = UTCDateTimeAttribute(null=True)  # when it was escalated (PLAN-7)
    escalated_to = cast("ListAttribute[str]", ListAttribute(of=UnicodeAttribute, null=True))
    note = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # sparse index keys, from the status (`_set_keys`)
    open_assignee = UnicodeAttribute(null=True)
    open_flag = UnicodeAttribute(null=True)
    escalate = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_school = VisitsBySchool()
    by_assignee = VisitsByAssignee()
    by_open = VisitsOpen()
    by_escalation = VisitsToEscalate()


def _set_keys(visit: InspectionVisitModel) -> None:
    status = VisitStatus(visit.status)
    is_open = status in OPEN_STATUSES
    visit.open_flag = OPEN if is_open else None
    visit.open_assignee = visit.assignee_id if is_open and visit.assignee_id else None
    visit.escalate = ESCALATE if is_open and visit.overdue_at is None else None


def existing_visit_ids(visit_ids: Sequence[str]) -> set[str]:
    """Which of these visits exist (BatchGetItem of keys only, 100 a call)."""
    bind_tables()
    return {
        v.visit_id
        for v in InspectionVisitModel.batch_get(list(dict.fromkeys(visit_ids)), attributes_to_get=["visit_id"])
    }


def create_visit(visit: InspectionVisitModel) -> bool:
    """Puts a new visit unless one with its id exists (PLAN-6). False: it existed (left as it is)."""
    bind_tables()
    _set_keys(visit)
    try:
        visit.save(condition=InspectionVisitModel.visit_id.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == CONDITION_FAILED:
            return False
        raise
    return True


def get_visit(visit_id: str, *, consistent: bool = False) -> InspectionVisitModel | None:
    bind_tables()
    try:
        return InspectionVisitModel.get(visit_id, consistent_read=consistent)
    except InspectionVisitModel.DoesNotExist:
        return None


def batch_get_visits(visit_ids: Sequence[str]) -> dict[str, InspectionVisitModel]:
    bind_tables()
    return {v.visit_id: v for v in InspectionVisitModel.batch_get(list(dict.fromkeys(visit_ids)))}


def apply_visit_change(
    visit: InspectionVisitModel,
    extra: Callable[[Transaction], None] | None = None,
    guard: SealedGuard | None = None,
) -> None:
    """Writes a changed visit (only if nobody changed it since it was read: its version), with a mobile
    write's guard (a key used before: `AlreadyApplied`) and `extra` writes of the same change (a reading,
    a ticket for a finding, a sign-off request used), all or nothing. The sparse index keys follow the
    status. A stale version is `StaleVersion` with `current_version` and `current_status`."""
    _set_keys(visit)
    tx = Transaction()
    add_guard(tx, guard)
    if extra is not None:
        extra(tx)
    tx.put(visit, label=VISIT_LABEL)
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if VISIT_LABEL in exc.failed:
            current = get_visit(visit.visit_id, consistent=True)
            raise StaleVersion(
                "the inspection visit was changed by someone else meanwhile; reload it",
                extra={
                    "current_version": current.version if current else None,
                    "current_status": current.status if current else None,
                },
            ) from exc
        raise _unexpected(exc, "the inspection visit") from exc


def query_school_visits(school_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[InspectionVisitModel]:
    """A school's visits, every status, earliest due first."""
    bind_tables()
    cursor = _cursor(cursor, InspectionVisitModel, InspectionVisitModel.by_school, school_id)
    return _page(InspectionVisitModel.by_school.query(school_id, limit=limit, last_evaluated_key=cursor))


def upcoming_school_visits(school_id: str, after: dt.datetime) -> list[InspectionVisitModel]:
    """A school's visits not yet due at `after` (a plan's horizon: a few per style), earliest first."""
    bind_tables()
    return list(InspectionVisitModel.by_school.query(school_id, InspectionVisitModel.due_at > due_text(after)))


def query_assignee_visits(assignee_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[InspectionVisitModel]:
    """An engineer's open visits (assigned, in progress), earliest due first."""
    bind_tables()
    cursor = _cursor(cursor, InspectionVisitModel, InspectionVisitModel.by_assignee, assignee_id)
    return _page(InspectionVisitModel.by_assignee.query(assignee_id, limit=limit, last_evaluated_key=cursor))


def query_overdue_visits(now: dt.datetime, limit: int, cursor: dict[str, Any] | None) -> Page[InspectionVisitModel]:
    """Open visits whose due time has passed (PLAN-7), most overdue first."""
    bind_tables()
    cursor = _cursor(cursor, InspectionVisitModel, InspectionVisitModel.by_open, OPEN)
    condition = InspectionVisitModel.due_at <= due_text(now)
    return _page(InspectionVisitModel.by_open.query(OPEN, condition, limit=limit, last_evaluated_key=cursor))


def visits_to_escalate(now: dt.datetime, limit: int) -> tuple[list[str], bool]:
    """The ids of open visits overdue at `now` and not yet escalated, most overdue first; and whether
    more are waiting than `limit`."""
    bind_tables()
    query = InspectionVisitModel.by_escalation.query(
        ESCALATE, InspectionVisitModel.due_at <= due_text(now), limit=limit + 1
    )
    ids = [v.visit_id for v in query]
    return ids[:limit], len(ids) > limit


def mark_escalated(visit_id: str, roles: Sequence[str], at: dt.datetime) -> InspectionVisitModel | None:
    """Records the escalation once (PLAN-7): only while the visit is open, overdue at `at`, not yet
    escalated and unchanged since read. The version goes up (like an SLA breach): a change based on an
    earlier read is 409 stale_version rather than writing over it. None: refused (done, escalated, not
    yet due, or changed meanwhile: the next run looks again)."""
    visit = get_visit(visit_id, consistent=True)
    if visit is None:
        return None
    condition = (
        InspectionVisitModel.escalate.exists()
        & InspectionVisitModel.status.is_in(*[s.value for s in OPEN_STATUSES])
        & (InspectionVisitModel.due_at <= due_text(at))
    )
    try:
        visit.update(  # the version condition and +1 are added by pynamodb
            actions=[
                InspectionVisitModel.overdue_at.set(at),
                InspectionVisitModel.escalated_to.set(list(roles)),
                InspectionVisitModel.escalate.remove(),
                InspectionVisitModel.updated_at.set(at),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if exc.cause_response_code == CONDITION_FAILED:
            return None
        raise
    return visit


OVERDUE_REASON = "inspection_overdue"


def overdue_notification(
    visit: InspectionVisitModel, role: str, topic_arn: str, subject: str, message: str
) -> dict[str, Any]:
    """The escalation's notification in the SLA's notifications table (models.sla.NotificationModel),
    keyed by the visit: claimed once (`models.sla.claim_notification`), its result stored as an SLA
    breach's is, and a claim whose writer died is sent by the SLA reconciliation like any other."""
    key = {"ticket_id": {"S": visit.visit_id}, "notification_key": {"S": f"overdue.{role}"}}
    item = {
        **key,
        "reason": {"S": OVERDUE_REASON},
        "entry_key": {"S": "overdue"},
        "role": {"S": role},
        "channel": {"S": "sns"},
        "topic_arn": {"S": topic_arn},
        "subject": {"S": subject[:99]},
        "message": {"S": message},
        "level": {"N": "0"},
        "sla_version": {"N": "0"},
        "school_id": {"S": visit.school_id},
        "result": {"S": "pending"},
        "undelivered": {"S": UNDELIVERED},
    }
    return {"key": key, "item": item}
