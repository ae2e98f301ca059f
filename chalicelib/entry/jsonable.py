"""Results to JSON: what services return (datetimes, Decimals, `*Out` models, dataclasses) as the
values every entry answers with, so an HTTP body, a stored idempotent answer and a task's output
are the same text. Must never import chalice.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any


def json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_unset=True)  # `*Out` fields with a default: only when set
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, ensure_ascii=False)


def jsonable(value: Any) -> Any:
    """Plain dicts, lists, strings and numbers: what a JSON round trip would give back."""
    return json.loads(dumps(value))
