"""The school's sign-off (issue 11.8, D-O2, D-O4): a code by SMS to the contact on record, or a signature;
no sign-off, no closure; each write once, however often the app retries it."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from tests.functional.factories import PNG, call, drive, make_lamp, make_school, make_ticket, make_user, ok, transition
from tests.support.world import PHOTO_BUCKET

PHONE = "13812345678"


def sms_messages() -> list[tuple[str, str]]:
    """(number, text) of every SMS moto's SNS was asked to send, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())


def last_code() -> str:
    number, text = sms_messages()[-1]
    assert number == "+86" + PHONE
    found = re.search(r"签认码 (\d{6})", text)
    assert found, text
    return found.group(1)


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    """The headers with an Idempotency-Key: `key`, the one they carry, or a new one."""
    return {**headers, "Idempotency-Key": key or headers.get("Idempotency-Key") or str(uuid.uuid4())}


@pytest.fixture
def visit(client, auth) -> SimpleNamespace:
    """A resolved ticket on one lamp, assigned to eng-1, at a school whose head teacher has a mobile."""
    school = make_school(
        client, auth, contacts=[{"name": "Ms Wang", "role": "head teacher", "phone": PHONE}, {"name": "Mr Li"}]
    )
    lamp = make_lamp(client, auth, school["school_id"])
    make_user("eng-1", "engineer")
    make_user("eng-2", "engineer")
    ticket = make_ticket(client, auth, school["school_id"], [lamp["lamp_id"]])
    ticket = drive(client, auth, ticket, "resolved")
    eng = auth("engineer", "eng-1")
    return SimpleNamespace(school=school, lamp=lamp, ticket=ticket, eng=eng, path=f"/tickets/{ticket['ticket_id']}")


def request_code(client: Any, v: SimpleNamespace, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return call(client, "POST", f"{v.path}/sign-off-requests", keyed(headers or v.eng), {"method": "otp"})


def sign(client: Any, v: SimpleNamespace, code: str, key: str | None = None, **fields: Any) -> tuple[int, Any]:
    body = {"method": "otp", "code": code, "signer_name": "Ms Wang", "signer_role": "head teacher", **fields}
    return call(client, "POST", f"{v.path}/sign-off", keyed(v.eng, key), body)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def stored_request(ticket_id: str) -> Any:
    from chalicelib.models.sign_off import find_request

    return find_request(ticket_id)


def test_the_code_goes_by_sms_to_the_contact_on_record_and_never_into_an_answer_or_the_table(client, visit):
    answer = ok(request_code(client, visit), 201)
    code = last_code()
    assert answer["sent_to"] == "138****5678" and answer["contact_name"] == "Ms Wang"
    assert answer["attempts_left"] == 5 and answer["method"] == "otp"
    expires = dt.datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(minutes=9) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=10)
    assert code not in json.dumps(answer) and PHONE not in json.dumps(answer)
    item = stored_request(visit.ticket["ticket_id"])
    assert code not in json.dumps(item.to_simple_dict()) and PHONE not in json.dumps(item.to_simple_dict())
    assert len(sms_messages()) == 1


def test_a_body_may_not_choose_the_number(client, visit):
    code, body = call(
        client,
        "POST",
        f"{visit.path}/sign-off-requests",
        keyed(visit.eng),
        {"method": "otp", "phone": "+8613900000000"},
    )
    assert code == 422 and body["error"]["details"][0]["field"] == "phone"
    assert sms_messages() == []


def test_the_school_signs_off_with_its_code_and_the_record_keeps_who_how_when_where(client, auth, visit):
    ok(request_code(client, visit), 201)
    signed = ok(
        sign(
            client,
            visit,
            last_code(),
            lat=31.2301,
            lon=121.4702,
            satisfaction=4,
            comment="Quick and tidy",
            device_at="2026-11-24T10:15:00+08:00",
        )
    )
    assert signed["status"] == "signed_off" and signed["version"] == visit.ticket["version"] + 1
    record = signed["sign_off"]
    assert (record["method"], record["signer_name"], record["signer_role"]) == ("otp", "Ms Wang", "head teacher")
    assert (record["lat"], record["lon"], record["satisfaction"], record["comment"]) == (
        31.2301,
        121.4702,
        4,
        "Quick and tidy",
    )
    assert record["recorded_by"] == "eng-1" and record["sent_to"] == "138****5678"
    assert record["device_at"] == "2026-11-24T10:15:00+08:00" and record["at"]
    assert "signed_off_at" in signed["milestones"]

    events = ok(call(client, "GET", f"{visit.path}/events", auth("manager")))["items"]
    assert [e["action"] for e in events][-1] == "sign_off"
    assert events[-1]["after"]["sign_off"]["satisfaction"] == 4
    history = ok(call(client, "GET", f"/lamps/{visit.lamp['lamp_id']}/history", auth("manager")))["items"]
    assert history[-1]["kind"] == "ticket_sign_off"
    assert stored_request(visit.ticket["ticket_id"]).used_at is not None

    closed = ok(transition(client, auth, signed, "close"))
    assert closed["status"] == "closed"


def test_wrong_codes_say_how_many_attempts_are_left_and_the_fifth_locks_the_request(client, visit):
    ok(request_code(client, visit), 201)
    code = last_code()
    for left in (4, 3, 2, 1, 0):
        status, body = sign(client, visit, wrong(code))
        assert status == 422, body
        assert body["error"]["code"] == "sign_off_code_wrong" and body["error"]["attempts_left"] == left
        assert body["error"]["details"][0]["field"] == "code"
    status, body = sign(client, visit, code)  # the right code, too late
    assert status == 409 and body["error"]["code"] == "sign_off_locked"
    assert ok(call(client, "GET", visit.path, visit.eng))["status"] == "resolved"

    ok(request_code(client, visit), 201)  # a new request, a new code
    fresh = last_code()
    assert sign(client, visit, code)[0] in (409, 422) or fresh == code  # the old code is gone with its request
    assert ok(sign(client, visit, fresh))["status"] == "signed_off"


def test_concurrent_guesses_cannot_take_more_than_five_attempts(client, visit):
    """The count is a conditional update: guesses past the fifth are locked out however they arrive."""
    from concurrent.futures import ThreadPoolExecutor

    ok(request_code(client, visit), 201)
    code = last_code()
    guesses = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 13)]
    # chalice's test client is not thread-safe: the service is called directly, as the route would
    from chalicelib.auth import Principal, Role
    from chalicelib.errors import DomainError
    from chalicelib.schemas import SignOffIn
    from chalicelib.services import sign_off

    eng = Principal(sub="eng-1", roles=frozenset({Role.ENGINEER}))

    def guess(value: str) -> str:
        body = SignOffIn(method="otp", code=value, signer_name="Ms Wang")
        try:
            sign_off.sign_off(visit.ticket["ticket_id"], body, eng, None)
        except DomainError as exc:
            return exc.code
        return "signed"

    from local_aws.moto_patches import serialized

    with serialized(), ThreadPoolExecutor(6) as pool:  # moto made atomic per operation, as DynamoDB is
        outcomes = list(pool.map(guess, guesses))
    assert outcomes.count("sign_off_code_wrong") == 5 and outcomes.count("sign_off_locked") == 7
    assert int(stored_request(visit.ticket["ticket_id"]).attempts) == 5


def test_an_expired_code_is_refused_clearly(client, visit):
    from chalicelib.models.sign_off import SignOffRequestModel

    ok(request_code(client, visit), 201)
    code = last_code()
    item = stored_request(visit.ticket["ticket_id"])
    item.update(actions=[SignOffRequestModel.expires_at.set(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))])
    status, body = sign(client, visit, code)
    assert status == 422 and body["error"]["code"] == "sign_off_code_expired"
    assert body["error"]["details"][0]["field"] == "code" and "expired" in body["error"]["details"][0]["problem"]
    assert ok(call(client, "GET", visit.path, visit.eng))["status"] == "resolved"


def test_codes_expire_after_ten_minutes_by_the_clock(client, visit):
    """The service with an injected clock: valid at 9:59, expired at 10:00."""
    from chalicelib.auth import Principal, Role
    from chalicelib.errors import DomainError
    from chalicelib.schemas import SignOffIn, SignOffRequestIn
    from chalicelib.services import sign_off

    eng = Principal(sub="eng-1", roles=frozenset({Role.ENGINEER}))
    start = dt.datetime.now(dt.UTC)
    sign_off.request_sign_off(visit.ticket["ticket_id"], SignOffRequestIn(method="otp"), eng, None, now=start)
    code = last_code()
    body = SignOffIn(method="otp", code=code, signer_name="Ms Wang")
    with pytest.raises(DomainError) as late:
        sign_off.sign_off(visit.ticket["ticket_id"], body, eng, None, now=start + dt.timedelta(minutes=10))
    assert late.value.code == "sign_off_code_expired"
    signed = sign_off.sign_off(
        visit.ticket["ticket_id"], body, eng, None, now=start + dt.timedelta(minutes=9, seconds=59)
    )
    assert signed.status == "signed_off"


@pytest.mark.parametrize("score", [0, 6, 4.5])
def test_satisfaction_is_a_whole_score_from_1_to_5(client, visit, score):
    ok(request_code(client, visit), 201)
    status, body = sign(client, visit, last_code(), satisfaction=score)
    assert status == 422 and body["error"]["details"][0]["field"] == "satisfaction"
    assert int(stored_request(visit.ticket["ticket_id"]).attempts) == 0  # refused before any attempt counted


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "otp", "signer_name": "Ms Wang"}, "code"),
        ({"method": "otp", "code": "12345", "signer_name": "Ms Wang"}, "code"),
        ({"method": "signature", "signer_name": "Ms Wang"}, "signature_upload_id"),
        ({"method": "otp", "code": "123456"}, "signer_name"),
        ({"method": "sms", "code": "123456", "signer_name": "Ms Wang"}, "method"),
    ],
    ids=["no-code", "short-code", "no-signature", "no-signer", "unknown-method"],
)
def test_a_sign_off_without_its_proof_or_signer_is_422_naming_the_field(client, visit, body, field):
    status, answer = call(client, "POST", f"{visit.path}/sign-off", keyed(visit.eng), body)
    assert status == 422 and [d["field"] for d in answer["error"]["details"]] == [field], answer


def test_no_sign_off_no_closure_and_a_typed_name_no_longer_signs(client, auth, visit):
    status, body = transition(client, auth, visit.ticket, "close")
    assert status == 409 and body["error"]["current_status"] == "resolved"
    status, body = transition(client, auth, visit.ticket, "sign_off", "engineer", "eng-1", signer_name="Ms Wang")
    assert status == 422 and body["error"]["details"][0]["field"] == "action"
    assert "sign-off" in body["error"]["details"][0]["problem"]
    assert ok(call(client, "GET", visit.path, visit.eng))["status"] == "resolved"


def test_only_the_assigned_engineer_or_a_dispatcher_may_ask_and_only_once_resolved(client, auth, visit):
    assert request_code(client, visit, auth("engineer", "eng-2"))[0] == 403
    assert request_code(client, visit, auth("manager"))[0] == 403
    status, body = request_code(client, visit, auth("admin"))  # past the route, refused by the lifecycle
    assert status == 403 and body["error"]["required_roles"] == ["dispatcher", "engineer", "expert"]
    assert request_code(client, visit, auth("dispatcher"))[0] == 201
    open_ticket = drive(client, auth, make_ticket(client, auth, visit.school["school_id"]), "on_site")
    status, body = call(
        client, "POST", f"/tickets/{open_ticket['ticket_id']}/sign-off-requests", keyed(visit.eng), {"method": "otp"}
    )
    assert status == 409 and body["error"]["code"] == "illegal_transition"
    assert body["error"]["current_status"] == "on_site"


def test_signing_without_a_request_is_409(client, visit):
    status, body = sign(client, visit, "123456")
    assert status == 409 and body["error"]["code"] == "sign_off_not_requested"


def test_a_school_without_a_mobile_on_record_can_sign_by_signature(client, auth):
    school = make_school(client, auth, contacts=[{"name": "Mr Li", "phone": ""}])
    make_user("eng-1", "engineer")
    ticket = drive(client, auth, make_ticket(client, auth, school["school_id"]), "resolved")
    v = SimpleNamespace(eng=auth("engineer", "eng-1"), path=f"/tickets/{ticket['ticket_id']}")
    status, body = request_code(client, v)
    assert status == 422 and body["error"]["details"][0]["field"] == "method"

    request = ok(call(client, "POST", f"{v.path}/sign-off-requests", keyed(v.eng), {"method": "signature"}), 201)
    fields = request["upload"]["fields"]
    assert fields["Content-Type"] == "image/png" and request["sent_to"] is None
    sign_body = {"method": "signature", "signature_upload_id": request["request_id"], "signer_name": "Mr Li"}
    status, body = call(client, "POST", f"{v.path}/sign-off", keyed(v.eng), sign_body)
    assert status == 422 and body["error"]["details"][0] == {
        "field": "signature_upload_id",
        "problem": "no signature image was uploaded with this id",
    }
    s3 = boto3.client("s3")
    s3.put_object(Bucket=PHOTO_BUCKET, Key=fields["key"], Body=b"\xff\xd8\xff a jpeg", ContentType="image/png")
    status, body = call(client, "POST", f"{v.path}/sign-off", keyed(v.eng), sign_body)
    assert status == 422 and body["error"]["details"][0]["problem"] == "not a PNG image"
    s3.put_object(Bucket=PHOTO_BUCKET, Key=fields["key"], Body=PNG, ContentType="image/png")
    signed = ok(call(client, "POST", f"{v.path}/sign-off", keyed(v.eng), sign_body))
    assert signed["sign_off"]["method"] == "signature" and signed["sign_off"]["signature_key"] == fields["key"]


def test_each_sign_off_write_replayed_three_times_has_one_effect_and_the_same_answer(client, auth, visit):
    key = str(uuid.uuid4())
    answers = [request_code(client, visit, keyed(visit.eng, key)) for _ in range(4)]
    assert all(a == answers[0] for a in answers) and answers[0][0] == 201
    assert len(sms_messages()) == 1  # the retries sent nothing

    code, sign_key = last_code(), str(uuid.uuid4())
    signed = [sign(client, visit, code, key=sign_key, satisfaction=5) for _ in range(4)]
    assert all(s == signed[0] for s in signed) and signed[0][0] == 200
    events = ok(call(client, "GET", f"{visit.path}/events", auth("manager")))["items"]
    assert [e["action"] for e in events].count("sign_off") == 1
    assert int(stored_request(visit.ticket["ticket_id"]).attempts) == 1  # a retry is not another attempt


def test_a_wrong_code_retried_is_one_attempt(client, visit):
    ok(request_code(client, visit), 201)
    key = str(uuid.uuid4())
    bad = wrong(last_code())
    answers = [sign(client, visit, bad, key=key) for _ in range(3)]
    assert all(a == answers[0] for a in answers) and answers[0][1]["error"]["attempts_left"] == 4
    other = sign(client, visit, wrong(bad), key=key)  # the same key with another code is another attempt
    assert other[1]["error"]["attempts_left"] == 3


def test_a_new_code_is_limited_to_five_an_hour_per_ticket(client, visit):
    for _ in range(5):
        ok(request_code(client, visit), 201)
    status, body = request_code(client, visit)
    assert status == 429 and body["error"]["code"] == "throttled"
    assert len(sms_messages()) == 5


def test_a_code_sns_refuses_is_withdrawn_and_the_same_key_may_try_again(client, visit, monkeypatch):
    """Stored before it is sent (so a retry sends nothing twice); if SNS refuses it, the request and its
    guard go, and the app's retry with the same key starts over."""
    from chalicelib import sms

    def refuse(phone: str, message: str) -> str:
        raise sms.SmsRefused("InvalidParameter")

    key = str(uuid.uuid4())
    with monkeypatch.context() as patched:
        patched.setattr(sms, "send", refuse)
        status, body = request_code(client, visit, keyed(visit.eng, key))
    assert status == 409 and body["error"]["code"] == "sms_not_sent"
    assert body["error"]["details"][0]["field"] == "method"
    assert stored_request(visit.ticket["ticket_id"]) is None
    status, body = request_code(client, visit, keyed(visit.eng, key))
    assert status == 201 and body["sent_to"] == "138****5678"
    assert ok(sign(client, visit, last_code()))["status"] == "signed_off"
