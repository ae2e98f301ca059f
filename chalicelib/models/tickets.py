"""Tickets (one case per fault, D-S6) and their append-only audit trail.

List access patterns are GSIs ordered by `due_key` (the on-site deadline as ISO text,
then the ticket id), so "oldest deadline first" is a plain forward Query. A list may name
one or two of school, assignee, status and level: each such combination has its own index
on a composite attribute (`school_status` = "<school>#<status>" ...), so every list is a
Query on exactly what it returns, never a Query followed by a filter.
"""

from __future__ import annotations

from typing import Any, cast

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import register


def _due_index(name: str, hash_attr: str) -> type[GlobalSecondaryIndex[Any]]:
    meta = type("Meta", (), {"index_name": name, "projection": AllProjection()})
    return type(
        f"TicketsBy{name}",
        (GlobalSecondaryIndex,),
        {"Meta": meta, hash_attr: UnicodeAttribute(hash_key=True), "due_key": UnicodeAttribute(range_key=True)},
    )


class TicketsByRef(GlobalSecondaryIndex["TicketModel"]):
    class Meta:
        index_name = "by_ref"
        projection = KeysOnlyProjection()

    ref = UnicodeAttribute(hash_key=True)


class TicketsByPublicRef(GlobalSecondaryIndex["TicketModel"]):
    class Meta:
        index_name = "by_public_ref"
        projection = KeysOnlyProjection()

    public_ref = UnicodeAttribute(hash_key=True)


class TicketsByOpenRoomCase(GlobalSecondaryIndex["TicketModel"]):
    """Open school-reported cases per room, newest report first: a report on another lamp of the room
    within the window joins one (sparse: `room_open_key` is removed when the case stops being open)."""

    class Meta:
        index_name = "by_open_room_case"
        projection = KeysOnlyProjection()

    room_open_key = UnicodeAttribute(hash_key=True)  # "<school_id>#<room_id>"
    reported_at = UTCDateTimeAttribute(range_key=True)


class TicketsByNextDue(GlobalSecondaryIndex["TicketModel"]):
    """SLA timers (issue 10): tickets with a timer entry still to do, earliest first. Sparse: `sla_due`
    exists only while something is due (models.sla.set_timer_keys), so the reconciliation's Query
    `next_due_at <= now` reads the due tickets and nothing else. One hash key: writes to it are a
    ticket's own writes (a few per second at most); shard it ("due#0".."due#N") if that ever grows."""

    class Meta:
        index_name = "by_next_due"
        projection = KeysOnlyProjection()

    sla_due = UnicodeAttribute(hash_key=True)
    next_due_at = UnicodeAttribute(range_key=True)  # sla_timer.due_text: fixed-width UTC, sorts as time does


class TicketsByWork(GlobalSecondaryIndex["TicketModel"]):
    """An engineer's work list (issue 11.1, listMyWork), nearest on-site deadline first. Sparse:
    `work_key` (the assignee) exists only while the visit is to do (access.set_visit_keys), so the Query
    returns exactly the open ones."""

    class Meta:
        index_name = "by_work"
        projection = AllProjection()

    work_key = UnicodeAttribute(hash_key=True)
    due_key = UnicodeAttribute(range_key=True)


class TicketsBySync(GlobalSecondaryIndex["TicketModel"]):
    """What changed for an engineer since a cursor (issue 11.10, syncChanges): keyed by the assignee,
    ranged by `sync_at` = "<updated_at, fixed-width UTC>#<ticket_id>", so "since" is one key condition."""

    class Meta:
        index_name = "by_sync"
        projection = AllProjection()

    sync_key = UnicodeAttribute(hash_key=True)
    sync_at = UnicodeAttribute(range_key=True)


def _open311_index(name: str, hash_attr: str) -> type[GlobalSecondaryIndex[Any]]:
    """Open311 GET requests (domain.open311): sparse, keyed by the request's UTC month (and service), ranged by
    `open311_sort` = "<open|closed>#<reported_at>", so a status and a date window are one key condition. It
    projects what an Open311 answer shows, so a list is one Query per month and status, no item reads."""
    meta = type(
        "Meta",
        (),
        {
            "index_name": name,
            "projection": IncludeProjection(
                [
                    "ref",
                    "status",
                    "open311_service",
                    "description",
                    "school_id",
                    "room_id",
                    "lamp_ids",
                    "reported_at",
                    "updated_at",
                    "onsite_due",
                ]
            ),
        },
    )
    return type(
        f"TicketsBy{name}",
        (GlobalSecondaryIndex,),
        {"Meta": meta, hash_attr: UnicodeAttribute(hash_key=True), "open311_sort": UnicodeAttribute(range_key=True)},
    )


class TicketModel(Model):
    class Meta:
        table_name = "tickets"

    ticket_id = UnicodeAttribute(hash_key=True)
    ref = UnicodeAttribute()  # T-2026-000123, for people
    public_ref = UnicodeAttribute()  # unguessable, for the reporter's progress page
    contract_id = UnicodeAttribute()
    school_id = UnicodeAttribute()
    room_id = UnicodeAttribute(default="")
    # pynamodb types a list of UnicodeAttribute as list[UnicodeAttribute]; its values are str.
    lamp_ids = cast("ListAttribute[str]", ListAttribute(of=UnicodeAttribute, default=list))
    source = UnicodeAttribute()
    category = UnicodeAttribute()
    level = NumberAttribute()
    level_key = UnicodeAttribute()  # level as text: GSI hash keys are strings here
    level_confirmed = UnicodeAttribute(default="no")
    description = UnicodeAttribute(default="")
    photos = cast("ListAttribute[str]", ListAttribute(of=UnicodeAttribute, default=list))
    reporter = JSONAttribute(default=dict)
    # School reports (D-S6): how many reports this case gathered, the level the rules suggested
    # (the dispatcher confirms one at triage) and the contacts reporters left (personal data).
    report_count = NumberAttribute(default=1)
    suggested_level = NumberAttribute(null=True)
    contacts = JSONAttribute(default=list)
    room_open_key = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    assignee_id = UnicodeAttribute(null=True)
    owner_id = UnicodeAttribute()  # first-contact responsibility: who took the report
    reported_at = UTCDateTimeAttribute()
    response_due = UTCDateTimeAttribute()
    onsite_due = UTCDateTimeAttribute()
    resolution_due = UTCDateTimeAttribute(null=True)  # only when the contract sets a resolution target
    # The SLA policy revision the deadlines come from (None: 1) and the school's facts at the report
    # (position, province): a level change recomputes from both, whatever the contract says since (D-S3).
    sla_revision = NumberAttribute(null=True)
    sla_site = JSONAttribute(null=True)
    due_key = UnicodeAttribute()
    merged_into = UnicodeAttribute(null=True)
    eta = UTCDateTimeAttribute(null=True)
    milestones = JSONAttribute(default=dict)  # action -> ISO time of the first time it happened
    resolution = JSONAttribute(default=dict)
    sign_off = JSONAttribute(default=dict)
    # The engineer's visit (issue 11): each JSON object keeps the server time and the device's time
    # (`device_at`) side by side. travel {started_at, eta, device_at}; check_in {at, device_at, lat, lon,
    # accuracy_m, distance_m, inside_fence}; work {cause, category, actions, parts, swap, recorded_at, by};
    # visit_photos [{photo_id, stage, key, content_type, size, at}]; check_out {at, device_at}.
    travel = JSONAttribute(null=True)
    check_in = JSONAttribute(null=True)
    work = JSONAttribute(null=True)
    visit_photos = JSONAttribute(default=list)
    check_out = JSONAttribute(null=True)
    # The school as the visit needs it, copied when the engineer acknowledges (so travel and check-in
    # read no school): {name, latitude, longitude, fence_m, contact_name, contact_phone}.
    visit_site = JSONAttribute(null=True)
    work_key = UnicodeAttribute(null=True)  # the assignee while the visit is to do (by_work)
    sync_key = UnicodeAttribute(null=True)  # the assignee (by_sync)
    sync_at = UnicodeAttribute(null=True)
    event_count = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()
    report_facts = JSONAttribute(null=True)

    # SLA timers (issue 10, chalicelib/models/sla.py): the milestones as top-level attributes (written with
    # the change that meets them), the breaches the timer recorded (at the deadline they missed), the
    # escalation step reached (D-S4: 0 line 1 ... 3 technical manager), the timer's plan and version (+1
    # when a level change moves the deadlines), and the due index's key.
    acknowledged_at = UTCDateTimeAttribute(null=True)
    on_site_at = UTCDateTimeAttribute(null=True)
    resolved_at = UTCDateTimeAttribute(null=True)
    response_breached_at = UTCDateTimeAttribute(null=True)
    onsite_breached_at = UTCDateTimeAttribute(null=True)
    resolution_breached_at = UTCDateTimeAttribute(null=True)
    escalation_step = NumberAttribute(null=True)
    sla_version = NumberAttribute(null=True)
    notified_version = NumberAttribute(null=True)
    sla_plan = JSONAttribute(null=True)
    next_due_at = UnicodeAttribute(null=True)
    sla_due = UnicodeAttribute(null=True)

    # "<a>#<b>" of two list dimensions (see LIST_DIMENSIONS); written by access.set_list_keys
    school_status = UnicodeAttribute(null=True)
    school_level = UnicodeAttribute(null=True)
    assignee_school = UnicodeAttribute(null=True)
    assignee_status = UnicodeAttribute(null=True)
    assignee_level = UnicodeAttribute(null=True)
    status_level = UnicodeAttribute(null=True)

    # Open311 (domain.open311): the service it was requested as (kept from the first write), and the sparse
    # list keys written by access.set_list_keys for requests (school reports that are not merged duplicates).
    open311_service = UnicodeAttribute(null=True)
    open311_month = UnicodeAttribute(null=True)  # "2026-11"
    open311_month_service = UnicodeAttribute(null=True)  # "2026-11#not_lit"
    open311_sort = UnicodeAttribute(null=True)  # "open#2026-11-29T07:01:18.000000Z"

    by_open_room_case = TicketsByOpenRoomCase()
    by_ref = TicketsByRef()
    by_public_ref = TicketsByPublicRef()
    by_school = _due_index("by_school", "school_id")()
    by_assignee = _due_index("by_assignee", "assignee_id")()
    by_status = _due_index("by_status", "status")()
    by_level = _due_index("by_level", "level_key")()
    by_school_status = _due_index("by_school_status", "school_status")()
    by_school_level = _due_index("by_school_level", "school_level")()
    by_assignee_school = _due_index("by_assignee_school", "assignee_school")()
    by_assignee_status = _due_index("by_assignee_status", "assignee_status")()
    by_assignee_level = _due_index("by_assignee_level", "assignee_level")()
    by_status_level = _due_index("by_status_level", "status_level")()
    by_open311_month = _open311_index("by_open311_month", "open311_month")()
    by_open311_month_service = _open311_index("by_open311_month_service", "open311_month_service")()
    by_next_due = TicketsByNextDue()
    by_work = TicketsByWork()
    by_sync = TicketsBySync()


# A list's dimensions (query parameter -> the ticket attribute holding its value) and, for each
# set of one or two of them, the index and attribute that answer exactly that list.
LIST_DIMENSIONS = {"school_id": "school_id", "assignee_id": "assignee_id", "status": "status", "level": "level_key"}
LIST_INDEXES: dict[frozenset[str], tuple[str, str]] = {
    frozenset({"school_id"}): ("by_school", "school_id"),
    frozenset({"assignee_id"}): ("by_assignee", "assignee_id"),
    frozenset({"status"}): ("by_status", "status"),
    frozenset({"level"}): ("by_level", "level_key"),
    frozenset({"school_id", "status"}): ("by_school_status", "school_status"),
    frozenset({"school_id", "level"}): ("by_school_level", "school_level"),
    frozenset({"assignee_id", "school_id"}): ("by_assignee_school", "assignee_school"),
    frozenset({"assignee_id", "status"}): ("by_assignee_status", "assignee_status"),
    frozenset({"assignee_id", "level"}): ("by_assignee_level", "assignee_level"),
    frozenset({"status", "level"}): ("by_status_level", "status_level"),
}
# The order of the parts in a composite value.
DIMENSION_ORDER = ["assignee_id", "school_id", "status", "level"]


class TicketEventModel(Model):
    """Immutable: written once with attribute_not_exists, in the ticket's own transaction."""

    class Meta:
        table_name = "ticket-events"

    ticket_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()
    actor_role = UnicodeAttribute(default="")
    action = UnicodeAttribute()
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute()
    before = JSONAttribute(default=dict)
    after = JSONAttribute(default=dict)
    note = UnicodeAttribute(default="")


class VisitMessageModel(Model):
    """Messages sent to the school about a visit (the ETA SMS, D-S7) with their delivery result. Put
    (pending) in the ticket's transaction, so a retried request never sends twice; the result is
    written once SNS has answered."""

    class Meta:
        table_name = "visit-messages"

    ticket_id = UnicodeAttribute(hash_key=True)
    message_key = UnicodeAttribute(range_key=True)  # "<purpose>#<event seq>", e.g. "eta#4"
    purpose = UnicodeAttribute()  # eta
    channel = UnicodeAttribute(default="sms")
    to = UnicodeAttribute(default="")  # the contact's phone (personal data: masked in answers)
    to_name = UnicodeAttribute(default="")
    message = UnicodeAttribute(default="")
    at = UTCDateTimeAttribute()
    result = UnicodeAttribute(default="pending")  # pending, sent, failed
    message_id = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)


register(TicketModel)
register(TicketEventModel)
register(VisitMessageModel)
