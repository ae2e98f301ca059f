"""Factories: build the registry and tickets through the API, as a user would."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

_seq = itertools.count(1)


def call(client: Any, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = getattr(client.http, method.lower())(path, **kwargs)
    try:
        payload = json.loads(response.body) if response.body else None
    except (ValueError, UnicodeDecodeError):
        payload = response.body
    return response.status_code, payload


def ok(result: tuple[int, Any], status: int = 200) -> Any:
    code, body = result
    assert code == status, f"expected {status}, got {code}: {body}"
    return body


def make_contract(client: Any, auth: Any, **overrides: Any) -> dict[str, Any]:
    body = {"code": f"P{next(_seq)}", "name": "Eye-care lighting retrofit 2026", **overrides}
    return ok(call(client, "POST", "/contracts", auth("admin"), body), 201)


def make_school(client: Any, auth: Any, contract_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    contract_id = contract_id or make_contract(client, auth)["contract_id"]
    n = next(_seq)
    body = {
        "contract_id": contract_id,
        "code": f"SCH{n}",
        "name": f"No. {n} Primary School",
        "address": "1 Xueyuan Road",
        "latitude": 31.23,
        "longitude": 121.47,
        **overrides,
    }
    return ok(call(client, "POST", "/schools", auth("admin"), body), 201)


def make_lamp(client: Any, auth: Any, school_id: str, **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    body = {
        "school_id": school_id,
        "room_id": "A-101",
        "position": str(n),
        "model": "EP-LED-40",
        "serial": f"SN{n:08d}",
        "installed_on": "2025-08-20",
        "accepted_on": "2025-09-01",
        **overrides,
    }
    return ok(call(client, "POST", "/lamps", auth("admin"), body), 201)


def make_user(user_id: str, role: str, name: str = "") -> None:
    from chalicelib.models.access import UserModel
    from chalicelib.models.base import bind_tables

    bind_tables()
    UserModel(user_id, name=name or user_id, role=role).save()


def make_ticket(
    client: Any, auth: Any, school_id: str, lamp_ids: list[str] | None = None, **overrides: Any
) -> dict[str, Any]:
    body = {
        "source": "school_report",
        "school_id": school_id,
        "lamp_ids": lamp_ids or [],
        "category": "not_lit",
        "description": "The lamp above the blackboard does not light",
        **overrides,
    }
    return ok(call(client, "POST", "/tickets", auth("dispatcher"), body), 201)


def transition(
    client: Any,
    auth: Any,
    ticket: dict[str, Any],
    action: str,
    role: str = "dispatcher",
    sub: str | None = None,
    **fields: Any,
) -> tuple[int, Any]:
    body = {"action": action, "version": ticket["version"], **fields}
    return call(client, "POST", f"/tickets/{ticket['ticket_id']}/transitions", auth(role, sub), body)


# A PNG's first bytes: what the signature check reads (the image itself is not drawn in tests).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def school_signs_off(
    client: Any, headers: Any, ticket: dict[str, Any], role: str = "dispatcher", sub: str | None = None, **fields: Any
) -> dict[str, Any]:
    """The school's sign-off as the app gives it (issue 11.8): the contact signs on the engineer's screen,
    the app uploads the PNG and signs off with it. Returns the signed-off ticket."""
    import uuid

    import boto3

    from tests.support.world import PHOTO_BUCKET

    path = f"/tickets/{ticket['ticket_id']}"
    request = ok(
        call(
            client,
            "POST",
            f"{path}/sign-off-requests",
            {**headers(role, sub), "Idempotency-Key": str(uuid.uuid4())},
            {"method": "signature"},
        ),
        201,
    )
    key = request["upload"]["fields"]["key"]
    boto3.client("s3").put_object(Bucket=PHOTO_BUCKET, Key=key, Body=PNG, ContentType="image/png")
    body = {
        "method": "signature",
        "signature_upload_id": request["request_id"],
        **ACTION_FIELDS["sign_off"],
        **fields,
    }
    headers_with_key = {**headers(role, sub), "Idempotency-Key": str(uuid.uuid4())}
    return ok(call(client, "POST", f"{path}/sign-off", headers_with_key, body))


# ---- shared by the transition matrix and other multi-ticket tests ---------------------------


def cached_auth(key_path: Any) -> Any:
    """Like the `auth` fixture (the same maker): each (role, sub) token is signed once."""
    from tests.support.world import header_maker

    return header_maker(key_path)


# The fields each action needs to succeed (D-O2 signer, D-C1 note, ...), so that a refusal in a
# test can only come from the role, the state or the assignee rule.
ACTION_FIELDS: dict[str, dict[str, Any]] = {
    "triage": {"level": 2, "category": "hardware_fault"},
    "assign": {"assignee_id": "eng-9"},
    "resolve": {"note": "Swapped the driver board"},
    "sign_off": {"signer_name": "Ms Wang", "signer_role": "head teacher"},
    "cancel": {"note": "Reported in error: the wall switch was off"},
    "reopen": {"note": "The lamp flickers again"},
    "change_level": {"level": 4},
}

# The shortest way through the API to each status: (action, who acts), "assignee" being the
# engineer or expert the ticket is assigned to.
PATH_TO: dict[str, list[tuple[str, str]]] = {
    "reported": [],
    "triaged": [("triage", "dispatcher")],
    "assigned": [("triage", "dispatcher"), ("assign", "dispatcher")],
    "acknowledged": [("triage", "dispatcher"), ("assign", "dispatcher"), ("acknowledge", "assignee")],
    "en_route": [
        ("triage", "dispatcher"),
        ("assign", "dispatcher"),
        ("acknowledge", "assignee"),
        ("depart", "assignee"),
    ],
    "on_site": [
        ("triage", "dispatcher"),
        ("assign", "dispatcher"),
        ("acknowledge", "assignee"),
        ("depart", "assignee"),
        ("arrive", "assignee"),
    ],
    # resolved by phone (D-S1): acknowledge, then resolve
    "resolved": [
        ("triage", "dispatcher"),
        ("assign", "dispatcher"),
        ("acknowledge", "assignee"),
        ("resolve", "assignee"),
    ],
    "signed_off": [
        ("triage", "dispatcher"),
        ("assign", "dispatcher"),
        ("acknowledge", "assignee"),
        ("resolve", "assignee"),
        ("sign_off", "assignee"),
    ],
    "closed": [
        ("triage", "dispatcher"),
        ("assign", "dispatcher"),
        ("acknowledge", "assignee"),
        ("resolve", "assignee"),
        ("sign_off", "assignee"),
        ("close", "dispatcher"),
    ],
    "cancelled": [("triage", "dispatcher"), ("assign", "dispatcher"), ("cancel", "dispatcher")],
    "merged": [("merge", "dispatcher")],
    "reopened": [
        ("triage", "dispatcher"),
        ("assign", "dispatcher"),
        ("acknowledge", "assignee"),
        ("resolve", "assignee"),
        ("reopen", "dispatcher"),
    ],
}


def drive(
    client: Any,
    headers: Any,
    ticket: dict[str, Any],
    status: str,
    *,
    assignee: tuple[str, str] = ("eng-1", "engineer"),
    merge_into: str | None = None,
) -> dict[str, Any]:
    """Takes a freshly reported ticket to `status` through the API; `assignee` is (user id, role)."""
    assignee_id, assignee_role = assignee
    for action, who in PATH_TO[status]:
        fields = dict(ACTION_FIELDS.get(action, {}))
        if action == "assign":
            fields["assignee_id"] = assignee_id
        if action == "merge":
            fields["merge_into"] = merge_into
        role, sub = (assignee_role, assignee_id) if who == "assignee" else (who, None)
        if action == "sign_off":  # only the school signs off (D-O2): not a typed name, a signature here
            ticket = school_signs_off(client, headers, ticket, role, sub)
            continue
        body = {"action": action, "version": ticket["version"], **fields}
        ticket = ok(call(client, "POST", f"/tickets/{ticket['ticket_id']}/transitions", headers(role, sub), body))
    assert ticket["status"] == status
    return ticket


@contextmanager
def api_world(key_path: Any) -> Iterator[SimpleNamespace]:
    """One moto world with tables and a contract-checked client, for a class of tests that share
    their data (the per-test `client` fixture builds a fresh one each time). Fails on any Scan."""
    from chalice.test import Client

    from local_aws.calls import record_calls
    from tests.contract import checked
    from tests.support.world import moto_world

    with moto_world(), record_calls() as calls:
        from app import app

        with Client(app, stage_name="test") as client:
            headers = cached_auth(key_path)
            yield SimpleNamespace(
                client=checked(client),
                headers=headers,
                calls=calls,
                auth=lambda role="admin", sub=None: headers(role, sub),
            )
        assert not calls.scans(), calls.scans()
