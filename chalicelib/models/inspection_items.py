"""An inspection visit's checklist items, a classroom's light readings over time, and a contract's
light targets (issue 12.3, 12.7; D-I3..D-I5).

- `inspection-items`: one item per lamp or room per visit (`item_key` "lamp#<lamp_id>" / "room#<room_id>"),
  overwritten while the visit is in progress (its completion, findings' tickets and sign-off are on the
  visit: models.inspections).
- `room-readings`: a room's readings keyed "<school_id>#<room_id>", ranged by the visit's start and id,
  so a room's history (the light trend) is ONE Query, oldest first, and a re-recorded reading in the same
  visit overwrites its line instead of adding one.
- `light-targets`: a contract's changes to GB 7793's targets, version-checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.domain.inspection_plans import VisitStatus
from chalicelib.errors import StaleVersion, WriteConflict
from chalicelib.guards import SealedGuard
from chalicelib.models.access import _commit  # the guard's refusal is AlreadyApplied, as for every guarded write
from chalicelib.models.base import bind_tables, register
from chalicelib.models.inspections import InspectionVisitModel
from chalicelib.models.registry import LampHistoryModel, LampModel, RoomModel
from chalicelib.models.tickets import TicketModel
from chalicelib.models.transactions import Transaction, TransactionRefused
from chalicelib.models.write_guards import add_guard

ITEM_LABEL = "inspection-item"
HISTORY_LABEL = "room-reading"
LAMP_HISTORY_LABEL = "lamp-history"
VISIT_LABEL = "inspection-visit"
PLACE_LABEL = "lamp-or-room"
IN_PROGRESS = VisitStatus.IN_PROGRESS.value
HISTORY_PAGE = 200  # readings a trend reads at most: ~16 years of monthly rounds


@register
class InspectionItemModel(Model):
    class Meta:
        table_name = "inspection-items"

    visit_id = UnicodeAttribute(hash_key=True)
    item_key = UnicodeAttribute(range_key=True)  # lamp#<lamp_id> | room#<room_id>
    kind = UnicodeAttribute()  # lamp | room
    school_id = UnicodeAttribute()
    room_id = UnicodeAttribute(default="")
    lamp_id = UnicodeAttribute(default="")
    checks = JSONAttribute(default=dict)  # lamp: the checklist; room: readings and flicker
    verdict = JSONAttribute(default=dict)  # what the rules said: problems / failed measures, targets used
    finding = BooleanAttribute(default=False)  # a fault left for a ticket (D-S6)
    category = UnicodeAttribute(null=True)
    fixed_on_spot = UnicodeAttribute(default="")
    note = UnicodeAttribute(default="")
    recorded_by = UnicodeAttribute(default="")
    recorded_at = UTCDateTimeAttribute()
    device_at = UTCDateTimeAttribute(null=True)


@register
class RoomReadingModel(Model):
    class Meta:
        table_name = "room-readings"

    room_key = UnicodeAttribute(hash_key=True)  # <school_id>#<room_id>
    reading_key = UnicodeAttribute(range_key=True)  # <visit started, fixed-width UTC>#<visit_id>
    visit_id = UnicodeAttribute()
    measured_at = UTCDateTimeAttribute()
    values = JSONAttribute()  # {measure: value or null}
    flicker_visible = BooleanAttribute(default=False)
    compliant = BooleanAttribute()
    recorded_by = UnicodeAttribute(default="")


@register
class LightTargetsModel(Model):
    class Meta:
        table_name = "light-targets"

    contract_id = UnicodeAttribute(hash_key=True)
    minimums = JSONAttribute(default=dict)  # {measure: minimum}: only the measures the contract changed
    flicker_allowed = BooleanAttribute(null=True)
    note = UnicodeAttribute(default="")
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    version = VersionAttribute()


def room_key(school_id: str, room_id: str) -> str:
    return f"{school_id}#{room_id}"


def reading_key(visit_started: dt.datetime, visit_id: str) -> str:
    return f"{visit_started.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{visit_id}"


class VisitClosed(Exception):
    """The visit is no longer open to its engineer's items (completed meanwhile, or reassigned)."""


class NotInSchool(Exception):
    """The lamp or room named is not one of the school's (a lamp: or was replaced)."""


def record_item(
    item: InspectionItemModel,
    reading: RoomReadingModel | None,
    guard: SealedGuard | None,
    *,
    assignee_id: str,
    history: LampHistoryModel | None = None,
) -> None:
    """The item (and a room's reading line) with the write's guard, in one transaction that also checks,
    without reading them first, that the visit is still in progress with this engineer and that the lamp
    (installed, not replaced) or the room is the school's. A key used before: `AlreadyApplied`."""
    tx = Transaction()
    add_guard(tx, guard)
    tx.check(
        InspectionVisitModel,
        item.visit_id,
        condition=(InspectionVisitModel.status == IN_PROGRESS) & (InspectionVisitModel.assignee_id == assignee_id),
        label=VISIT_LABEL,
    )
    if item.kind == "lamp":
        tx.check(
            LampModel,
            item.lamp_id,
            condition=(LampModel.school_id == item.school_id) & LampModel.successor_id.does_not_exist(),
            label=PLACE_LABEL,
        )
    else:
        tx.check(RoomModel, item.school_id, item.room_id, condition=RoomModel.room_id.exists(), label=PLACE_LABEL)
    tx.put(item, label=ITEM_LABEL)
    if reading is not None:
        tx.put(reading, label=HISTORY_LABEL)
    if history is not None:  # the lamp's record (D-A2): one line per visit, replaced with the item
        tx.put(history, label=LAMP_HISTORY_LABEL)
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if VISIT_LABEL in exc.failed:
            raise VisitClosed(item.visit_id) from exc
        if PLACE_LABEL in exc.failed:
            raise NotInSchool(item.item_key) from exc
        raise WriteConflict("the visit's checklist is being changed by another request; retry") from exc


def visit_items(visit_id: str) -> list[InspectionItemModel]:
    """Every item of the visit, the summary included (one Query, followed over its pages)."""
    bind_tables()
    return list(InspectionItemModel.query(visit_id, consistent_read=True))


def room_readings(school_id: str, room_id: str, limit: int = HISTORY_PAGE) -> list[RoomReadingModel]:
    """The room's readings, oldest first: the newest `limit` of them, in one Query."""
    bind_tables()
    newest_first = list(RoomReadingModel.query(room_key(school_id, room_id), scan_index_forward=False, limit=limit))
    return newest_first[::-1]


def get_targets(contract_id: str) -> LightTargetsModel | None:
    bind_tables()
    try:
        return LightTargetsModel.get(contract_id)
    except LightTargetsModel.DoesNotExist:
        return None


def put_targets(item: LightTargetsModel, expected_version: int | None) -> None:
    """Writes the contract's targets if its stored version is still `expected_version` (None: none stored)."""
    bind_tables()
    if expected_version is not None:  # else a new item: the save is conditioned on none existing
        item.version = expected_version
    try:
        item.save()  # VersionAttribute: conditioned on the version read (or on absence)
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        current = get_targets(item.contract_id)
        raise StaleVersion(
            "the contract's light targets changed meanwhile; reload them and apply the change again",
            extra={"current_version": int(current.version) if current is not None else 0},
        ) from exc


def batch_get_tickets(ticket_ids: Sequence[str]) -> dict[str, TicketModel]:
    """The findings' tickets as they are now (BatchGetItem, 100 a call)."""
    bind_tables()
    return {t.ticket_id: t for t in TicketModel.batch_get(list(dict.fromkeys(ticket_ids)))}


def existing_ticket_ids(ticket_ids: Sequence[str]) -> set[str]:
    """Which of these tickets exist (keys only, strongly consistent: a retry must see what its first
    attempt opened)."""
    bind_tables()
    keys = list(dict.fromkeys(ticket_ids))
    return {t.ticket_id for t in TicketModel.batch_get(keys, consistent_read=True, attributes_to_get=["ticket_id"])}
