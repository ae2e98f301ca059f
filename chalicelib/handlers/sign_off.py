"""The visit's photos and the school's sign-off (issue 11.4, 11.8; D-O2, D-O4). Every write is an app's
write: `Idempotency-Key` required, kept in the change's own transaction (chalicelib/guards.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.auth import STAFF, Role
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas import TicketOut
    from chalicelib.schemas_sign_off import SignOffRequestOut, TicketPhotosOut, TicketPhotoUploadOut
    from chalicelib.services import sign_off, ticket_photos
else:
    sign_off = lazy_module("chalicelib.services.sign_off")
    ticket_photos = lazy_module("chalicelib.services.ticket_photos")

api = Api(__name__)

# The assigned engineer (the services check the assignment) and dispatch roles.
PHOTO_ROLES = [Role.ENGINEER, Role.EXPERT, Role.DISPATCHER, Role.ADMIN]
# The lifecycle's sign_off action decides (field roles on their own tickets, or a dispatcher): an admin passes
# the route and is refused by it (403 naming the roles), as on POST /tickets/{ticket_id}/transitions.
SIGN_OFF_ROLES = [Role.ENGINEER, Role.EXPERT, Role.DISPATCHER, Role.ADMIN]


@api.route(
    "/tickets/{ticket_id}/photo-uploads",
    "POST",
    operation_id="createTicketPhotoUpload",
    roles=PHOTO_ROLES,
    body="TicketPhotoUploadIn",
    status=201,
    response="TicketPhotoUploadOut",
    guarded=True,
)
def create_ticket_photo_upload(ctx: RequestContext, ticket_id: str) -> TicketPhotoUploadOut:
    """A presigned POST for one before or after photo (JPEG, PNG, HEIC or WebP, at most 10 MB).

    Post `upload.fields` and then the file as `file` to `upload.url` (multipart/form-data), then attach
    it with attachTicketPhoto. A retry with the same Idempotency-Key gets the same form.
    """
    return ticket_photos.create_upload(ticket_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/tickets/{ticket_id}/photos",
    "POST",
    operation_id="attachTicketPhoto",
    roles=PHOTO_ROLES,
    body="AttachTicketPhotoIn",
    status=201,
    response="TicketPhotosOut",
    guarded=True,
)
def attach_ticket_photo(ctx: RequestContext, ticket_id: str) -> TicketPhotosOut:
    """Attaches an uploaded photo to the ticket, once checked: it exists, is at most 10 MB and is an image
    by its first bytes (not its name). 422 naming `upload_id` otherwise. Recorded in the audit trail."""
    return ticket_photos.attach_photo(ticket_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/tickets/{ticket_id}/photos",
    "GET",
    operation_id="listTicketPhotos",
    roles=STAFF,
    response="TicketPhotosOut",
)
def list_ticket_photos(ctx: RequestContext, ticket_id: str) -> TicketPhotosOut:
    """The visit's photos, each with a link valid for 15 minutes (the bucket is private)."""
    return ticket_photos.list_photos(ticket_id, ctx.principal)


@api.route(
    "/tickets/{ticket_id}/sign-off-requests",
    "POST",
    operation_id="requestSignOff",
    roles=SIGN_OFF_ROLES,
    body="SignOffRequestIn",
    status=201,
    response="SignOffRequestOut",
    guarded=True,
)
def request_sign_off(ctx: RequestContext, ticket_id: str) -> SignOffRequestOut:
    """Starts the school's sign-off of a resolved ticket (D-O2).

    `otp`: a 6-digit code is sent by SMS to the school's contact on record (not a number typed here); it
    is valid 10 minutes and 5 attempts; the answer names the contact and the masked number, never the
    code. `signature`: an upload form for the contact's signature (PNG, at most 1 MB). A new request
    replaces the last; at most 5 per ticket and hour (429).
    """
    return sign_off.request_sign_off(ticket_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/tickets/{ticket_id}/sign-off",
    "POST",
    operation_id="signOff",
    roles=SIGN_OFF_ROLES,
    body="SignOffIn",
    response="TicketOut",
    guarded=True,
)
def sign_off_ticket(ctx: RequestContext, ticket_id: str) -> TicketOut:
    """The school signs off the work with the code it received, or its signature: the ticket becomes
    signed_off, with signer, method, time, position, satisfaction 1-5 and comment (D-O2, D-O4).

    A wrong code is 422 `sign_off_code_wrong` with `attempts_left`; the fifth wrong code locks the
    request (409 `sign_off_locked`: request a new code); an expired code is 422 `sign_off_code_expired`.
    """
    return sign_off.sign_off(ticket_id, ctx.body, ctx.principal, ctx.guard)
