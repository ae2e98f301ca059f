"""Mobile writes' Idempotency-Key, kept in the change's own transaction (chalicelib.guards).

Every POST the app makes is guarded: the key is required. A first request runs normally and its
answer is written with its change. A retry fails somewhere (the guard's condition, or a rule, since
the change already happened: a ticket already checked in cannot check in again), and is then
answered with the stored answer, so a phone that lost the first answer sees it again. A key reused
for another request is refused (422). Must never import chalice.
"""

from __future__ import annotations

import json
import time
from importlib import import_module
from typing import Any

from chalicelib.entry.idempotency import check_key
from chalicelib.errors import AlreadyApplied, DomainError, FieldProblem, InvalidHeader, InvalidInput, WriteConflict
from chalicelib.guards import WriteGuard, request_hash

CONTENDED_RETRY_SECONDS = 0.2  # a retry racing its first attempt: the first one's commit is usually this close


def guard_for(
    operation: str,
    caller: str,
    key: str | None,
    params: dict[str, str],
    canonical_body: bytes,
    status: int,
    key_name: str,
) -> WriteGuard:
    if key is None:
        raise InvalidHeader(
            f"send an {key_name} header with every write from the app",
            details=[FieldProblem(key_name, "required: a new UUID per change, the same one on every retry of it")],
        )
    check_key(key, key_name)
    return WriteGuard(operation, caller, key, request_hash(operation, params, canonical_body), status)


def answer_for_retry(guard: WriteGuard, refusal: DomainError, key_name: str) -> tuple[Any, int] | None:
    """The stored (answer, status) when `refusal` came from a retry of an applied write; None when
    the key is new (the refusal stands)."""
    store = import_module("chalicelib.services.write_guards")
    stored = store.stored_answer(guard)
    if stored is None and isinstance(refusal, AlreadyApplied | WriteConflict):
        time.sleep(CONTENDED_RETRY_SECONDS)  # lost a race with its own first attempt: read once more
        stored = store.stored_answer(guard)
    if stored is None:
        if isinstance(refusal, AlreadyApplied):  # expired between the write and this read
            raise WriteConflict(f"this {key_name} was used before; send a new key")
        return None
    if stored.request_hash != guard.request_hash:
        raise InvalidInput(
            f"this {key_name} was already used for a different request",
            details=[FieldProblem(key_name, "already used with another body; send a new key")],
        )
    return json.loads(stored.answer_json), stored.status
