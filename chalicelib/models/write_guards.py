"""Write guards (chalicelib.guards): one item per (operation, user, Idempotency-Key), put with the change
it protects in one transaction, holding the first answer. Expires through DynamoDB's TTL."""

from __future__ import annotations

import datetime as dt

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.guards import REMEMBER_SECONDS, SealedGuard, WriteGuard
from chalicelib.models.base import bind_tables, register
from chalicelib.models.transactions import Transaction

GUARD_LABEL = "guard"


@register
class WriteGuardModel(Model):
    class Meta:
        table_name = "write-guards"

    guard_id = UnicodeAttribute(hash_key=True)  # "<operation>#<user>#<key>"
    request_hash = UnicodeAttribute()
    status = NumberAttribute()
    answer = UnicodeAttribute()  # the first answer, as JSON text
    created_at = UTCDateTimeAttribute()
    expires = TTLAttribute()


def add_guard(tx: Transaction, sealed: SealedGuard | None) -> None:
    """Adds the guard to the transaction of its change: the change commits only with a new key.
    Stamped with the wall clock: it only sets when the key expires."""
    if sealed is None:
        return
    now = dt.datetime.now(dt.UTC)
    guard = sealed.guard
    item = WriteGuardModel(
        guard.guard_id,
        request_hash=guard.request_hash,
        status=guard.status,
        answer=sealed.answer_json,
        created_at=now,
        expires=now + dt.timedelta(seconds=REMEMBER_SECONDS),
    )
    tx.put(item, condition=WriteGuardModel.guard_id.does_not_exist(), label=GUARD_LABEL)


def find_guard(guard: WriteGuard) -> WriteGuardModel | None:
    """The stored guard of this key (strongly consistent: a retry right after the first must see it)."""
    bind_tables()
    try:
        return WriteGuardModel.get(guard.guard_id, consistent_read=True)
    except WriteGuardModel.DoesNotExist:
        return None
