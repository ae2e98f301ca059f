"""The visit's photos and the school's sign-off (issue 11.4, 11.8; D-O2, D-O4): requests and answers.

Re-exported by `chalicelib.schemas`, so routes name them like every other schema.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from chalicelib.domain.assets import OptionalText, Text
from chalicelib.domain.sign_off import MAX_ATTEMPTS, Method
from chalicelib.domain.types import Id, Note
from chalicelib.storage.photos import ALLOWED_TYPES


class PhotoStage(StrEnum):
    BEFORE = "before"
    AFTER = "after"


ImageType = Literal["image/jpeg", "image/png", "image/heic", "image/webp"]
assert set(ImageType.__args__) == set(ALLOWED_TYPES)  # type: ignore[attr-defined]  # one list of types
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, from_attributes=True)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-11-24T09:30:00+08:00")
    return value


class TicketPhotoUploadIn(_In):
    stage: PhotoStage = Field(description="before or after the work.")
    content_type: ImageType


class SignedUploadOut(_Out):
    url: str
    fields: dict[str, str] = Field(description="Send them, then the file as `file`, in a multipart/form-data POST.")
    expires_at: dt.datetime


class TicketPhotoUploadOut(_Out):
    upload_id: str = Field(description="Attach it with attachTicketPhoto once the file is uploaded.")
    stage: PhotoStage
    upload: SignedUploadOut


class AttachTicketPhotoIn(_In):
    upload_id: Id = Field(description="From createTicketPhotoUpload.")
    stage: PhotoStage
    device_at: dt.datetime | None = Field(default=None, description="When the phone took it, with a time zone.")

    _device_at = field_validator("device_at")(_aware)


class TicketPhotoOut(_Out):
    photo_id: str
    stage: PhotoStage
    content_type: str = Field(description="The real type, read from the file's first bytes.")
    size: int
    at: dt.datetime = Field(description="Server time of the attach.")
    device_at: dt.datetime | None
    by: str
    url: str | None = Field(description="A link to the image, valid for 15 minutes; absent in a stored answer.")


class TicketPhotosOut(_Out):
    ticket_id: str
    version: int = Field(description="The ticket's version after the change.")
    items: list[TicketPhotoOut]


class SignOffRequestIn(_In):
    method: Method = Field(description="otp: a code by SMS to the school's contact on record; signature: on screen.")


class SignOffRequestOut(_Out):
    request_id: str
    method: Method
    expires_at: dt.datetime | None = Field(description="The code's expiry (otp); the upload form's (signature).")
    sent_to: str | None = Field(description="otp: the masked number the code went to (138****5678).")
    contact_name: str | None = Field(description="otp: the school contact who received the code.")
    attempts_left: int | None = Field(description=f"otp: {MAX_ATTEMPTS} for a new code.")
    upload: SignedUploadOut | None = Field(description="signature: post the PNG here, then signOff.")


class SignOffIn(_In):
    method: Method
    code: Code | None = Field(
        default=None, validate_default=True, description="otp: the 6 digits the school contact read out."
    )
    signature_upload_id: Id | None = Field(
        default=None, validate_default=True, description="signature: the request's request_id."
    )
    signer_name: Text
    signer_role: OptionalText = ""
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="The school's satisfaction, 1-5 (D-O4).")
    comment: Note = ""
    device_at: dt.datetime | None = Field(default=None, description="The phone's time, with a time zone.")

    _device_at = field_validator("device_at")(_aware)

    @field_validator("code")
    @classmethod
    def _code_for_otp(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("method") == Method.OTP and not value:
            raise ValueError("required for method otp")
        return value

    @field_validator("signature_upload_id")
    @classmethod
    def _upload_for_signature(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("method") == Method.SIGNATURE and not value:
            raise ValueError("required for method signature")
        return value
