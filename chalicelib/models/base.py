"""Table naming and binding.

Table names carry a stage prefix. Models are bound to their stage's names lazily on the
first request (`bind_tables`), never at import time, so moto can start first and
Chalice's test client can set the stage's environment.
"""

from __future__ import annotations

import threading

import botocore.session
from pynamodb.connection import base as pynamodb_connection
from pynamodb.models import Model

from chalicelib.settings import get_settings

MODELS: list[type[Model]] = []

_sessions = threading.local()


def _shared_session() -> botocore.session.Session:
    """One botocore session per thread for every table. pynamodb makes one per model and thread, and
    each loads botocore's endpoint and service data again: ~0.1 s and ~10 MB per table on first use,
    paid on a Lambda's cold start for every table a request touches. Per thread: a session's client
    creation is not thread-safe (pynamodb's own reason for its per-thread sessions)."""
    session: botocore.session.Session | None = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = botocore.session.get_session()
    return session


pynamodb_connection.get_session = _shared_session  # type: ignore[attr-defined]  # its own import of botocore.session.get_session
# DynamoDB refuses an empty key value, a partition key over 2,048 bytes and a sort key over 1,024 bytes
# (a ValidationException, reads included): such a value names no item.
KEY_MAX_BYTES = 1024


def fits_key(value: str) -> bool:
    return 0 < len(value.encode("utf-8", "surrogatepass")) <= KEY_MAX_BYTES


_bound_prefix: str | None = None


def register(model: type[Model]) -> type[Model]:
    model.Meta.base_name = model.Meta.table_name  # type: ignore[attr-defined]
    if _bound_prefix is not None:  # a module loaded lazily, after the first request bound the others
        model.Meta.table_name = f"{_bound_prefix}{model.Meta.base_name}"  # type: ignore[attr-defined]
    MODELS.append(model)
    return model


def bind_tables(prefix: str | None = None) -> None:
    global _bound_prefix
    prefix = prefix if prefix is not None else get_settings().table_prefix
    if prefix == _bound_prefix:
        return
    for model in MODELS:
        model.Meta.table_name = f"{prefix}{model.Meta.base_name}"  # type: ignore[attr-defined]
        model._connection = None
    _bound_prefix = prefix


def create_all_tables(*, fresh: bool = False) -> None:
    """Creates every table from the model definitions (local stage, tests). `fresh`: an empty moto
    backend, whose tables are active as soon as created: no existence check and no wait (a third of
    the calls; the functional tests build a world per test)."""
    for model in MODELS:
        if fresh:
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
        elif not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
