"""Reading a mobile write's stored guard back (chalicelib.guards): what a retry is answered with."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.guards import WriteGuard
from chalicelib.models import write_guards


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status: int
    answer_json: str


def stored_answer(guard: WriteGuard) -> StoredAnswer | None:
    item = write_guards.find_guard(guard)
    if item is None:
        return None
    return StoredAnswer(item.request_hash, int(item.status), item.answer)
