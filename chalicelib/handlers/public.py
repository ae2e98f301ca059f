"""The school's side, no account (D-S6, D-A3): report a fault from a lamp's label, add photos, follow it.

Public routes: rate-limited per label and per client address (429 with Retry-After), and nothing they
answer names a person or a phone number. A browser gets pages (`html=True`, chalicelib/handlers/_pages.py);
an API client gets JSON from the same routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Response

from chalicelib.handlers import _pages as pages
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas import PhotoUploadOut, PublicReportOut, PublicStatusOut
    from chalicelib.services import public_reports
else:
    public_reports = lazy_module("chalicelib.services.public_reports")

api = Api(__name__)


@api.route(
    "/r/{qr_token}/reports",
    "POST",
    operation_id="submitPublicReport",
    roles=None,
    body="PublicReportIn",
    status=201,
    response="PublicReportOut",
    html=True,
)
def submit_public_report(ctx: RequestContext, qr_token: str) -> PublicReportOut | Response:
    """Reports a fault on the scanned lamp; joins the lamp's open case (or its room's, within 30 minutes).

    Answers the case's reference and the status page to follow it. `joined` says whether an open case
    was joined (its report count goes up) rather than a new one opened. The level is suggested from the
    fault (D-S3) and confirmed by the dispatcher.

    The report page's form posts the same fields as `application/x-www-form-urlencoded` when the
    browser runs no script: it is answered with a 303 to the status page, or with the page again
    (text/html) naming what to fix.
    """
    if ctx.form:
        return pages.report_form_post(ctx, qr_token)
    return public_reports.submit_report(qr_token, ctx.body, ctx.client)


@api.route(
    "/r/{qr_token}/photos",
    "POST",
    operation_id="createPublicPhotoUpload",
    roles=None,
    body="PhotoUploadIn",
    status=201,
    response="PhotoUploadOut",
)
def create_public_photo_upload(ctx: RequestContext, qr_token: str) -> PhotoUploadOut:
    """A presigned POST to upload one photo (JPEG, PNG, HEIC or WebP, at most 10 MB) straight to storage.

    Post `upload.fields` and then the file as `file` to `upload.url` (multipart/form-data), then list the
    `photo_id` in the report. The photo is checked (exists, size, real type) when the report attaches it.
    """
    return public_reports.create_photo_upload(qr_token, ctx.body, ctx.client)


@api.route(
    "/s/{public_ref}", "GET", operation_id="getPublicReportStatus", roles=None, response="PublicStatusOut", html=True
)
def get_public_report_status(ctx: RequestContext, public_ref: str) -> PublicStatusOut | Response:
    """The reporter's view of a case: the stage in plain words, when an engineer is expected, a plain history.

    A browser (`Accept: text/html`) gets it as a page, in Chinese or English (`Accept-Language`, `?lang=`).
    """
    if pages.wants_html(ctx.headers):
        return pages.status_page(ctx, public_ref)
    return public_reports.public_status(public_ref)
