"""The visit's photos (issue 11.4): before and after the work, straight from the phone to the private
bucket by presigned POST (chalicelib/storage/photos.py, as the school's report photos), checked
(exists, size, real type by its first bytes) before they are attached to the ticket with an audit
event. Staff read them through links that expire within 15 minutes; the bucket is never public.

Keys: `uploads/visits/<ticket_id>/<stage>/<upload_id>`: an upload made for one ticket and stage can
only be attached to that ticket and stage.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.lifecycle import DISPATCH_ROLES, FIELD_ROLES, FINAL_STATES, Status
from chalicelib.errors import Conflict, FieldProblem, Forbidden, InvalidInput, StaleVersion
from chalicelib.guards import WriteGuard
from chalicelib.models import access
from chalicelib.models import sign_off as guard_store
from chalicelib.models.access import TicketEventModel, TicketModel
from chalicelib.schemas_sign_off import (
    AttachTicketPhotoIn,
    PhotoStage,
    SignedUploadOut,
    TicketPhotoOut,
    TicketPhotosOut,
    TicketPhotoUploadIn,
    TicketPhotoUploadOut,
)
from chalicelib.services.ids import utcnow
from chalicelib.storage import photos

MAX_PHOTOS = 40  # per ticket: a visit's before and after photos, and a second visit's
ATTEMPTS = 5  # another change to the ticket landed first (e.g. two photos attached at once): read again
NO_PHOTOS_YET = frozenset({Status.REPORTED, Status.TRIAGED})  # nobody has been sent yet


def photo_key(ticket_id: str, stage: PhotoStage, upload_id: str) -> str:
    return f"uploads/visits/{ticket_id}/{stage.value}/{upload_id}"


def _may_add_photos(ticket: TicketModel, actor: Principal) -> None:
    """The assigned engineer, or dispatch roles; while the ticket is being worked."""
    if not actor.has_any(DISPATCH_ROLES) and not (actor.has_any(FIELD_ROLES) and ticket.assignee_id == actor.sub):
        raise Forbidden("only the assigned engineer or a dispatcher can add photos to this ticket")
    status = Status(ticket.status)
    if status in FINAL_STATES or status in NO_PHOTOS_YET:
        raise Conflict(
            f"photos cannot be added to a ticket that is {status.value}",
            extra={"current_status": status.value},
        )


def create_upload(
    ticket_id: str,
    body: TicketPhotoUploadIn,
    actor: Principal,
    guard: WriteGuard | None,
    now: dt.datetime | None = None,
) -> TicketPhotoUploadOut:
    now = now or utcnow()
    ticket = access.get_ticket(ticket_id)
    _may_add_photos(ticket, actor)
    return photo_form(ticket.ticket_id, body, guard, now)


def photo_form(
    subject_id: str, body: TicketPhotoUploadIn, guard: WriteGuard | None, now: dt.datetime
) -> TicketPhotoUploadOut:
    """The upload form for a photo of `subject_id`'s visit (a ticket; an inspection visit, issue 12), once the
    caller has checked who may add one; the guard alone is written, so a retry gets this same form."""
    upload_id = secrets.token_urlsafe(12)
    post = photos.presigned_upload(photo_key(subject_id, body.stage, upload_id), body.content_type, now)
    answer = TicketPhotoUploadOut(
        upload_id=upload_id,
        stage=body.stage,
        upload=SignedUploadOut(url=post.url, fields=post.fields, expires_at=post.expires_at),
    )
    guard_store.remember(guard.seal(answer) if guard is not None else None)  # a retry gets this same form
    return answer


def _checked(ticket_id: str, body: AttachTicketPhotoIn) -> photos.StoredPhoto:
    stored = photos.inspect(photo_key(ticket_id, body.stage, body.upload_id))
    problem = None
    if stored is None:
        problem = f"no {body.stage.value} photo was uploaded for this ticket with this id"
    elif stored.size > photos.MAX_BYTES:
        problem = "larger than 10 MB"
    elif stored.content_type is None:
        problem = "not a JPEG, PNG, HEIC or WebP image"
    if stored is None or problem is not None:
        raise InvalidInput("the photo cannot be attached", details=[FieldProblem("upload_id", problem or "")])
    return stored


def photo_record(subject_id: str, body: AttachTicketPhotoIn, actor: Principal, now: dt.datetime) -> dict[str, Any]:
    """An uploaded photo of `subject_id`'s visit, checked (exists, size, real type), as the visit keeps it."""
    stored = _checked(subject_id, body)
    return {
        "photo_id": body.upload_id,
        "stage": body.stage.value,
        "key": stored.key,
        "content_type": stored.content_type,
        "size": stored.size,
        "at": now.isoformat(),
        "device_at": body.device_at.isoformat() if body.device_at else None,
        "by": actor.sub,
    }


def photo_view(photo: dict[str, Any], link: bool) -> TicketPhotoOut:
    return _view(photo, link)


def _view(photo: dict[str, Any], link: bool) -> TicketPhotoOut:
    return TicketPhotoOut(
        photo_id=photo["photo_id"],
        stage=PhotoStage(photo["stage"]),
        content_type=photo["content_type"],
        size=int(photo["size"]),
        at=dt.datetime.fromisoformat(photo["at"]),
        device_at=dt.datetime.fromisoformat(photo["device_at"]) if photo.get("device_at") else None,
        by=photo["by"],
        url=photos.view_link(photo["key"]) if link else None,
    )


def attach_photo(
    ticket_id: str,
    body: AttachTicketPhotoIn,
    actor: Principal,
    guard: WriteGuard | None,
    now: dt.datetime | None = None,
) -> TicketPhotosOut:
    """Checks the upload, then adds it to the ticket with an audit event and the write's guard, in one
    transaction; answers the ticket's photos (links come from listTicketPhotos)."""
    now = now or utcnow()
    photo: dict[str, Any] | None = None
    for _ in range(ATTEMPTS):
        ticket = access.get_ticket(ticket_id)
        _may_add_photos(ticket, actor)
        current = list(ticket.visit_photos or [])
        if any(p.get("photo_id") == body.upload_id for p in current):
            raise Conflict("this photo is already attached", details=[FieldProblem("upload_id", "already attached")])
        if len(current) >= MAX_PHOTOS:
            raise InvalidInput(
                f"a ticket keeps at most {MAX_PHOTOS} photos", details=[FieldProblem("upload_id", "too many photos")]
            )
        photo = photo or photo_record(ticket.ticket_id, body, actor, now)
        ticket.visit_photos = [*current, photo]
        ticket.updated_at = now
        seq = int(ticket.event_count) + 1
        ticket.event_count = seq
        event = TicketEventModel(
            ticket.ticket_id,
            seq,
            at=now,
            actor=actor.sub,
            actor_role=actor.primary_role,
            action="photo_attached",
            from_status=ticket.status,
            to_status=ticket.status,
            before={},
            after={k: photo[k] for k in ("photo_id", "stage", "content_type", "size", "device_at")},
            note="",
        )
        answer = TicketPhotosOut(
            ticket_id=ticket.ticket_id,
            version=int(ticket.version) + 1,  # as it will be once written
            items=[_view(p, link=False) for p in ticket.visit_photos],
        )
        try:
            access.apply_transition(ticket, event, [], 0, [], guard=guard.seal(answer) if guard is not None else None)
        except StaleVersion:
            continue  # another change landed first: read the ticket again, the guard keeps this once
        return answer
    raise StaleVersion("the ticket is being changed by many requests at once; send the photo again")


def list_photos(ticket_id: str, actor: Principal) -> TicketPhotosOut:
    """The ticket's visit photos with links valid for 15 minutes, to staff who may read the ticket."""
    ticket = access.get_ticket(ticket_id)
    if actor.roles <= FIELD_ROLES and actor.sub not in (ticket.assignee_id, ticket.owner_id):
        raise Forbidden("engineers see the tickets assigned to them")
    return TicketPhotosOut(
        ticket_id=ticket.ticket_id,
        version=int(ticket.version),
        items=[_view(p, link=True) for p in ticket.visit_photos or []],
    )
