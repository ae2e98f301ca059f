"""The school's sign-off requests (issue 11.8): one item per ticket, its current request (a new one
replaces the last). An OTP request keeps the code's salted hash, never the code; attempts are counted
by a conditional UpdateItem, so concurrent guesses cannot exceed the limit.

Also the guard-only writes of the visit's mobile writes that change no item of their own (an upload
form handed out): the guard alone, so a retry is answered with the same form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import (
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib.errors import AlreadyApplied, Throttled, WriteConflict
from chalicelib.guards import SealedGuard
from chalicelib.models.base import bind_tables, register
from chalicelib.models.rate_limits import RateLimitModel
from chalicelib.models.transactions import Transaction, TransactionRefused
from chalicelib.models.write_guards import GUARD_LABEL, add_guard

KEEP_AFTER_EXPIRY = dt.timedelta(days=30)  # the record of what was sent, for a dispute; then TTL removes it
CODE_LABEL = "sign-off-code"
RATE_LABEL = "sign-off-rate"


@register
class SignOffRequestModel(Model):
    class Meta:
        table_name = "sign-off-requests"

    ticket_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute()
    method = UnicodeAttribute()  # otp | signature
    code_hash = UnicodeAttribute(null=True)  # HMAC-SHA256(salt, code): the code itself is never stored
    salt = UnicodeAttribute(null=True)
    sent_to = UnicodeAttribute(default="")  # masked number
    message_id = UnicodeAttribute(null=True)  # SNS MessageId of the SMS
    upload_key = UnicodeAttribute(null=True)  # signature: where the image goes
    requested_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    attempts = NumberAttribute(default=0)
    tried = UnicodeSetAttribute(null=True)  # attempt tokens (domain.sign_off.attempt_token) counted so far
    used_at = UTCDateTimeAttribute(null=True)
    expires = TTLAttribute()


def _connection() -> Any:
    bind_tables()
    return SignOffRequestModel._get_connection().connection


def _commit(tx: Transaction) -> None:
    try:
        tx.commit(_connection())
    except TransactionRefused as exc:
        if GUARD_LABEL in exc.failed:
            raise AlreadyApplied("this Idempotency-Key was used before") from exc
        raise


def new_request(
    *,
    ticket_id: str,
    request_id: str,
    method: str,
    requested_by: str,
    now: dt.datetime,
    expires_at: dt.datetime,
    code_hash: str | None = None,
    salt: str | None = None,
    sent_to: str = "",
    upload_key: str | None = None,
) -> SignOffRequestModel:
    return SignOffRequestModel(
        ticket_id,
        request_id=request_id,
        method=method,
        code_hash=code_hash,
        salt=salt,
        sent_to=sent_to,
        upload_key=upload_key,
        requested_by=requested_by,
        created_at=now,
        expires_at=expires_at,
        attempts=0,
        expires=expires_at + KEEP_AFTER_EXPIRY,
    )


def open_request(
    item: SignOffRequestModel,
    guard: SealedGuard | None,
    *,
    limit: int,
    window: dt.timedelta,
    now: dt.datetime,
) -> None:
    """Replaces the ticket's request with `item`, counts it against the ticket's hourly allowance and
    writes the guard, in one transaction. Over the allowance: `Throttled`."""
    bind_tables()
    seconds = int(window.total_seconds())
    start = int(now.timestamp()) // seconds * seconds
    counter = RateLimitModel(f"sign-off#{item.ticket_id}#{start}")
    tx = Transaction()
    add_guard(tx, guard)
    tx.put(item, label=CODE_LABEL)
    tx.update(
        counter,
        [
            RateLimitModel.hits.add(1),
            RateLimitModel.expires.set(dt.datetime.fromtimestamp(start + 2 * seconds, dt.UTC)),
        ],
        condition=RateLimitModel.hits.does_not_exist() | (RateLimitModel.hits < limit),
        label=RATE_LABEL,
    )
    try:
        _commit(tx)
    except TransactionRefused as exc:
        if RATE_LABEL in exc.failed:
            raise Throttled(
                "too many sign-off codes for this ticket; try again later",
                max(1, start + seconds - int(now.timestamp())),
            ) from exc
        raise WriteConflict("the sign-off request is being changed by another request; retry") from exc


def record_delivery(ticket_id: str, request_id: str, message_id: str) -> None:
    """The SMS's MessageId on the request it belongs to (if it is still the ticket's request)."""
    bind_tables()
    try:
        SignOffRequestModel(ticket_id).update(
            actions=[SignOffRequestModel.message_id.set(message_id)],
            condition=SignOffRequestModel.request_id == request_id,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def withdraw(ticket_id: str, request_id: str, guard: SealedGuard | None) -> None:
    """An SMS that could not be sent: the request and its guard go, so a retry starts over."""
    from chalicelib.models.write_guards import WriteGuardModel

    bind_tables()
    tx = Transaction()
    tx.delete(SignOffRequestModel(ticket_id), condition=SignOffRequestModel.request_id == request_id, label=CODE_LABEL)
    if guard is not None:
        tx.delete(WriteGuardModel(guard.guard.guard_id), label=GUARD_LABEL)
    try:
        tx.commit(_connection())
    except TransactionRefused:
        pass  # replaced meanwhile by a newer request: nothing of this one is left to withdraw


def find_request(ticket_id: str) -> SignOffRequestModel | None:
    bind_tables()
    try:
        return SignOffRequestModel.get(ticket_id, consistent_read=True)
    except SignOffRequestModel.DoesNotExist:
        return None


@dataclass(frozen=True)
class Counted:
    """The request after an attempt was counted (or found already counted: a retry)."""

    item: SignOffRequestModel
    new_attempt: bool


def count_attempt(ticket_id: str, token: str, max_attempts: int, now: dt.datetime) -> Counted | None:
    """Counts one attempt at the ticket's code, atomically: only while the code is unused, unexpired
    and below the limit, and once per attempt token (a retry of the same request is not a new attempt).
    Returns the request as it is now; None when there is no request. When the condition refuses, the
    request is read back (consistently) so the caller can say why: used, expired, locked, or counted."""
    bind_tables()
    item = SignOffRequestModel(ticket_id)
    try:
        item.update(
            actions=[SignOffRequestModel.attempts.add(1), SignOffRequestModel.tried.add({token})],
            condition=(
                SignOffRequestModel.ticket_id.exists()
                & SignOffRequestModel.used_at.does_not_exist()
                & (SignOffRequestModel.expires_at > now)
                & (SignOffRequestModel.attempts < max_attempts)
                & ~SignOffRequestModel.tried.contains(token)
            ),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        current = find_request(ticket_id)
        return None if current is None else Counted(current, new_attempt=False)
    return Counted(item, new_attempt=True)


def is_used(item: SignOffRequestModel) -> bool:
    used: dt.datetime | None = item.used_at
    return used is not None


def mark_used(tx: Transaction, ticket_id: str, request_id: str, now: dt.datetime) -> None:
    """Adds to the sign-off's transaction: the request is used, if it is still this one and unused."""
    tx.update(
        SignOffRequestModel(ticket_id),
        [SignOffRequestModel.used_at.set(now)],
        condition=(SignOffRequestModel.request_id == request_id) & SignOffRequestModel.used_at.does_not_exist(),
        label=CODE_LABEL,
    )


def remember(guard: SealedGuard | None) -> None:
    """A guard alone, for a mobile write that changes no item (an upload form handed out): a retry
    fails its condition (`AlreadyApplied`) and is answered with the first answer."""
    if guard is None:
        return
    tx = Transaction()
    add_guard(tx, guard)
    _commit(tx)
