"""The school's sign-off of a visit (issue 11.8, D-O2, D-O4): no sign-off, no closure.

`request_sign_off` sends a one-time code by SMS to the school's contact on record (never a number the
engineer types), or hands out an upload form for the contact's signature. `sign_off` checks the code
(an attempt is counted atomically before the code is compared) or the signature image, then moves the
ticket through the lifecycle's `sign_off` action: ticket, audit event, lamp history, the mobile
write's guard and "code used" in one transaction. The code is never logged, stored or answered.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from chalicelib import sms
from chalicelib.auth import Principal
from chalicelib.domain import lifecycle
from chalicelib.domain import sign_off as rules
from chalicelib.domain.lifecycle import SCHOOL_GAVE_IT, SignOff
from chalicelib.domain.public_reports import mask_phone
from chalicelib.domain.sign_off import Method
from chalicelib.errors import Conflict, FieldProblem, IllegalTransition, InvalidInput, StaleVersion
from chalicelib.guards import WriteGuard
from chalicelib.models import access
from chalicelib.models import sign_off as store
from chalicelib.models.access import TicketEventModel, TicketModel
from chalicelib.observability import logger
from chalicelib.schemas import TicketOut
from chalicelib.schemas_sign_off import SignedUploadOut, SignOffIn, SignOffRequestIn, SignOffRequestOut
from chalicelib.services import sla_timers
from chalicelib.services.ids import utcnow
from chalicelib.services.tickets import state_of, ticket_view
from chalicelib.storage import photos

__all__ = ["Signed", "check_subject_sign_off", "request_for_subject", "request_sign_off", "sign_off"]

_HOUR = dt.timedelta(hours=1)
WRITE_ATTEMPTS = 3  # the proof is checked once; the ticket write is retried if another change landed first


def signature_key(ticket_id: str, upload_id: str) -> str:
    return f"uploads/sign-off/{ticket_id}/{upload_id}"


def _ticket_for_sign_off(ticket_id: str, actor: Principal) -> TicketModel:
    """The ticket, if this actor may have it signed off now: role and assignee first (a refusal says no
    more than the caller may know), then the state."""
    ticket = access.get_ticket(ticket_id)
    state = state_of(ticket)
    lifecycle.may_act(state, "sign_off", actor)
    if state.status not in lifecycle.ACTIONS["sign_off"].sources:
        raise IllegalTransition(
            f"cannot sign off a ticket that is {state.status.value}: the work must be resolved first",
            extra={"current_status": state.status.value, "allowed_actions": lifecycle.allowed_actions(state, actor)},
        )
    return ticket


def _contact_on_record(school_id: str) -> tuple[Any, str, str]:
    """The school and the first contact on record whose phone can take an SMS: (school, name, E.164)."""
    school = access.get_school(school_id)
    for contact in school.contacts:
        phone = rules.e164(contact.phone or "")
        if phone:
            return school, str(contact.name), phone
    raise InvalidInput(
        "the school has no contact phone on record that can take an SMS; use method signature, or have the "
        "dispatcher add the contact's mobile number to the school",
        details=[FieldProblem("method", "no contact phone on record for otp")],
    )


def request_sign_off(
    ticket_id: str, body: SignOffRequestIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> SignOffRequestOut:
    now = now or utcnow()
    ticket = _ticket_for_sign_off(ticket_id, actor)
    return request_for_subject(ticket.ticket_id, ticket.school_id, ticket.ref, body, actor, guard, now)


def request_for_subject(
    subject_id: str,
    school_id: str,
    ref: str,
    body: SignOffRequestIn,
    actor: Principal,
    guard: WriteGuard | None,
    now: dt.datetime,
) -> SignOffRequestOut:
    """A sign-off request for what `subject_id` names (a ticket; an inspection visit, issue 12), once the
    caller has checked that it may be signed off now: the school's contact gets the code, `ref` names it."""
    request_id = secrets.token_urlsafe(12)
    if body.method == Method.SIGNATURE:
        key = signature_key(subject_id, request_id)
        post = photos.presigned_upload(key, rules.SIGNATURE_TYPE, now)
        answer = SignOffRequestOut(
            request_id=request_id,
            method=Method.SIGNATURE,
            expires_at=post.expires_at,
            sent_to=None,
            contact_name=None,
            attempts_left=None,
            upload=SignedUploadOut(url=post.url, fields=post.fields, expires_at=post.expires_at),
        )
        item = store.new_request(
            ticket_id=subject_id,
            request_id=request_id,
            method=Method.SIGNATURE.value,
            requested_by=actor.sub,
            now=now,
            expires_at=rules.expires_at(now),
            upload_key=key,
        )
        store.open_request(
            item, guard.seal(answer) if guard else None, limit=rules.REQUESTS_PER_HOUR, window=_HOUR, now=now
        )
        return answer

    school, contact_name, phone = _contact_on_record(school_id)
    code, salt = rules.new_code(), rules.new_salt()
    masked = mask_phone(phone.removeprefix("+86") if phone.startswith("+86") else phone)
    expires = rules.expires_at(now)
    answer = SignOffRequestOut(
        request_id=request_id,
        method=Method.OTP,
        expires_at=expires,
        sent_to=masked,
        contact_name=contact_name,
        attempts_left=rules.MAX_ATTEMPTS,
        upload=None,
    )
    sealed = guard.seal(answer) if guard else None
    item = store.new_request(
        ticket_id=subject_id,
        request_id=request_id,
        method=Method.OTP.value,
        requested_by=actor.sub,
        now=now,
        expires_at=expires,
        code_hash=rules.hash_code(code, salt),
        salt=salt,
        sent_to=masked,
    )
    # Stored before it is sent: a retry (same key) is answered from the guard and sends nothing.
    store.open_request(item, sealed, limit=rules.REQUESTS_PER_HOUR, window=_HOUR, now=now)
    try:
        message_id = sms.send(phone, rules.sms_text(code, ref, str(school.name)))
    except sms.SmsRefused as exc:
        store.withdraw(subject_id, request_id, sealed)
        logger.warning("sign-off code not sent", ticket_id=subject_id, request_id=request_id, problem=str(exc))
        raise rules.SmsNotSent(
            "the code could not be sent to the school's contact; try again, or use method signature",
            details=[FieldProblem("method", "SMS not accepted for the number on record")],
        ) from exc
    logger.info("sign-off code sent", ticket_id=subject_id, request_id=request_id, message_id=message_id)
    return answer


def _checked_code(subject_id: str, body: SignOffIn, guard: WriteGuard | None, now: dt.datetime) -> tuple[str, str]:
    """Counts this attempt (atomically, before the code is compared), then compares the code; returns
    the request to mark used and the masked number the code went to."""
    code = body.code or ""
    token = rules.attempt_token(guard.key if guard is not None else secrets.token_hex(16), code)
    counted = store.count_attempt(subject_id, token, rules.MAX_ATTEMPTS, now)
    if counted is None:
        raise _not_requested(Method.OTP)
    item = counted.item
    if item.method != Method.OTP.value or not item.code_hash or not item.salt:
        raise _not_requested(Method.OTP)
    rules.check_attempt(
        rules.CodeState(
            expires_at=item.expires_at,
            attempts=int(item.attempts),
            used=store.is_used(item),
            counted=counted.new_attempt or token in (item.tried or set()),
        ),
        now,
    )
    if not rules.code_matches(code, item.salt, item.code_hash):
        raise rules.wrong_code(int(item.attempts))
    return str(item.request_id), str(item.sent_to or "")


def _checked_signature(subject_id: str, body: SignOffIn) -> tuple[str, str]:
    """The signature image of the ticket's current request: uploaded, at most 1 MB, a PNG by its bytes."""
    item = store.find_request(subject_id)
    if item is None or item.method != Method.SIGNATURE.value or not item.upload_key:
        raise _not_requested(Method.SIGNATURE)
    if item.request_id != body.signature_upload_id:
        raise InvalidInput(
            "this is not the ticket's current signature request",
            details=[FieldProblem("signature_upload_id", "not the latest request_id of requestSignOff")],
        )
    if store.is_used(item):
        raise Conflict("this signature was already used", details=[FieldProblem("signature_upload_id", "already used")])
    stored = photos.inspect(item.upload_key)
    problem = None
    if stored is None:
        problem = "no signature image was uploaded with this id"
    elif stored.size > rules.SIGNATURE_MAX_BYTES:
        problem = "larger than 1 MB"
    elif stored.content_type != rules.SIGNATURE_TYPE:
        problem = "not a PNG image"
    if problem is not None:
        raise InvalidInput("the signature cannot be used", details=[FieldProblem("signature_upload_id", problem)])
    return str(item.request_id), str(item.upload_key)


@dataclass(frozen=True)
class Signed:
    """A sign-off that checked out: the request to mark used in the change's transaction (`store.mark_used`)."""

    request_id: str
    sent_to: str = ""  # otp: the masked number the code went to
    signature_key: str = ""  # signature: where the image is


def check_subject_sign_off(subject_id: str, body: SignOffIn, guard: WriteGuard | None, now: dt.datetime) -> Signed:
    """The code (an attempt counted first) or the signature of `subject_id`'s current request, checked as a
    ticket's are; the caller writes `store.mark_used` with its change (an inspection visit, issue 12)."""
    if body.method == Method.OTP:
        request_id, sent_to = _checked_code(subject_id, body, guard, now)
        return Signed(request_id, sent_to=sent_to)
    request_id, key = _checked_signature(subject_id, body)
    return Signed(request_id, signature_key=key)


def _not_requested(method: Method) -> Conflict:
    return rules.NoRequest(
        f"no {method.value} sign-off was requested for this ticket; request one first",
        details=[FieldProblem("method", f"request a {method.value} sign-off first (requestSignOff)")],
    )


def sign_off(
    ticket_id: str, body: SignOffIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> TicketOut:
    """The school's sign-off, through the lifecycle's `sign_off` action; answers the signed-off ticket."""
    now = now or utcnow()
    ticket = _ticket_for_sign_off(ticket_id, actor)
    signed = check_subject_sign_off(ticket.ticket_id, body, guard, now)
    for _ in range(WRITE_ATTEMPTS):
        try:
            return _write_sign_off(ticket, body, signed, actor, guard, now)
        except StaleVersion:  # another change landed first (a photo, a note): read the ticket again
            ticket = _ticket_for_sign_off(ticket_id, actor)
    raise StaleVersion("the ticket is being changed by many requests at once; send the sign-off again")


def _write_sign_off(
    ticket: TicketModel, body: SignOffIn, signed: Signed, actor: Principal, guard: WriteGuard | None, now: dt.datetime
) -> TicketOut:
    change = SignOff.model_validate(
        {
            "action": "sign_off",
            "version": ticket.version,
            "method": body.method,
            "signer_name": body.signer_name,
            "signer_role": body.signer_role,
            "lat": body.lat,
            "lon": body.lon,
            "satisfaction": body.satisfaction,
            "comment": body.comment,
            "device_at": body.device_at,
            "sent_to": signed.sent_to,
            "signature_key": signed.signature_key,
        },
        context={SCHOOL_GAVE_IT: True},
    )
    plan = lifecycle.plan_transition(state_of(ticket), change, actor, None, now)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in plan.changes.items():
        old = getattr(ticket, name)
        if old != value:
            before[name], after[name] = old, value
        setattr(ticket, name, value)
    ticket.updated_at = now
    seq = int(ticket.event_count) + 1
    ticket.event_count = seq
    event = TicketEventModel(
        ticket.ticket_id,
        seq,
        at=now,
        actor=actor.sub,
        actor_role=actor.primary_role,
        action=plan.action,
        from_status=plan.from_status.value,
        to_status=ticket.status,
        before=before,
        after=after,
        note=body.comment,
    )
    histories = [
        access.history_entry(
            lamp_id,
            now,
            "ticket_sign_off",
            ref=ticket.ref,
            actor=actor.sub,
            summary=f"signed off by {body.signer_name} ({body.method.value})",
            data={"ticket_id": ticket.ticket_id, "status": ticket.status},
        )
        for lamp_id in map(str, ticket.lamp_ids)
    ]
    # The answer as it will be once written (the write adds 1 to the version), sealed into the write.
    answer = ticket_view(ticket, actor).model_copy(update={"version": int(ticket.version) + 1})
    was_due = bool(ticket.next_due_at)
    access.apply_transition(
        ticket,
        event,
        [str(x) for x in ticket.lamp_ids],
        plan.lamp_count_delta,
        histories,
        guard=guard.seal(answer) if guard is not None else None,
        extra=lambda tx: store.mark_used(tx, ticket.ticket_id, signed.request_id, now),
    )
    sla_timers.after_change(ticket, None, was_due)
    return answer
