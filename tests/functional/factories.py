"""Factories: build the registry and tickets through the API, as a user would."""

from __future__ import annotations

import itertools
import json
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
    body = {"contract_id": contract_id, "code": f"SCH{n}", "name": f"No. {n} Primary School",
            "address": "1 Xueyuan Road", "latitude": 31.23, "longitude": 121.47, **overrides}
    return ok(call(client, "POST", "/schools", auth("admin"), body), 201)


def make_lamp(client: Any, auth: Any, school_id: str, **overrides: Any) -> dict[str, Any]:
    n = next(_seq)
    body = {"school_id": school_id, "room_id": "A-101", "position": str(n), "model": "EP-LED-40",
            "serial": f"SN{n:08d}", "installed_on": "2025-08-20", "accepted_on": "2025-09-01", **overrides}
    return ok(call(client, "POST", "/lamps", auth("admin"), body), 201)


def make_user(user_id: str, role: str, name: str = "") -> None:
    from chalicelib.models.access import UserModel
    from chalicelib.models.base import bind_tables

    bind_tables()
    UserModel(user_id, name=name or user_id, role=role).save()


def make_ticket(client: Any, auth: Any, school_id: str, lamp_ids: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    body = {"source": "school_report", "school_id": school_id, "lamp_ids": lamp_ids or [], "category": "not_lit",
            "description": "The lamp above the blackboard does not light", **overrides}
    return ok(call(client, "POST", "/tickets", auth("dispatcher"), body), 201)


def transition(client: Any, auth: Any, ticket: dict[str, Any], action: str, role: str = "dispatcher",
               sub: str | None = None, **fields: Any) -> tuple[int, Any]:
    body = {"action": action, "version": ticket["version"], **fields}
    return call(client, "POST", f"/tickets/{ticket['ticket_id']}/transitions", auth(role, sub), body)
