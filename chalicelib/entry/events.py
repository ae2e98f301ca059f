"""The way in for everything that is not an HTTP request: scheduled jobs today; Step Functions
tasks, S3 events and DynamoDB stream records as the journeys add them.

`run_entry` gives such a handler what `Api.route` gives a route: log lines that carry the entry's
name and event id, an optional payload validated like a JSON body (`chalicelib.entry.validation`),
and one place where a `DomainError` becomes a structured failure record (the same error body a
route would answer, logged and returned; or raised as `EntryFailed` for an invoker that must see
a failure, e.g. a state machine's Catch). Anything else is logged and re-raised: the runtime
reports the invocation as failed and retries it as its event source does.

Must never import chalice: handlers pass Chalice's event objects, read here through `to_dict()`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.entry.failures import failure_record
from chalicelib.entry.jsonable import jsonable
from chalicelib.errors import DomainError
from chalicelib.observability import logger, start_tracing_in_lambda

if TYPE_CHECKING:
    from pydantic import BaseModel


class EntryFailed(Exception):
    """A refused event, for invokers that branch on failure; `record` is the failure record."""

    def __init__(self, record: dict[str, Any]):
        super().__init__(f"{record['error']['code']}: {record['error']['message']}")
        self.record = record


@dataclass(frozen=True)
class Event:
    entry: str  # the function's name, as registered
    raw: dict[str, Any]  # the event as the runtime delivered it
    lambda_context: Any = None
    payload: Any = None  # the validated model, when the entry names one

    @property
    def event_id(self) -> str:
        return str(self.raw.get("id") or self.raw.get("eventID") or "")

    def scheduled_time(self) -> dt.datetime | None:
        """An EventBridge event's `time` (a schedule's tick), None when absent or unreadable."""
        value = self.raw.get("time")
        if not isinstance(value, str):
            return None
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None


def event_dict(event: Any) -> dict[str, Any]:
    """Chalice hands event handlers an object (CloudWatchEvent ...); a plain Lambda gets a dict."""
    raw = event.to_dict() if hasattr(event, "to_dict") else event
    return dict(raw) if isinstance(raw, dict) else {"payload": raw}


def run_entry(
    entry: str,
    event: Any,
    work: Callable[[Event], Any],
    *,
    payload: type[BaseModel] | None = None,
    payload_key: str | None = None,
    on_failure: Literal["return", "raise"] = "return",
) -> Any:
    """Runs `work` for one event and returns its JSON-ready result, or the failure record.
    `payload` validates `raw[payload_key]` (the whole event when no key) before `work` runs."""
    start_tracing_in_lambda()
    raw = event_dict(event)
    context = Event(entry=entry, raw=raw, lambda_context=getattr(event, "context", None))
    logger.append_keys(entry=entry, event_id=context.event_id)
    try:
        if payload is not None:
            from chalicelib.entry.validation import parse_payload

            body = raw.get(payload_key) if payload_key else raw
            context = Event(entry, raw, context.lambda_context, parse_payload(body, payload))
        return jsonable(work(context))
    except DomainError as exc:
        record = failure_record(exc, entry=entry)
        if on_failure == "raise":
            raise EntryFailed(record) from exc
        return record
    except Exception:
        logger.exception("entry failed", entry=entry)
        raise
    finally:
        logger.remove_keys(["entry", "event_id"])
