"""The school's side through the API (issue 9, D-S6, D-A3): scan, report, join, photos, limits, follow."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest

from tests.functional.factories import call, make_lamp, make_school, ok

BUCKET = "lampcare-test-photos"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def lamps(client, auth):
    school = make_school(client, auth)
    made = [make_lamp(client, auth, school["school_id"], room_id="A-101") for _ in range(3)]
    other_room = make_lamp(client, auth, school["school_id"], room_id="B-201")
    return {"school": school, "room": made, "other_room": other_room}


def report(client, lamp, **body):
    payload = {"fault": "not_lit", **body}
    return call(client, "POST", f"/r/{lamp['qr_token']}/reports", {"Content-Type": "application/json"}, payload)


def staff_ticket(client, auth, ref):
    return ok(call(client, "GET", f"/tickets/{ref}", auth("dispatcher")))


def test_a_scan_opens_a_case_with_a_reference_the_reporter_keeps(client, auth, lamps):
    lamp = lamps["room"][0]
    code, body = report(client, lamp, fault="flickering", description="Flickers above the blackboard")
    assert code == 201, body
    assert body["joined"] is False and body["report_count"] == 1 and body["stage"] == "received"
    assert body["status_url"].endswith(f"/s/{body['public_ref']}")
    ticket = staff_ticket(client, auth, body["reference"])
    assert (ticket["source"], ticket["category"], ticket["lamp_ids"]) == (
        "school_report",
        "flickering",
        [lamp["lamp_id"]],
    )
    assert ticket["level"] == 1 and ticket["level_confirmed"] is False  # suggested: flicker on a working lamp (D-S3)
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth()))["has_open_fault"] is True


def test_scanning_a_lamp_with_an_open_case_joins_it_instead_of_opening_a_second(client, auth, lamps):
    lamp = lamps["room"][0]
    first = ok(report(client, lamp), 201)
    again = ok(report(client, lamp, fault="not_lit", contact_phone="+86 138 0013 8000"), 201)
    assert (again["reference"], again["joined"], again["report_count"]) == (first["reference"], True, 2)
    ticket = staff_ticket(client, auth, first["reference"])
    assert ticket["lamp_ids"] == [lamp["lamp_id"]]
    events = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/events", auth()))["items"]
    assert [e["action"] for e in events] == ["create", "report_joined"]


def test_reports_on_several_lamps_of_one_room_within_30_minutes_make_one_case(client, auth, lamps):
    """One case with several lamps: the dispatcher triages once and sends one engineer (orange: D-S3)."""
    first = ok(report(client, lamps["room"][0]), 201)
    second = ok(report(client, lamps["room"][1]), 201)
    assert (second["reference"], second["joined"]) == (first["reference"], True)
    ticket = staff_ticket(client, auth, first["reference"])
    assert ticket["lamp_ids"] == [lamps["room"][0]["lamp_id"], lamps["room"][1]["lamp_id"]]
    # Scanning the second lamp again now finds its own open case: still the same one.
    assert ok(report(client, lamps["room"][1]), 201)["reference"] == first["reference"]
    # Another room is another case.
    assert ok(report(client, lamps["other_room"]), 201)["reference"] != first["reference"]


def test_a_report_on_another_lamp_after_the_room_window_opens_its_own_case(client, auth, lamps):
    from chalicelib.schemas import PublicReportIn
    from chalicelib.services import public_reports

    body = PublicReportIn(fault="not_lit")
    start = dt.datetime.now(dt.UTC)
    first = public_reports.submit_report(lamps["room"][0]["qr_token"], body, "10.0.0.1", now=start)
    later = public_reports.submit_report(
        lamps["room"][1]["qr_token"], body, "10.0.0.1", now=start + dt.timedelta(minutes=31)
    )
    assert later.reference != first.reference and later.joined is False


def test_the_whole_room_dark_during_lessons_is_suggested_red(client, auth, lamps):
    from chalicelib.schemas import PublicReportIn
    from chalicelib.services import public_reports

    tuesday_10am_shanghai = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
    out = public_reports.submit_report(
        lamps["room"][0]["qr_token"], PublicReportIn(fault="room_dark"), "10.0.0.2", now=tuesday_10am_shanghai
    )
    ticket = staff_ticket(client, auth, out.reference)
    assert ticket["level"] == 4
    assert ticket["onsite_due"] == "2026-11-24T02:10:00Z"  # engineer on site within 10 minutes


class TestPhotos:
    def upload(self, client, lamp, content_type="image/jpeg", size=1000):
        return call(
            client,
            "POST",
            f"/r/{lamp['qr_token']}/photos",
            {"Content-Type": "application/json"},
            {"content_type": content_type, "size": size},
        )

    def put(self, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
        boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data, ContentType=content_type)

    def test_a_photo_uploaded_by_presigned_post_is_attached_after_its_bytes_are_checked(self, client, auth, lamps):
        lamp = lamps["room"][0]
        upload = ok(self.upload(client, lamp), 201)
        fields = upload["upload"]["fields"]
        assert fields["Content-Type"] == "image/jpeg" and fields["key"].startswith(f"uploads/{lamp['lamp_id']}/")
        policy = json.loads(__import__("base64").b64decode(fields["policy"]))
        assert ["content-length-range", 1, 10 * 1024 * 1024] in policy["conditions"]  # S3 refuses a bigger file
        self.put(fields["key"], JPEG)

        body = ok(report(client, lamp, photo_ids=[upload["photo_id"]]), 201)
        ticket = staff_ticket(client, auth, body["reference"])
        assert ticket["photos"] == [fields["key"]]

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            (b"GIF89a not an accepted image", "not a JPEG, PNG, HEIC or WebP image"),
            (b"<html>a page named photo.jpg</html>", "not a JPEG, PNG, HEIC or WebP image"),
            (None, "no photo was uploaded with this id"),
            (JPEG + b"\x00" * (10 * 1024 * 1024), "larger than 10 MB"),
        ],
        ids=["gif", "html-as-jpeg", "never-uploaded", "too-large"],
    )
    def test_a_photo_that_fails_a_check_is_refused_naming_it_and_nothing_is_filed(
        self, client, auth, lamps, data, problem
    ):
        lamp = lamps["room"][0]
        upload = ok(self.upload(client, lamp), 201)
        if data is not None:
            self.put(upload["upload"]["fields"]["key"], data)
        code, body = report(client, lamp, photo_ids=[upload["photo_id"]])
        assert code == 422, body
        assert body["error"]["details"] == [{"field": "photo_ids.0", "problem": problem}]
        assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth()))["has_open_fault"] is False

    def test_a_photo_uploaded_through_another_lamps_label_cannot_be_attached(self, client, auth, lamps):
        mine, other = lamps["room"][0], lamps["other_room"]
        upload = ok(self.upload(client, other), 201)
        self.put(upload["upload"]["fields"]["key"], PNG, "image/png")
        code, body = report(client, mine, photo_ids=[upload["photo_id"]])
        assert code == 422 and body["error"]["details"][0]["problem"] == "no photo was uploaded with this id"

    def test_only_images_up_to_10_mb_can_be_asked_for(self, client, lamps):
        code, body = self.upload(client, lamps["room"][0], content_type="application/pdf")
        assert code == 422 and body["error"]["details"][0]["field"] == "content_type"
        code, body = self.upload(client, lamps["room"][0], size=10 * 1024 * 1024 + 1)
        assert code == 422 and body["error"]["details"][0]["field"] == "size"


def test_an_unknown_or_rotated_label_is_a_404_that_reveals_nothing(client, auth, lamps):
    lamp = lamps["room"][0]
    ok(call(client, "POST", f"/lamps/{lamp['lamp_id']}/qr-token", auth()))
    for token in (lamp["qr_token"], "not-a-token"):
        code, body = report(client, {"qr_token": token})
        assert code == 404, body
        assert body["error"]["code"] == "not_found"
        assert lamp["lamp_id"] not in json.dumps(body) and "school" not in json.dumps(body)


def test_the_honeypot_field_files_nothing(client, auth, lamps):
    lamp = lamps["room"][0]
    code, body = report(client, lamp, website="http://spam.example")
    assert code == 201  # a bot learns nothing
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth()))["has_open_fault"] is False


def test_a_thousand_submissions_on_one_lamp_leave_one_case_bounded_items_and_no_5xx(client, auth, lamps):
    from chalicelib.models.rate_limits import RateLimitModel

    lamp = lamps["room"][0]
    codes: dict[int, int] = {}
    references = set()
    retry_after = set()
    for _ in range(1000):
        response = client.http.post(
            f"/r/{lamp['qr_token']}/reports",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"fault": "not_lit"}),
        )
        codes[response.status_code] = codes.get(response.status_code, 0) + 1
        if response.status_code == 201:
            references.add(response.json_body["reference"])
        elif response.status_code == 429:
            retry_after.add(int(response.headers["Retry-After"]))
    assert set(codes) == {201, 429}, codes
    assert codes[201] == 10  # the per-label limit in a window
    assert len(references) == 1
    assert retry_after and all(0 < s <= 600 for s in retry_after)
    ticket = staff_ticket(client, auth, references.pop())
    assert len(ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/events", auth()))["items"]) == 10
    assert (
        RateLimitModel.count() <= 4
    )  # one counter per key and window: label and address, this window and maybe the next


def test_the_status_page_shows_progress_in_plain_words_and_no_personal_data(client, auth, lamps):
    lamp = lamps["room"][0]
    filed = ok(report(client, lamp, contact_phone="+86 138 0013 8000", description="Dark"), 201)
    ticket = staff_ticket(client, auth, filed["reference"])
    from tests.functional.factories import make_user, transition

    make_user("eng-1", "engineer", name="Zhang Wei")
    ticket = ok(transition(client, auth, ticket, "triage"))
    ok(transition(client, auth, ticket, "assign", assignee_id="eng-1", note="internal: call the caretaker"))

    code, status = call(client, "GET", f"/s/{filed['public_ref']}", {})
    assert code == 200, status
    assert status["stage"] == "engineer_assigned" and status["reference"] == filed["reference"]
    assert [step["stage"] for step in status["history"]] == ["received", "engineer_assigned"]
    text = json.dumps(status, ensure_ascii=False)
    for private in ("138", "Zhang", "eng-1", "caretaker", "school-report"):
        assert private not in text, private
    assert call(client, "GET", "/s/not-a-reference", {})[0] == 404
