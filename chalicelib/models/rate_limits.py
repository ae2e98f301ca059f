"""Abuse limits that hold across Lambda instances: fixed-window counters in DynamoDB with a TTL.

One item per (key, window); a hit is one conditional UpdateItem (ADD 1 while below the limit),
so a burst costs at most one stored item per key and window, however many requests it sends.
"""

from __future__ import annotations

import datetime as dt

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from chalicelib.models.base import bind_tables, register


@register
class RateLimitModel(Model):
    class Meta:
        table_name = "rate-limits"

    key = UnicodeAttribute(hash_key=True)  # "<what>#<who>#<window start>"
    hits = NumberAttribute(default=0)
    expires = TTLAttribute()


def hit(name: str, limit: int, window: dt.timedelta, now: dt.datetime) -> int | None:
    """Counts one request against `name`; returns None if allowed, else the seconds until the window ends."""
    bind_tables()
    seconds = int(window.total_seconds())
    start = int(now.timestamp()) // seconds * seconds
    ends = start + seconds
    item = RateLimitModel(f"{name}#{start}")
    try:
        item.update(
            actions=[
                RateLimitModel.hits.add(1),
                RateLimitModel.expires.set(dt.datetime.fromtimestamp(ends + seconds, dt.UTC)),
            ],
            condition=RateLimitModel.hits.does_not_exist() | (RateLimitModel.hits < limit),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return max(1, ends - int(now.timestamp()))
        raise
    return None
