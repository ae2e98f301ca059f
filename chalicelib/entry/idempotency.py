"""Run a create once per key, whoever supplies the key.

A route takes it from the `Idempotency-Key` header; an S3 event or a stream record would use its
own event id, a Step Functions task its execution name. This module checks the key, gives the
input one canonical form (a retry with other whitespace or key order is the same request) and
stores the JSON-ready answer, so a replay is exactly what the first answer was. The store itself
is Powertools' idempotency (chalicelib.services.idempotency), loaded only when a key is sent.
Must never import chalice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from chalicelib.entry.jsonable import jsonable
from chalicelib.errors import FieldProblem, InvalidHeader

if TYPE_CHECKING:
    from pydantic import BaseModel

KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{8,128}")


def check_key(key: str, key_name: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidHeader(
            f"the {key_name} header is not a valid key",
            details=[FieldProblem(key_name, "8 to 128 letters, digits or _.:- (a UUID is ideal)")],
        )
    return key


def canonical(body: BaseModel | None, raw: bytes = b"") -> bytes:
    """The parsed input re-serialised (the raw bytes when there is no model)."""
    return body.model_dump_json().encode() if body is not None else raw


def run_once(
    operation: str,
    caller: str,
    key: str,
    request: bytes,
    run: Callable[[], Any],
    *,
    key_name: str,
    lambda_context: Any = None,
) -> tuple[Any, bool]:
    """(the JSON-ready answer, whether it was replayed); refusals are domain errors (422 a key reused
    for another request, 409 a first attempt still running)."""
    check_key(key, key_name)
    store = import_module("chalicelib.services.idempotency")  # Powertools loads only when a key is sent
    result: tuple[Any, bool] = store.once(
        operation, caller, key, request, lambda: jsonable(run()), key_name=key_name, lambda_context=lambda_context
    )
    return result
