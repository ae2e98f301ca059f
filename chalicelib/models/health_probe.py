"""One GetItem proves the tables answer with the credentials we have."""

from __future__ import annotations

from pynamodb.exceptions import PynamoDBException

from chalicelib.models.base import bind_tables
from chalicelib.models.registry import CounterModel


def tables_reachable() -> tuple[bool, str]:
    bind_tables()
    try:
        CounterModel.get("health-probe")
    except CounterModel.DoesNotExist:
        return True, ""
    except PynamoDBException as exc:
        return False, type(exc.__cause__ or exc).__name__
    return True, ""
