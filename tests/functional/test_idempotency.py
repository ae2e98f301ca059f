"""A phone that loses the answer to "create ticket" and sends it again must not open a second case.

createTicket takes an `Idempotency-Key` header (mobile_api_docs/README.md, Retries).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.functional.factories import call, make_lamp, make_school, ok


def create(client: Any, headers: dict[str, str], body: dict[str, Any], key: str | None) -> Any:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.http.post("/tickets", headers={**headers, **extra}, body=json.dumps(body))


def report(school_id: str, lamp_id: str, description: str = "Flickers every few seconds") -> dict[str, Any]:
    return {
        "source": "dispatcher",
        "school_id": school_id,
        "lamp_ids": [lamp_id],
        "category": "flickering",
        "description": description,
    }


def tickets_of(client: Any, auth: Any, school_id: str) -> list[dict[str, Any]]:
    return ok(call(client, "GET", f"/tickets?school_id={school_id}", auth("dispatcher")))["items"]


def test_a_retried_create_with_the_same_key_answers_the_first_ticket_and_opens_no_second(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    key, body = str(uuid.uuid4()), report(school["school_id"], lamp["lamp_id"])

    first = create(client, auth("dispatcher"), body, key)
    retry = create(client, auth("dispatcher"), body, key)

    assert (first.status_code, retry.status_code) == (201, 201), retry.body
    assert json.loads(retry.body) == json.loads(first.body)
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [t["ticket_id"] for t in tickets_of(client, auth, school["school_id"])] == [
        json.loads(first.body)["ticket_id"]
    ]
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth()))["open_tickets"] == 1


def test_without_a_key_two_sends_are_two_tickets(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    body = report(school["school_id"], lamp["lamp_id"])
    assert [create(client, auth("dispatcher"), body, None).status_code for _ in range(2)] == [201, 201]
    assert len(tickets_of(client, auth, school["school_id"])) == 2


def test_a_key_reused_for_a_different_report_is_422_naming_the_header(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    key = str(uuid.uuid4())
    assert create(client, auth("dispatcher"), report(school["school_id"], lamp["lamp_id"]), key).status_code == 201

    other = create(
        client, auth("dispatcher"), report(school["school_id"], lamp["lamp_id"], "Makes a buzzing noise"), key
    )

    assert other.status_code == 422, other.body
    assert json.loads(other.body)["error"]["details"][0]["field"] == "Idempotency-Key"
    assert len(tickets_of(client, auth, school["school_id"])) == 1


def test_keys_belong_to_their_user(client, auth):
    """Two dispatchers who happen to pick the same key each get their own ticket."""
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    key, body = "shared-key-0001", report(school["school_id"], lamp["lamp_id"])
    a = create(client, auth("dispatcher", "disp-a"), body, key)
    b = create(client, auth("dispatcher", "disp-b"), body, key)
    assert (a.status_code, b.status_code) == (201, 201)
    assert json.loads(a.body)["ticket_id"] != json.loads(b.body)["ticket_id"]


def test_a_refused_create_does_not_use_up_its_key(client, auth):
    """The first attempt names a lamp of another school (422); the corrected retry with the same key succeeds."""
    school, elsewhere = make_school(client, auth), make_school(client, auth)
    lamp, foreign = make_lamp(client, auth, school["school_id"]), make_lamp(client, auth, elsewhere["school_id"])
    key = str(uuid.uuid4())

    refused = create(client, auth("dispatcher"), report(school["school_id"], foreign["lamp_id"]), key)
    assert refused.status_code == 422, refused.body

    fixed = create(client, auth("dispatcher"), report(school["school_id"], lamp["lamp_id"]), key)
    assert fixed.status_code == 201, fixed.body
    assert "Idempotent-Replayed" not in fixed.headers


def test_a_malformed_key_is_400_naming_the_header_and_creates_nothing(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    for key in ["short", "has spaces in it", "x" * 129]:
        response = create(client, auth("dispatcher"), report(school["school_id"], lamp["lamp_id"]), key)
        assert response.status_code == 400, (key, response.body)
        error = json.loads(response.body)["error"]
        assert (error["code"], error["details"][0]["field"]) == ("invalid_header", "Idempotency-Key")
    assert tickets_of(client, auth, school["school_id"]) == []


def test_a_retry_that_serialises_the_same_report_differently_is_still_the_same_request(client, auth):
    """A retry library may re-encode the body (key order, spaces); only the content counts."""
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    key, body = str(uuid.uuid4()), report(school["school_id"], lamp["lamp_id"])
    headers = {**auth("dispatcher"), "Idempotency-Key": key}
    first = client.http.post("/tickets", headers=headers, body=json.dumps(body))
    again = client.http.post("/tickets", headers=headers, body=json.dumps(dict(reversed(body.items())), indent=2))
    assert (first.status_code, again.status_code) == (201, 201), again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(tickets_of(client, auth, school["school_id"])) == 1
