"""Named access patterns over the registry and ticket tables, and error translation.

Services call these; nothing above this module touches pynamodb. Every list is a
Query on a key or an index, paginated by DynamoDB's own LastEvaluatedKey.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import GetError, PutError, QueryError, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.domain.assets import room_prefix
from chalicelib.errors import Conflict, FieldProblem, InvalidQuery, NotFound
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
from chalicelib.models.tickets import TicketEventModel, TicketModel

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


def put_new(item: Model, *, conflict_message: str) -> None:
    """Creates an item that must not exist yet."""
    bind_tables()
    hash_attr = item._hash_keyname
    try:
        item.save(condition=getattr(type(item), hash_attr).does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(conflict_message) from exc
        raise


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


def batch_put(items: Iterable[Model]) -> None:
    """Unconditional writes in batches of 25 (imports of rows already checked for uniqueness)."""
    bind_tables()
    by_model: dict[type[Model], list[Model]] = {}
    for item in items:
        by_model.setdefault(type(item), []).append(item)
    for model, group in by_model.items():
        with model.batch_write() as batch:
            for item in group:
                batch.save(item)


def transact(write: Any) -> None:
    """Runs `write(transaction)` as one DynamoDB transaction: all of it happens or none."""
    with TransactWrite(connection=_connection()) as transaction:
        write(transaction)


# ---- tickets ----------------------------------------------------------------------------


def get_ticket(ticket_id: str) -> TicketModel:
    return _get(TicketModel, ticket_id, what="ticket")


def find_ticket_by_ref(ref: str) -> TicketModel:
    bind_tables()
    keys = list(TicketModel.by_ref.query(ref, limit=1))
    if not keys:
        raise NotFound(f"ticket '{ref}' does not exist")
    return get_ticket(keys[0].ticket_id)


def query_tickets(
    index: str, key: str, *, filter_condition: Any, limit: int, cursor: dict[str, Any] | None
) -> Page[TicketModel]:
    bind_tables()
    gsi = getattr(TicketModel, index)
    cursor = _cursor(cursor, TicketModel, gsi, key)
    return _page(gsi.query(key, filter_condition=filter_condition, limit=limit, last_evaluated_key=cursor))


def query_ticket_events(ticket_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[TicketEventModel]:
    bind_tables()
    cursor = _cursor(cursor, TicketEventModel, hash_value=ticket_id)
    return _page(TicketEventModel.query(ticket_id, limit=limit, last_evaluated_key=cursor))


__all__ = [
    "ContractModel",
    "CounterModel",
    "LampHistoryModel",
    "LampModel",
    "RoomModel",
    "SchoolModel",
    "TicketEventModel",
    "TicketModel",
    "UniqueKeyModel",
    "UserModel",
    "GetError",
    "TransactWriteError",
]
