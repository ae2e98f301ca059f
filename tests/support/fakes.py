"""In-memory fakes of the storage a use case needs (Powertools' rule: prefer fakes over mocks).

`InMemoryTicketStore` implements `chalicelib.services.tickets.TicketStore` with dicts: items are
the same pynamodb model classes the app stores, copied in and out (as DynamoDB would), and the
version and uniqueness conditions the real transactions hold are kept here too, so a rule that
depends on them can be tested without AWS, HTTP or moto.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pynamodb.models import Model

from chalicelib.errors import AlreadyApplied, NotFound, StaleVersion
from chalicelib.guards import SealedGuard
from chalicelib.models.access import (
    ContractModel,
    LampHistoryModel,
    LampModel,
    Page,
    SchoolModel,
    TicketEventModel,
    TicketModel,
    UserModel,
)

M = TypeVar("M", bound=Model)


def _copy(item: M) -> M:
    """What a read from a table gives: a new object, not the one that was written."""
    return type(item).from_raw_data(item.serialize(null_check=False))  # list keys are the real store's business


class InMemoryTicketStore:
    def __init__(self) -> None:
        self.schools: dict[str, SchoolModel] = {}
        self.contracts: dict[str, ContractModel] = {}
        self.users: dict[str, UserModel] = {}
        self.lamps: dict[str, LampModel] = {}
        self.tickets: dict[str, TicketModel] = {}
        self.events: dict[str, list[TicketEventModel]] = {}
        self.history: dict[str, list[LampHistoryModel]] = {}
        self._counters: dict[str, itertools.count[int]] = {}
        self.writes = 0  # transactions committed
        self.guards: dict[str, str] = {}  # guard id -> the stored answer

    # ---- set-up helpers for tests ----
    def add(self, *items: Model) -> None:
        for item in items:
            table = {
                SchoolModel: self.schools,
                ContractModel: self.contracts,
                UserModel: self.users,
                LampModel: self.lamps,
            }[type(item)]
            table[item._get_keys()[item._hash_keyname]] = _copy(item)  # type: ignore[index]

    # ---- TicketStore ----
    def _get(self, table: dict[str, M], key: str, what: str) -> M:
        if key not in table:
            raise NotFound(f"{what} '{key}' does not exist")
        return _copy(table[key])

    def get_school(self, school_id: str) -> SchoolModel:
        return self._get(self.schools, school_id, "school")

    def get_contract(self, contract_id: str) -> ContractModel:
        return self._get(self.contracts, contract_id, "contract")

    def get_user(self, user_id: str) -> UserModel:
        return self._get(self.users, user_id, "user")

    def batch_get_lamps(self, lamp_ids: Sequence[str]) -> dict[str, LampModel]:
        return {i: _copy(self.lamps[i]) for i in lamp_ids if i in self.lamps}

    def reserve_numbers(self, name: str, count: int = 1) -> int:
        counter = self._counters.setdefault(name, itertools.count(1))
        first = next(counter)
        for _ in range(count - 1):
            next(counter)
        return first

    def get_ticket(self, ticket_id: str) -> TicketModel:
        return self._get(self.tickets, ticket_id, "ticket")

    def find_ticket_by_ref(self, ref: str) -> TicketModel:
        for ticket in self.tickets.values():
            if ticket.ref == ref:
                return _copy(ticket)
        raise NotFound(f"ticket '{ref}' does not exist")

    def query_tickets(self, filters: dict[str, str], *, limit: int, cursor: dict[str, Any] | None) -> Page[TicketModel]:
        def matches(t: TicketModel) -> bool:
            values = {
                "school_id": t.school_id,
                "assignee_id": t.assignee_id,
                "status": t.status,
                "level": str(int(t.level)),
            }
            return all(values[k] == v for k, v in filters.items())

        found = sorted((t for t in self.tickets.values() if matches(t)), key=lambda t: (t.onsite_due, t.ticket_id))
        return Page([_copy(t) for t in found[:limit]], None)

    def query_ticket_events(self, ticket_id: str, limit: int, cursor: dict[str, Any] | None) -> Page[TicketEventModel]:
        return Page([_copy(e) for e in self.events.get(ticket_id, [])[:limit]], None)

    def open_ticket(
        self, ticket: TicketModel, event: TicketEventModel, lamp_histories: Sequence[LampHistoryModel]
    ) -> None:
        ticket.version = 1
        self.tickets[ticket.ticket_id] = _copy(ticket)
        self.events[ticket.ticket_id] = [_copy(event)]
        for history in lamp_histories:
            self.lamps[history.lamp_id].open_tickets += 1
            self.history.setdefault(history.lamp_id, []).append(_copy(history))
        self.writes += 1

    def apply_transition(
        self,
        ticket: TicketModel,
        event: TicketEventModel,
        lamp_ids: Sequence[str],
        open_fault_delta: int,
        lamp_histories: Sequence[LampHistoryModel],
        guard: SealedGuard | None = None,
        extra: Callable[[Any], None] | None = None,
    ) -> None:
        if guard is not None and guard.guard.guard_id in self.guards:
            raise AlreadyApplied("this Idempotency-Key was used before")
        stored = self.tickets[ticket.ticket_id]
        if stored.version != ticket.version:  # the VersionAttribute's condition
            raise StaleVersion(
                "the ticket was changed by someone else meanwhile; reload it",
                extra={"current_version": stored.version, "current_status": stored.status},
            )
        ticket.version = int(ticket.version) + 1
        self.tickets[ticket.ticket_id] = _copy(ticket)
        self.events[ticket.ticket_id].append(_copy(event))
        for lamp_id in lamp_ids:
            self.lamps[lamp_id].open_tickets += open_fault_delta
        for history in lamp_histories:
            self.history.setdefault(history.lamp_id, []).append(_copy(history))
        if guard is not None:
            self.guards[guard.guard.guard_id] = guard.answer_json
        self.writes += 1
