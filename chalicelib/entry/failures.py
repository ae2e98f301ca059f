"""One mapping from domain errors to what the caller of an entry point is told.

A route answers with an HTTP status and the body `{"error": {"code", "message", "details"}}`;
any other entry (a job, a task, an event) logs the same body as one structured record and
returns it, so an operator or a state machine reads the same codes as an app developer.

At most `MAX_DETAILS` problems are listed; `more_details` counts the rest (issue 8: a body of
131,000 unknown fields must not be answered with 131,000 lines). Must never import chalice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib import errors

MAX_DETAILS = 20

# First match wins: subclasses before their bases.
STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.MalformedInput, 400),
    (errors.InvalidHeader, 400),
    (errors.InvalidQuery, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.ImportRejected, 422),
    (errors.InvalidInput, 422),
    (errors.Throttled, 429),
]


def http_status(exc: errors.DomainError) -> int:
    return next((status for cls, status in STATUS if isinstance(exc, cls)), 400)


def error_body(code: str, message: str, details: Iterable[errors.FieldProblem] = (), **extra: Any) -> dict[str, Any]:
    """The one error shape. Details past MAX_DETAILS are counted in `more_details` (added to any
    count the caller already passes for problems it never listed)."""
    listed = details if isinstance(details, Sequence) else list(details)
    more = int(extra.pop("more_details", 0) or 0) + max(0, len(listed) - MAX_DETAILS)
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "details": [{"field": d.field, "problem": d.problem} for d in listed[:MAX_DETAILS]],
    }
    if more:
        body["more_details"] = more
    body.update(extra)
    return {"error": body}


def failure_body(exc: errors.DomainError) -> dict[str, Any]:
    extra = dict(exc.extra)
    if isinstance(exc, errors.ImportRejected):
        extra["rows"] = [{"row": r.row, "column": r.column, "problem": r.problem} for r in exc.rows]
    return error_body(exc.code, exc.message, exc.details, **extra)


def failure_record(exc: errors.DomainError, *, entry: str) -> dict[str, Any]:
    """For an entry that has no HTTP answer: the error body plus where it happened, logged once
    (a warning: the input was refused, the service is fine) and returned to the invoker."""
    from chalicelib.observability import logger

    record = {"ok": False, "entry": entry, **failure_body(exc)}
    logger.warning("entry refused", **record)
    return record
