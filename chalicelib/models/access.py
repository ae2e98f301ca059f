"""Named access patterns over the registry and ticket tables: every read and every write.

Services call these; nothing above `chalicelib/models/` touches pynamodb. Every list is a
Query on a key or an index, paginated by DynamoDB's own LastEvaluatedKey. Every write that
changes more than one item is one transaction assembled here, with its conditions and
counters; a refused transaction becomes the domain error its cancellation reasons explain
(`transactions.TransactionRefused`), never a guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import QueryError
from pynamodb.models import Model

from chalicelib.domain import open311
from chalicelib.domain.assets import LampStatus, room_prefix
from chalicelib.domain.lifecycle import OPEN_STATES, Status
from chalicelib.errors import (
    AlreadyApplied,
    Conflict,
    DomainError,
    FieldProblem,
    InvalidQuery,
    NotFound,
    StaleVersion,
    WriteConflict,
)
from chalicelib.models import sla
from chalicelib.models.base import bind_tables
from chalicelib.models.registry import (
    ContractModel,
    CounterModel,
    LampHistoryModel,
    LampModel,
    RoomModel,
    SchoolModel,
    UniqueKeyModel,
    UserModel,
)
from chalicelib.models.report_aggregates import add_report_counters
from chalicelib.models.sla_policies import SlaPolicyRevisionModel
from chalicelib.models.tickets import (
    DIMENSION_ORDER,
    LIST_INDEXES,
    TicketEventModel,
    TicketModel,
    VisitMessageModel,
)
from chalicelib.models.transactions import Transaction, TransactionRefused
from chalicelib.models.write_guards import GUARD_LABEL, add_guard

if TYPE_CHECKING:
    from chalicelib.guards import SealedGuard

T = TypeVar("T", bound=Model)


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_key: dict[str, Any] | None


def _connection() -> Connection:
    bind_tables()
    return TicketModel._get_connection().connection


def _get(model: type[T], *key: Any, what: str) -> T:
    bind_tables()
    try:
        return model.get(*key)
    except model.DoesNotExist as exc:
        raise NotFound(f"{what} '{key[-1]}' does not exist") from exc


def _cursor(
    cursor: dict[str, Any] | None, model: type[Model], index: Any = None, hash_value: str | None = None
) -> dict[str, Any] | None:
    """Refuses a cursor that is not a key of this list before DynamoDB sees it.

    DynamoDB answers a foreign ExclusiveStartKey with a ValidationException, but a cursor with the
    wrong attribute names or value types can fail in the client or the emulator instead (a 500).
    """
    if cursor is None:
        return None
    attrs = [model._hash_key_attribute(), model._range_key_attribute()]
    if index is not None:
        index_attrs = [a for a in type(index).Meta.attributes.values() if a.is_hash_key or a.is_range_key]
        attrs += index_attrs
        query_hash = next(a for a in index_attrs if a.is_hash_key)
    else:
        query_hash = attrs[0]
    expected = {a.attr_name: a.attr_type for a in attrs if a is not None}
    valid = set(cursor) == set(expected) and all(
        isinstance(cursor[name], dict) and set(cursor[name]) == {kind} and isinstance(cursor[name][kind], str)
        for name, kind in expected.items()
    )
    if valid and hash_value is not None:
        valid = cursor[query_hash.attr_name] == {query_hash.attr_type: hash_value}
    if not valid:
        raise InvalidQuery(
            "the cursor does not belong to this list", details=[FieldProblem("query.cursor", "not valid for this list")]
        )
    return cursor


def _page(query: Any) -> Page[Any]:
    try:
        items = list(query)
    except QueryError as exc:
        if (
            "ValidationException" in str(getattr(exc, "cause_response_code", ""))
            or exc.cause_response_code == "ValidationException"
        ):
            raise InvalidQuery(
                "the cursor does not belong to this list",
                details=[FieldProblem("query.cursor", "not valid for this list")],
            ) from exc
        raise
    return Page(items, query.last_evaluated_key)


# ---- counters ---------------------------------------------------------------------


def reserve_numbers(name: str, count: int = 1) -> int:
    """Atomically reserves `count` numbers; returns the first. Gaps are possible if a later write fails."""
    bind_tables()
    counter = CounterModel(name)
    counter.update(actions=[CounterModel.value.add(count)])
    return int(counter.value) - count + 1


# ---- contracts, schools, rooms, users ------------------------------------------------


def get_contract(contract_id: str) -> ContractModel:
    return _get(ContractModel, contract_id, what="contract")


def get_school(school_id: str) -> SchoolModel:
    return _get(SchoolModel, school_id, what="school")


def get_user(user_id: str) -> UserModel:
    return _get(UserModel, user_id, what="user")


def query_schools(contract_id: str | None, limit: int, cursor: dict[str, Any] | None) -> Page[SchoolModel]:
    bind_tables()
    if contract_id:
        cursor = _cursor(cursor, SchoolModel, SchoolModel.by_contract, contract_id)
        return _page(SchoolModel.by_contract.query(contract_id, limit=limit, last_evaluated_key=cursor))
    cursor = _cursor(cursor, SchoolModel, SchoolModel.by_name, "school")
    return _page(SchoolModel.by_name.query("school", limit=limit, last_evaluated_key=cursor))


def query_rooms(school_id: str) -> list[RoomModel]:
    bind_tables()
    return list(RoomModel.query(school_id))


def room_exists(school_id: str, room_id: str) -> bool:
    bind_tables()
    try:
        RoomModel.get(school_id, room_id, attributes_to_get=["room_id"])
    except RoomModel.DoesNotExist:
        return False
    return True


def get_room(school_id: str, room_id: str) -> RoomModel:
    return _get(RoomModel, school_id, room_id, what="room")


# ---- lamps ----------------------------------------------------------------------------


def get_lamp(lamp_id: str) -> LampModel:
    return _get(LampModel, lamp_id, what="lamp")


def batch_get_lamps(lamp_ids: Sequence[str]) -> dict[str, LampModel]:
    bind_tables()
    return {lamp.lamp_id: lamp for lamp in LampModel.batch_get(list(dict.fromkeys(lamp_ids)))}


def find_lamp_by_qr_token(token: str) -> LampModel:
    """The lamp as the by_qr_token index projects it (what a scan shows), not the whole item."""
    bind_tables()
    found = list(LampModel.by_qr_token.query(token, limit=1))
    if not found:
        raise NotFound("this QR label is not (or no longer) valid")
    return found[0]


def query_lamps_in_school(
    school_id: str, room_id: str | None, limit: int, cursor: dict[str, Any] | None
) -> Page[LampModel]:
    bind_tables()
    condition = LampModel.location_key.startswith(room_prefix(room_id)) if room_id else None
    cursor = _cursor(cursor, LampModel, LampModel.by_location, school_id)
    return _page(LampModel.by_location.query(school_id, condition, limit=limit, last_evaluated_key=cursor))


def all_lamps_in_school(school_id: str, room_id: str | None = None) -> list[LampModel]:
    bind_tables()
    condition = LampModel.location_key.startswith(room_prefix(room_id)) if room_id else None
    return list(LampModel.by_location.query(school_id, condition))


def query_lamp_history(lamp_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[LampHistoryModel]:
    bind_tables()
    cursor = _cursor(cursor, LampHistoryModel, hash_value=lamp_id)
    return _page(LampHistoryModel.query(lamp_id, limit=limit, last_evaluated_key=cursor))


def registered_serials(serials: Iterable[str]) -> dict[str, UniqueKeyModel]:
    """serial -> its guard (lamp id and school) for the serials already registered (BatchGet, 100 keys a call)."""
    bind_tables()
    keys = [f"serial#{s}" for s in dict.fromkeys(serials)]
    return {u.key.removeprefix("serial#"): u for u in UniqueKeyModel.batch_get(keys)}


def add_rooms(rooms: Iterable[RoomModel]) -> None:
    """Rooms named by an import; writing one twice is harmless (same key, same content)."""
    bind_tables()
    with RoomModel.batch_write() as batch:
        for room in rooms:
            batch.save(room)


def _commit(tx: Transaction) -> None:
    try:
        tx.commit(_connection())
    except TransactionRefused as exc:
        if GUARD_LABEL in exc.failed:  # the key was used before: whatever else failed, it is a retry
            raise AlreadyApplied("this Idempotency-Key was used before") from exc
        raise


def _unexpected(exc: TransactionRefused, what: str) -> DomainError:
    """A refusal no rule explains: another writer held an item, or records are out of step."""
    if exc.contended:
        return WriteConflict(f"{what} is being changed by another request; retry")
    return WriteConflict(
        f"{what} could not be written: its stored records are out of step; reload and retry",
        extra={"refused": exc.failed},
    )


def _ticket_changed(ticket_id: str, message: str) -> StaleVersion:
    """A ticket's version condition failed: the refusal carries its current version and status."""
    current = get_ticket(ticket_id)
    return StaleVersion(message, extra={"current_version": current.version, "current_status": current.status})


def serial_guard(lamp: LampModel) -> UniqueKeyModel:
    """A serial is registered once (D-A1); the guard also says where, so re-imports need no lamp reads."""
    return UniqueKeyModel(
        f"serial#{lamp.serial}", owner_id=lamp.lamp_id, scope=lamp.school_id, place=f"{lamp.room_id}#{lamp.position}"
    )


def history_entry(
    lamp_id: str,
    at: dt.datetime,
    kind: str,
    *,
    ref: str = "",
    actor: str = "",
    summary: str = "",
    data: dict[str, Any] | None = None,
) -> LampHistoryModel:
    """One line of a lamp's maintenance record (D-A2), keyed to sort chronologically."""
    return LampHistoryModel(
        lamp_id,
        f"{at.isoformat()}#{kind}#{ref}",
        at=at,
        kind=kind,
        ref=ref,
        actor=actor,
        summary=summary,
        data=data or {},
    )


def _serial_taken(serial: str) -> Conflict:
    return Conflict(
        f"a lamp with serial '{serial}' is already registered", details=[FieldProblem("serial", "already registered")]
    )


def _create_with_code(item: ContractModel | SchoolModel, key_attr: Any, kind: str, item_id: str, code: str) -> None:
    """The item and a guard on its code, in one transaction: a code names one contract or school (D-A4)."""
    tx = Transaction()
    tx.put(item, condition=key_attr.does_not_exist(), label=kind)
    tx.put(
        UniqueKeyModel(f"{kind}-code#{code.upper()}", owner_id=item_id),
        condition=UniqueKeyModel.key.does_not_exist(),
        label="code",
    )
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if "code" in exc.failed:
            raise Conflict(
                f"a {kind} with code '{code}' already exists",
                details=[FieldProblem("code", f"already used by another {kind}")],
            ) from exc
        raise _unexpected(exc, f"the {kind}") from exc


def create_contract(contract: ContractModel) -> None:
    """Contract codes are unique, like school codes (D-A4: records of projects never mix)."""
    _create_with_code(contract, ContractModel.contract_id, "contract", contract.contract_id, contract.code)


def create_school(school: SchoolModel) -> None:
    _create_with_code(school, SchoolModel.school_id, "school", school.school_id, school.code)


def _add_lamp(tx: Transaction, lamp: LampModel, history: LampHistoryModel) -> None:
    tx.put(lamp, condition=LampModel.lamp_id.does_not_exist(), label=f"lamp:{lamp.lamp_id}")
    tx.put(serial_guard(lamp), condition=UniqueKeyModel.key.does_not_exist(), label=f"serial:{lamp.serial}")
    tx.put(history, label=f"history:{lamp.lamp_id}")


def register_lamp(lamp: LampModel, history: LampHistoryModel, new_room: RoomModel | None) -> None:
    """The lamp, its serial guard and its first history entry, and its room if new: all or nothing."""
    tx = Transaction()
    _add_lamp(tx, lamp, history)
    if new_room is not None:
        tx.put(new_room, label="room")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if exc.failed_with("serial:"):
            raise _serial_taken(lamp.serial) from exc
        raise _unexpected(exc, "the lamp") from exc


LAMPS_PER_TRANSACTION = 33  # lamp, serial guard, history entry: 99 items of DynamoDB's 100


def register_lamps(lamps: Sequence[tuple[LampModel, LampHistoryModel]]) -> list[LampModel]:
    """Registers lamps in transactions of 33; returns the lamps refused because their serial was
    registered meanwhile. A refused chunk is retried without the serials its refusal names, so
    every lamp is either created or returned: an import report always adds up."""
    refused: list[LampModel] = []
    for start in range(0, len(lamps), LAMPS_PER_TRANSACTION):
        chunk = list(lamps[start : start + LAMPS_PER_TRANSACTION])
        while chunk:
            tx = Transaction()
            for lamp, history in chunk:
                _add_lamp(tx, lamp, history)
            try:
                _commit(tx)
                break
            except TransactionRefused as exc:
                taken = set(exc.failed_with("serial:"))
                if not taken and not exc.contended:
                    raise _unexpected(exc, "the import") from exc
                refused += [lamp for lamp, _ in chunk if lamp.serial in taken]
                chunk = [(lamp, history) for lamp, history in chunk if lamp.serial not in taken]
    return refused


def rotate_qr_token(lamp: LampModel, token: str, history: LampHistoryModel) -> None:
    tx = Transaction()
    tx.update(lamp, [LampModel.qr_token.set(token)], condition=LampModel.lamp_id.exists(), label="lamp")
    tx.put(history, label="history")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        raise _unexpected(exc, "the lamp") from exc
    lamp.qr_token = token


def replace_lamp(old: LampModel, new: LampModel, old_history: LampHistoryModel, new_history: LampHistoryModel) -> None:
    """D-A2: the old unit leaves its place (and the location index) as the new one takes it."""
    tx = Transaction()
    tx.update(
        old,
        [
            LampModel.status.set(LampStatus.REPLACED.value),
            LampModel.successor_id.set(new.lamp_id),
            LampModel.location_key.remove(),
        ],
        condition=(LampModel.status == LampStatus.IN_SERVICE.value) & LampModel.successor_id.does_not_exist(),
        label="old",
    )
    _add_lamp(tx, new, new_history)
    tx.put(old_history, label="old_history")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if exc.failed_with("serial:"):
            raise _serial_taken(new.serial) from exc
        if "old" in exc.failed:
            raise Conflict(f"lamp '{old.lamp_id}' changed while it was being replaced; reload and retry") from exc
        raise _unexpected(exc, "the lamp") from exc
    old.status, old.successor_id, old.location_key = LampStatus.REPLACED.value, new.lamp_id, None


# ---- tickets ----------------------------------------------------------------------------


def due_key(onsite_due: dt.datetime, ticket_id: str) -> str:
    return f"{onsite_due.astimezone(dt.UTC).isoformat()}#{ticket_id}"


def _set_list_keys(ticket: TicketModel) -> None:
    """Keeps every list index in step with the ticket's school, assignee, status, level and deadline."""
    ticket.level_key = str(int(ticket.level))
    ticket.due_key = due_key(ticket.onsite_due, ticket.ticket_id)
    values = {
        "school_id": ticket.school_id,
        "assignee_id": ticket.assignee_id,
        "status": ticket.status,
        "level": ticket.level_key,
    }
    for dimensions, (_, attribute) in LIST_INDEXES.items():
        if len(dimensions) < 2:
            continue
        parts = [values[d] for d in DIMENSION_ORDER if d in dimensions]
        setattr(ticket, attribute, "#".join(parts) if all(parts) else None)  # sparse: no assignee, no entry
    joinable = ticket.room_id and Status(ticket.status) in OPEN_STATES
    ticket.room_open_key = f"{ticket.school_id}#{ticket.room_id}" if joinable else None
    _set_open311_keys(ticket)
    sla.set_timer_keys(ticket)  # the milestones as attributes and the due index's key (issue 10)
    _set_visit_keys(ticket)


def _set_open311_keys(ticket: TicketModel) -> None:
    """Open311 lists (domain.open311): a request is listed under its month, service and open/closed state.
    The service is the one it was requested as, kept from the first write (triage may change the category).
    A merged duplicate leaves the lists: its state is its target's, which changes without it being written."""
    if not open311.is_request(ticket.source, int(ticket.report_count or 1)):  # items older than the count: 1
        return
    if not ticket.open311_service:
        ticket.open311_service = open311.service_code_for(ticket.category)
    state = open311.request_status(Status(ticket.status))
    if state is None:
        ticket.open311_month = ticket.open311_month_service = ticket.open311_sort = None
        return
    month = open311.month_of(ticket.reported_at)
    ticket.open311_month = month
    ticket.open311_month_service = f"{month}#{ticket.open311_service}"
    ticket.open311_sort = open311.sort_key(state, ticket.reported_at)


class CaseMoved(Exception):
    """A lamp's open case changed between the read and the write (another report opened one): re-read, join."""


def _lamp_opens_case(tx: Transaction, lamp_id: str, ticket_id: str, expected_case: str | None | bool) -> None:
    """+1 open fault on the lamp and the case a scan of it joins; `expected_case` (False: don't check) is the
    lamp's open case as the caller read it, so that concurrent reports on one lamp make one case."""
    condition = LampModel.lamp_id.exists() & LampModel.successor_id.does_not_exist()
    if expected_case is None:
        condition &= LampModel.open_case_id.does_not_exist()
    elif expected_case is not False:
        condition &= LampModel.open_case_id == expected_case
    tx.update(
        LampModel(lamp_id),
        [LampModel.open_tickets.add(1), LampModel.open_case_id.set(ticket_id)],
        condition=condition,
        label=f"lamp:{lamp_id}",
    )


def _raise_for_lamps(exc: TransactionRefused, expected_case: str | None | bool) -> None:
    refused = exc.failed_with("lamp:")
    if not refused:
        return
    if expected_case is not False:
        lamp = batch_get_lamps(refused).get(refused[0])
        if lamp is not None and not lamp.successor_id:
            raise CaseMoved(refused[0]) from exc
    raise Conflict(
        "a lamp of this ticket was replaced meanwhile; reload and retry",
        details=[FieldProblem("lamp_ids", f"'{lamp}' was replaced") for lamp in refused],
    ) from exc


def open_ticket(
    ticket: TicketModel,
    event: TicketEventModel,
    lamp_histories: Sequence[LampHistoryModel],
    expected_case: str | None | bool = False,
) -> None:
    """The ticket, its first audit event, +1 open fault on each lamp (which now points at this case)
    and each lamp's history line. With `expected_case` (a school report: one lamp), raises `CaseMoved`
    if the lamp's open case is no longer the one read: the report then joins that case instead."""
    _set_list_keys(ticket)
    tx = Transaction()
    tx.put(ticket, label="ticket")
    tx.put(event, condition=TicketEventModel.seq.does_not_exist(), label="event")
    add_report_counters(tx, ticket, event.action)  # issue 13: the report rows, in the change's transaction
    for history in lamp_histories:
        _lamp_opens_case(tx, history.lamp_id, ticket.ticket_id, expected_case)
        tx.put(history, label=f"history:{history.lamp_id}")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        _raise_for_lamps(exc, expected_case)
        raise _unexpected(exc, "the ticket") from exc


def join_case(
    ticket: TicketModel,
    event: TicketEventModel,
    added_lamp: LampHistoryModel | None = None,
    expected_case: str | None | bool = False,
) -> None:
    """A further report joins an open case: the changed ticket (version-checked: `StaleVersion` if it changed
    since it was read), its audit event, and the reported lamp if the case did not include it yet."""
    _set_list_keys(ticket)
    tx = Transaction()
    tx.put(ticket, label="ticket")
    tx.put(event, condition=TicketEventModel.seq.does_not_exist(), label="event")
    add_report_counters(tx, ticket, event.action)  # issue 13: the report rows, in the change's transaction
    if added_lamp is not None:
        _lamp_opens_case(tx, added_lamp.lamp_id, ticket.ticket_id, expected_case)
        tx.put(added_lamp, label=f"history:{added_lamp.lamp_id}")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if "ticket" in exc.failed:
            raise _ticket_changed(ticket.ticket_id, "the case changed meanwhile") from exc
        _raise_for_lamps(exc, expected_case)
        raise _unexpected(exc, "the case") from exc


def find_open_room_case(school_id: str, room_id: str, since: dt.datetime) -> str | None:
    """The newest case still open in this room reported at or after `since`, if any (one Query, keys only)."""
    bind_tables()
    found = list(
        TicketModel.by_open_room_case.query(
            f"{school_id}#{room_id}", TicketModel.reported_at >= since, scan_index_forward=False, limit=1
        )
    )
    return found[0].ticket_id if found else None


def apply_transition(
    ticket: TicketModel,
    event: TicketEventModel,
    lamp_ids: Sequence[str],
    open_fault_delta: int,
    lamp_histories: Sequence[LampHistoryModel],
    guard: SealedGuard | None = None,
    extra: Callable[[Transaction], None] | None = None,
    explain: Callable[[TransactionRefused], None] | None = None,
) -> None:
    """Writes a changed ticket (its VersionAttribute: only if nobody changed it since it was read),
    its audit event, the open-fault counter of its lamps and their history lines, all or nothing;
    with a mobile write's guard (a used key: `AlreadyApplied`) and `extra` writes of the same change
    (e.g. parts taken from stock; `explain` turns their refusals into domain errors first). A stale version
    is `StaleVersion` with the current version and status."""
    met = sla.newly_met(ticket)  # before the keys are set: the milestones this change meets
    _set_list_keys(ticket)
    tx = Transaction()
    add_guard(tx, guard)
    if extra is not None:
        extra(tx)
    tx.put(ticket, label="ticket")
    tx.put(event, condition=TicketEventModel.seq.does_not_exist(), label="event")
    add_report_counters(tx, ticket, event.action)  # issue 13: the report rows, in the change's transaction
    for record, actions in sla.met_record_updates(ticket, met):  # a breached milestone met: when, how late
        tx.update(record, actions, label=f"sla-record:{record.record_key}")
    if open_fault_delta:
        for lamp_id in lamp_ids:
            tx.update(
                LampModel(lamp_id),
                [LampModel.open_tickets.add(open_fault_delta)],
                condition=LampModel.lamp_id.exists(),
                label=f"lamp:{lamp_id}",
            )
    for history in lamp_histories:
        tx.put(history, label=f"history:{history.lamp_id}")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if explain is not None:
            explain(exc)
        if "ticket" in exc.failed:
            raise _ticket_changed(
                ticket.ticket_id, "the ticket was changed by someone else meanwhile; reload it"
            ) from exc
        raise _unexpected(exc, "the ticket") from exc


def get_ticket(ticket_id: str) -> TicketModel:
    return _get(TicketModel, ticket_id, what="ticket")


def find_ticket_by_ref(ref: str) -> TicketModel:
    bind_tables()
    keys = list(TicketModel.by_ref.query(ref, limit=1))
    if not keys:
        raise NotFound(f"ticket '{ref}' does not exist")
    return get_ticket(keys[0].ticket_id)


def find_ticket_by_public_ref(public_ref: str) -> TicketModel:
    """The reporter's handle; an unknown one says nothing about what exists."""
    bind_tables()
    keys = list(TicketModel.by_public_ref.query(public_ref, limit=1))
    if not keys:
        raise NotFound("no report has this reference")
    return get_ticket(keys[0].ticket_id)


def list_index_for(dimensions: Iterable[str]) -> tuple[str, str] | None:
    """The index answering a list by exactly these dimensions, or None if no index does."""
    return LIST_INDEXES.get(frozenset(dimensions))


def query_tickets(filters: dict[str, str], *, limit: int, cursor: dict[str, Any] | None) -> Page[TicketModel]:
    """Tickets matching every filter (one or two of LIST_DIMENSIONS), oldest on-site deadline first.
    One Query on the index of exactly that combination: a page is never shorter than `limit` unless
    it is the last."""
    bind_tables()
    chosen = list_index_for(filters)
    if chosen is None:
        raise InvalidQuery(
            "list tickets by one or two of: school_id, assignee_id, status, level",
            details=[FieldProblem("query", f"the combination {', '.join(sorted(filters))} is not listed")],
        )
    index_name, _ = chosen
    key = "#".join(filters[d] for d in DIMENSION_ORDER if d in filters)
    gsi = getattr(TicketModel, index_name)
    cursor = _cursor(cursor, TicketModel, gsi, key)
    return _page(gsi.query(key, limit=limit, last_evaluated_key=cursor))


def query_ticket_events(ticket_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[TicketEventModel]:
    bind_tables()
    cursor = _cursor(cursor, TicketEventModel, hash_value=ticket_id)
    return _page(TicketEventModel.query(ticket_id, limit=limit, last_evaluated_key=cursor))


# ---- SLA policies (D-S5) ---------------------------------------------------------------------


def get_sla_policy_revision(contract_id: str, revision: int) -> SlaPolicyRevisionModel:
    return _get(SlaPolicyRevisionModel, contract_id, revision, what="SLA policy revision")


def save_sla_policy(
    contract: ContractModel, revision: SlaPolicyRevisionModel, replaced: SlaPolicyRevisionModel | None
) -> None:
    """Makes `revision` the contract's policy if the contract still has the revision it was read with (else
    StaleVersion naming the current one), and keeps `revision` (and the first revision it replaces, which
    the contract alone held until now) in the revisions table. All or nothing."""
    read = int(contract.policy_revision or 1)
    unchanged = ContractModel.policy_revision == read
    if read == 1:
        unchanged = ContractModel.policy_revision.does_not_exist() | unchanged
    tx = Transaction()
    tx.update(
        ContractModel(contract.contract_id),
        [
            ContractModel.policy.set(revision.policy),
            ContractModel.policy_revision.set(revision.revision),
            ContractModel.policy_updated_at.set(revision.effective_from),
            ContractModel.policy_updated_by.set(revision.updated_by),
        ],
        condition=ContractModel.contract_id.exists() & unchanged,
        label="contract",
    )
    tx.put(revision, condition=SlaPolicyRevisionModel.revision.does_not_exist(), label="revision")
    if replaced is not None:
        tx.put(replaced, label="replaced")
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if "contract" in exc.failed or "revision" in exc.failed:
            current = get_contract(contract.contract_id)
            raise StaleVersion(
                "the SLA policy was changed by someone else meanwhile; reload it",
                extra={"current_version": int(current.policy_revision or 1)},
            ) from exc
        raise _unexpected(exc, "the SLA policy") from exc


__all__ = [
    "ContractModel",
    "CounterModel",
    "LampHistoryModel",
    "LampModel",
    "RoomModel",
    "SchoolModel",
    "SlaPolicyRevisionModel",
    "TicketEventModel",
    "TicketModel",
    "UniqueKeyModel",
    "UserModel",
]


# ---- the engineer's visit (issue 11) ------------------------------------------------------------

# Statuses in which a visit is still to do once resolved: the school signs, the engineer checks out.
_VISIT_TAIL = frozenset({Status.RESOLVED, Status.SIGNED_OFF})


def sync_at(updated_at: dt.datetime, ticket_id: str) -> str:
    """Fixed-width UTC text: sorts as time does whatever the offset a datetime carried."""
    return f"{updated_at.astimezone(dt.UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{ticket_id}"


def _set_visit_keys(ticket: TicketModel) -> None:
    """The work list's sparse key (the assignee while the visit is to do) and the sync index's keys."""
    status = Status(ticket.status)
    to_do = status in OPEN_STATES or (status in _VISIT_TAIL and not ticket.check_out)
    ticket.work_key = ticket.assignee_id if ticket.assignee_id and to_do else None
    ticket.sync_key = ticket.assignee_id or None
    ticket.sync_at = sync_at(ticket.updated_at, ticket.ticket_id) if ticket.assignee_id else None


def query_work(engineer_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[TicketModel]:
    """The engineer's tickets whose visit is to do, nearest on-site deadline first (one Query)."""
    bind_tables()
    cursor = _cursor(cursor, TicketModel, TicketModel.by_work, engineer_id)
    return _page(TicketModel.by_work.query(engineer_id, limit=limit, last_evaluated_key=cursor))


def query_changes(engineer_id: str, after: str, limit: int) -> list[TicketModel]:
    """The engineer's tickets changed after the `sync_at` value `after`, oldest change first (one Query)."""
    bind_tables()
    condition = TicketModel.sync_at > after if after else None  # none: from the start
    return list(TicketModel.by_sync.query(engineer_id, condition, limit=limit))


def batch_get_schools(school_ids: Sequence[str]) -> dict[str, SchoolModel]:
    bind_tables()
    return {s.school_id: s for s in SchoolModel.batch_get(list(dict.fromkeys(school_ids)))}


def recent_lamp_history(lamp_id: str, limit: int) -> list[LampHistoryModel]:
    """A lamp's latest history lines, newest first (one Query)."""
    bind_tables()
    return list(LampHistoryModel.query(lamp_id, scan_index_forward=False, limit=limit))


def add_message(tx: Transaction, message: VisitMessageModel) -> None:
    """A message to send, claimed in the change's own transaction: written once, so sent once."""
    tx.put(message, condition=VisitMessageModel.message_key.does_not_exist(), label="message")


def record_message_result(message: VisitMessageModel, message_id: str | None, error: str | None) -> None:
    bind_tables()
    outcome = VisitMessageModel.message_id.set(message_id) if message_id else VisitMessageModel.error.set(error or "")
    message.update(actions=[VisitMessageModel.result.set("sent" if message_id else "failed"), outcome])


def query_visit_messages(ticket_id: str, limit: int = 20) -> list[VisitMessageModel]:
    bind_tables()
    return list(VisitMessageModel.query(ticket_id, limit=limit))


@dataclass
class WorkContext:
    """What a work record reads besides the ticket, in one BatchGetItem: the engineer's van (its guard item
    names it) and, for a unit swap, the ticket's lamps, the school, the contract and the school's asset
    counter (the new unit's number is taken in the write's own transaction, conditioned on this value)."""

    van_id: str | None = None
    lamps: dict[str, LampModel] | None = None
    school: SchoolModel | None = None
    contract: ContractModel | None = None
    counter: int = 0


def get_work_context(
    van_of: str | None, lamp_ids: Sequence[str] = (), school_id: str = "", contract_id: str = "", counter: str = ""
) -> WorkContext:
    bind_tables()
    wanted: dict[str, dict[str, Any]] = {}
    if van_of:
        wanted[UniqueKeyModel.Meta.table_name] = {"Keys": [{"key": {"S": f"van#{van_of}"}}]}
    if lamp_ids:
        wanted[LampModel.Meta.table_name] = {
            "Keys": [{"lamp_id": {"S": i}} for i in dict.fromkeys(lamp_ids)],
            "ConsistentRead": True,
        }
        wanted[SchoolModel.Meta.table_name] = {"Keys": [{"school_id": {"S": school_id}}]}
        wanted[ContractModel.Meta.table_name] = {"Keys": [{"contract_id": {"S": contract_id}}]}
        wanted[CounterModel.Meta.table_name] = {"Keys": [{"name": {"S": counter}}], "ConsistentRead": True}
    context = WorkContext()
    if not wanted:
        return context
    found: dict[str, list[dict[str, Any]]] = {}
    while wanted:  # at most 100 keys: one round trip unless DynamoDB holds some back
        answer = _connection().client.batch_get_item(RequestItems=wanted)
        for table, items in answer.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        wanted = answer.get("UnprocessedKeys") or {}
    vans = [UniqueKeyModel.from_raw_data(i) for i in found.get(UniqueKeyModel.Meta.table_name, [])]
    context.van_id = vans[0].owner_id if vans else None
    if lamp_ids:
        context.lamps = {
            lamp.lamp_id: lamp for lamp in map(LampModel.from_raw_data, found.get(LampModel.Meta.table_name, []))
        }
        schools = found.get(SchoolModel.Meta.table_name) or []
        contracts = found.get(ContractModel.Meta.table_name) or []
        if not schools or not contracts:
            raise NotFound(f"the ticket's school '{school_id}' or contract '{contract_id}' does not exist")
        context.school = SchoolModel.from_raw_data(schools[0])
        context.contract = ContractModel.from_raw_data(contracts[0])
        counters = found.get(CounterModel.Meta.table_name) or []
        context.counter = int(CounterModel.from_raw_data(counters[0]).value or 0) if counters else 0
    return context


def add_lamp_swap(
    tx: Transaction,
    old: LampModel,
    new: LampModel,
    old_history: LampHistoryModel,
    new_history: LampHistoryModel,
    counter: str,
    counter_read: int,
) -> None:
    """`replace_lamp`'s writes (D-A2: the old unit keeps its history, the new one takes its place) added to
    another change's transaction: the work record that swapped the unit. The new unit's asset number is
    the school's counter + 1, taken here only if the counter still holds what was read."""
    unchanged = CounterModel.value == counter_read
    if counter_read == 0:
        unchanged = CounterModel.name.does_not_exist() | unchanged
    tx.update(
        CounterModel(counter), [CounterModel.value.set(counter_read + 1)], condition=unchanged, label="swap:counter"
    )
    tx.update(
        LampModel(old.lamp_id),
        [
            LampModel.status.set(LampStatus.REPLACED.value),
            LampModel.successor_id.set(new.lamp_id),
            LampModel.location_key.remove(),
        ],
        condition=(LampModel.status == LampStatus.IN_SERVICE.value) & LampModel.successor_id.does_not_exist(),
        label="swap:old",
    )
    _add_lamp(tx, new, new_history)
    tx.put(old_history, label="swap:old_history")


def raise_for_swap(exc: TransactionRefused, new_serial: str) -> None:
    """A swap's refusals: the new serial is registered already, or the old unit was replaced meanwhile."""
    if exc.failed_with("serial:"):
        raise Conflict(
            f"a lamp with serial '{new_serial}' is already registered",
            details=[FieldProblem("swap.new_serial", "already registered")],
        ) from exc
    if "swap:old" in exc.failed:
        raise Conflict("the old unit was replaced meanwhile; reload the ticket") from exc
    if "swap:counter" in exc.failed:
        raise WriteConflict("another lamp was registered at this school meanwhile; send the work again") from exc
