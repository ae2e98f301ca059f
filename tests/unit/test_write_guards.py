"""chalicelib.entry.guards and chalicelib.guards: the app's Idempotency-Key kept with its change (issue 11.10).
The store is exercised through the visit routes in the functional and e2e tests; here, the rules."""

from __future__ import annotations

import json

import pytest

from chalicelib.entry import guards as entry_guards
from chalicelib.errors import AlreadyApplied, IllegalTransition, InvalidHeader, InvalidInput, WriteConflict
from chalicelib.guards import WriteGuard, request_hash
from chalicelib.services.write_guards import StoredAnswer

KEY = "0b6f7c1e-7a52-4a1b-9b7e-3f1d2c4e5a6b"


def _guard(body: bytes = b'{"lat":1}', params: dict[str, str] | None = None) -> WriteGuard:
    return entry_guards.guard_for("checkIn", "eng-1", KEY, params or {"ticket_id": "t_1"}, body, 200, "Idempotency-Key")


def test_an_app_write_without_a_key_is_refused_naming_the_header():
    with pytest.raises(InvalidHeader) as caught:
        entry_guards.guard_for("checkIn", "eng-1", None, {}, b"{}", 200, "Idempotency-Key")
    assert [p.field for p in caught.value.details] == ["Idempotency-Key"]


def test_a_key_is_per_operation_and_user():
    a = _guard()
    assert a.guard_id == f"checkIn#eng-1#{KEY}"
    other_user = entry_guards.guard_for("checkIn", "eng-2", KEY, {"ticket_id": "t_1"}, b"{}", 200, "Idempotency-Key")
    assert other_user.guard_id != a.guard_id


def test_the_same_body_on_another_ticket_is_another_request():
    assert _guard(params={"ticket_id": "t_1"}).request_hash != _guard(params={"ticket_id": "t_2"}).request_hash
    assert _guard().request_hash == _guard().request_hash
    assert request_hash("a", {"x": "1"}, b"") != request_hash("b", {"x": "1"}, b"")


def test_the_sealed_answer_is_the_json_the_client_gets():
    sealed = _guard().seal({"status": "on_site", "version": 4})
    assert json.loads(sealed.answer_json) == {"status": "on_site", "version": 4}


class _Store:
    def __init__(self, *answers: StoredAnswer | None):
        self.answers = list(answers)
        self.reads = 0

    def stored_answer(self, guard: WriteGuard) -> StoredAnswer | None:
        self.reads += 1
        return self.answers.pop(0) if self.answers else None


@pytest.fixture
def store(monkeypatch):
    holder: dict[str, _Store] = {}

    def install(*answers: StoredAnswer | None) -> _Store:
        holder["store"] = _Store(*answers)
        monkeypatch.setattr(entry_guards, "import_module", lambda name: holder["store"])
        monkeypatch.setattr(entry_guards.time, "sleep", lambda s: None)
        return holder["store"]

    return install


def test_a_retry_of_an_applied_write_gets_the_first_answer(store):
    guard = _guard()
    store(StoredAnswer(guard.request_hash, 200, '{"status": "on_site"}'))
    assert entry_guards.answer_for_retry(guard, IllegalTransition("already on site"), "Idempotency-Key") == (
        {"status": "on_site"},
        200,
    )


def test_the_key_with_another_request_is_refused(store):
    guard = _guard()
    store(StoredAnswer("another-hash", 200, "{}"))
    with pytest.raises(InvalidInput) as caught:
        entry_guards.answer_for_retry(guard, AlreadyApplied("used"), "Idempotency-Key")
    assert [p.field for p in caught.value.details] == ["Idempotency-Key"]


def test_a_refusal_with_a_new_key_stands(store):
    reads = store(None)
    assert entry_guards.answer_for_retry(_guard(), IllegalTransition("not assigned"), "Idempotency-Key") is None
    assert reads.reads == 1  # a rule's refusal costs one read, no wait


def test_a_retry_that_lost_the_race_to_its_first_attempt_reads_again(store):
    guard = _guard()
    reads = store(None, StoredAnswer(guard.request_hash, 200, '{"ok": true}'))
    assert entry_guards.answer_for_retry(guard, WriteConflict("contended"), "Idempotency-Key") == ({"ok": True}, 200)
    assert reads.reads == 2
