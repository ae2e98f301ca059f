"""Opaque list cursors: DynamoDB's LastEvaluatedKey, base64url-encoded JSON."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.errors import FieldProblem, InvalidQuery

_BAD_CURSOR = [FieldProblem("query.cursor", "not a cursor this API issued")]


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidQuery("the cursor is not valid", details=_BAD_CURSOR) from exc
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise InvalidQuery("the cursor is not valid", details=_BAD_CURSOR)
    return value


def page_view(items: list[dict[str, Any]], next_key: dict[str, Any] | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": encode_cursor(next_key)}
