"""Photos in the private bucket: presigned POST uploads straight from the phone, checks before a
photo is attached, and short-lived presigned GET links for staff. Never public.

Keys: `uploads/<lamp_id>/<upload_id>` for a report's photos, so that a photo uploaded through one
lamp's label can only be attached to a report on that lamp.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chalicelib.settings import get_settings

ALLOWED_TYPES = ("image/jpeg", "image/png", "image/heic", "image/webp")
MAX_BYTES = 10 * 1024 * 1024
UPLOAD_SECONDS = 600
LINK_SECONDS = 900  # staff links expire within 15 minutes


@lru_cache(maxsize=1)
def _s3() -> Any:
    import boto3  # deferred: only photo requests pay for it

    return boto3.client("s3")


def reset() -> None:
    _s3.cache_clear()


def upload_key(lamp_id: str, upload_id: str) -> str:
    return f"uploads/{lamp_id}/{upload_id}"


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]
    expires_at: dt.datetime


def presigned_upload(key: str, content_type: str, now: dt.datetime) -> PresignedPost:
    """The form a phone posts the file with; S3 itself refuses another type or a size beyond 10 MB."""
    post = _s3().generate_presigned_post(
        Bucket=get_settings().photo_bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, MAX_BYTES]],
        ExpiresIn=UPLOAD_SECONDS,
    )
    return PresignedPost(post["url"], dict(post["fields"]), now + dt.timedelta(seconds=UPLOAD_SECONDS))


def sniff_type(head: bytes) -> str | None:
    """The real type from the first bytes, whatever the name or the declared type say."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
        return "image/heic"
    return None


@dataclass(frozen=True)
class StoredPhoto:
    key: str
    size: int
    content_type: str | None  # None: not an image we accept


def inspect(key: str) -> StoredPhoto | None:
    """Whether the object exists, its size and its real type (two small requests); None if absent."""
    from botocore.exceptions import ClientError

    bucket = get_settings().photo_bucket
    try:
        head = _s3().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    size = int(head["ContentLength"])
    first = _s3().get_object(Bucket=bucket, Key=key, Range="bytes=0-31")["Body"].read() if size else b""
    return StoredPhoto(key, size, sniff_type(first))


def view_link(key: str) -> str:
    return str(
        _s3().generate_presigned_url(
            "get_object", Params={"Bucket": get_settings().photo_bucket, "Key": key}, ExpiresIn=LINK_SECONDS
        )
    )
