"""The visit's photos (issue 11.4): straight to the private bucket, checked before they are attached,
read by staff through short-lived links; each write once however often the app retries it."""

from __future__ import annotations

import base64
import json
import time
import uuid
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from tests.functional.factories import call, drive, make_school, make_ticket, make_user, ok
from tests.support.world import PHOTO_BUCKET

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}


@pytest.fixture
def visit(client, auth) -> SimpleNamespace:
    school = make_school(client, auth)
    make_user("eng-1", "engineer")
    make_user("eng-2", "engineer")
    ticket = drive(client, auth, make_ticket(client, auth, school["school_id"]), "on_site")
    return SimpleNamespace(
        school=school, ticket=ticket, eng=auth("engineer", "eng-1"), path=f"/tickets/{ticket['ticket_id']}"
    )


def new_upload(client: Any, v: SimpleNamespace, stage: str = "before", content_type: str = "image/jpeg") -> Any:
    body = {"stage": stage, "content_type": content_type}
    return ok(call(client, "POST", f"{v.path}/photo-uploads", keyed(v.eng), body), 201)


def put(key: str, data: bytes, content_type: str = "image/jpeg") -> None:
    boto3.client("s3").put_object(Bucket=PHOTO_BUCKET, Key=key, Body=data, ContentType=content_type)


def attach(client: Any, v: SimpleNamespace, upload_id: str, stage: str = "before", key: str | None = None, **more: Any):
    body = {"upload_id": upload_id, "stage": stage, **more}
    return call(client, "POST", f"{v.path}/photos", keyed(v.eng, key), body)


def test_a_before_photo_goes_to_the_bucket_and_is_attached_once_its_bytes_are_checked(client, auth, visit):
    upload = new_upload(client, visit)
    fields = upload["upload"]["fields"]
    assert fields["key"] == f"uploads/visits/{visit.ticket['ticket_id']}/before/{upload['upload_id']}"
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["content-length-range", 1, 10 * 1024 * 1024] in policy["conditions"]  # S3 refuses a bigger file
    put(fields["key"], JPEG)

    attached = ok(attach(client, visit, upload["upload_id"], device_at="2026-11-24T10:02:00+08:00"), 201)
    assert attached["version"] == visit.ticket["version"] + 1
    [photo] = attached["items"]
    assert (photo["photo_id"], photo["stage"], photo["content_type"], photo["size"], photo["by"]) == (
        upload["upload_id"],
        "before",
        "image/jpeg",
        len(JPEG),
        "eng-1",
    )
    assert photo["device_at"] == "2026-11-24T10:02:00+08:00"

    events = ok(call(client, "GET", f"{visit.path}/events", auth("manager")))["items"]
    assert events[-1]["action"] == "photo_attached" and events[-1]["after"]["photo_id"] == upload["upload_id"]

    listed = ok(call(client, "GET", f"{visit.path}/photos", auth("dispatcher")))
    link = urlparse(listed["items"][0]["url"])
    query = parse_qs(link.query)
    assert link.path.endswith(fields["key"]) and "Signature" in query  # a signed link: the bucket is private
    assert int(query["Expires"][0]) - time.time() <= 900  # valid for 15 minutes at most


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (None, "no before photo was uploaded for this ticket with this id"),
        (b"GIF89a not an accepted image", "not a JPEG, PNG, HEIC or WebP image"),
        (b"<html>a page named photo.jpg</html>", "not a JPEG, PNG, HEIC or WebP image"),
        (JPEG + b"\x00" * (10 * 1024 * 1024), "larger than 10 MB"),
    ],
    ids=["missing", "gif", "html-as-jpeg", "too-large"],
)
def test_a_photo_that_is_missing_not_an_image_or_too_big_is_refused_and_nothing_changes(client, visit, data, problem):
    upload = new_upload(client, visit)
    if data is not None:
        put(upload["upload"]["fields"]["key"], data)
    status, body = attach(client, visit, upload["upload_id"])
    assert status == 422, body
    assert body["error"]["details"] == [{"field": "upload_id", "problem": problem}]
    ticket = ok(call(client, "GET", visit.path, visit.eng))
    assert ticket["version"] == visit.ticket["version"]


def test_an_upload_is_attached_only_to_its_own_ticket_and_stage(client, auth, visit):
    upload = new_upload(client, visit, stage="after")
    put(upload["upload"]["fields"]["key"], JPEG)
    status, body = attach(client, visit, upload["upload_id"], stage="before")
    assert status == 422 and body["error"]["details"][0]["field"] == "upload_id"
    other = drive(client, auth, make_ticket(client, auth, visit.school["school_id"]), "on_site")
    status, body = call(
        client,
        "POST",
        f"/tickets/{other['ticket_id']}/photos",
        keyed(visit.eng),
        {"upload_id": upload["upload_id"], "stage": "after"},
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "upload_id"


def test_only_the_assigned_engineer_or_dispatch_may_add_photos(client, auth, visit):
    body = {"stage": "before", "content_type": "image/jpeg"}
    path = f"{visit.path}/photo-uploads"
    assert call(client, "POST", path, keyed(auth("engineer", "eng-2")), body)[0] == 403
    assert call(client, "POST", path, keyed(auth("manager")), body)[0] == 403
    assert call(client, "POST", path, keyed(auth("dispatcher")), body)[0] == 201
    assert call(client, "GET", f"{visit.path}/photos", auth("engineer", "eng-2"))[0] == 403


def test_every_photo_write_needs_an_idempotency_key(client, visit):
    status, body = call(
        client, "POST", f"{visit.path}/photo-uploads", visit.eng, {"stage": "before", "content_type": "image/png"}
    )
    assert status == 400 and body["error"]["details"][0]["field"] == "Idempotency-Key"


def test_each_photo_write_replayed_three_times_has_one_effect_and_the_same_answer(client, auth, visit):
    key = str(uuid.uuid4())
    body = {"stage": "after", "content_type": "image/jpeg"}
    forms = [call(client, "POST", f"{visit.path}/photo-uploads", keyed(visit.eng, key), body) for _ in range(4)]
    assert all(f == forms[0] for f in forms) and forms[0][0] == 201
    upload = forms[0][1]
    put(upload["upload"]["fields"]["key"], JPEG)

    attach_key = str(uuid.uuid4())
    answers = [attach(client, visit, upload["upload_id"], stage="after", key=attach_key) for _ in range(4)]
    assert all(a == answers[0] for a in answers) and answers[0][0] == 201
    events = ok(call(client, "GET", f"{visit.path}/events", auth("manager")))["items"]
    assert [e["action"] for e in events].count("photo_attached") == 1
    assert len(ok(call(client, "GET", f"{visit.path}/photos", visit.eng))["items"]) == 1
