"""Domain errors. Plain Python: the handlers layer maps them to HTTP in one place.

Must never import chalice or boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FieldProblem:
    field: str
    problem: str


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, details: list[FieldProblem] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.extra = extra or {}


class InvalidInput(DomainError):
    """The request is well-formed but breaks a rule about its content."""

    code = "invalid_input"


class ValidationFailed(InvalidInput):
    """The input does not fit its schema (unknown field, wrong type, out of range): refused before any rule runs."""

    code = "validation_failed"


class MalformedInput(DomainError):
    """The input cannot be read at all (empty, not JSON, nested too deeply)."""

    code = "malformed_body"


class InvalidHeader(DomainError):
    """A header (or an event's equivalent, e.g. an idempotency key) has a value the API cannot use."""

    code = "invalid_header"


class InvalidQuery(DomainError):
    """A query parameter the schema cannot judge alone, e.g. a cursor from another list."""

    code = "invalid_query"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The target exists in a state that refuses the change (e.g. duplicate, illegal transition)."""

    code = "conflict"


class StaleVersion(Conflict):
    code = "stale_version"


class WriteConflict(Conflict):
    """A write refused for a reason no rule names (another writer held an item); retrying may succeed."""

    code = "write_conflict"


class AlreadyApplied(Conflict):
    """A guarded write whose Idempotency-Key was used before: the spine answers with the stored answer."""

    code = "already_applied"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"


@dataclass
class RowError:
    row: int
    column: str
    problem: str


class ImportRejected(DomainError):
    """An all-or-nothing import found bad rows; nothing was written."""

    code = "import_rejected"

    def __init__(self, rows: list[RowError]):
        super().__init__(f"{len(rows)} row(s) are invalid; nothing was imported")
        self.rows = rows


class Throttled(DomainError):
    """Too many requests from one label or address (abuse limits, issue 9); retry after `retry_after` s."""

    code = "throttled"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, extra={"retry_after": retry_after})
        self.retry_after = retry_after
