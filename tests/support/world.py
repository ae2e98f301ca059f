"""The functional ring's world, written once: moto in-process with every table, and signed tokens.

The per-test fixtures (tests/functional/conftest.py) and the shared worlds of the long matrix
tests (factories.api_world) both build on these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PHOTO_BUCKET = "lampcare-test-photos"
ISSUER = AUDIENCE = "lampcare-local"


@contextmanager
def moto_world(*, sla_timers: bool = False) -> Iterator[None]:
    """mock_aws with every table created from the model definitions and the photo bucket.

    `sla_timers`: moto also runs the SLA timer's state machine (infra/sla_timer.asl.json), with a topic
    per role, and the app starts a timer per ticket: the state machine's threads then write while the
    test does, so every DynamoDB operation runs under local_aws' lock, as under `make run`. Timers
    still waiting when the world ends are stopped. Off, the app starts no timers (nothing waits)."""
    import os
    import time

    import boto3
    from moto import mock_aws

    from chalicelib import timers
    from chalicelib.handlers._api import reset_caches
    from chalicelib.models.all import bind_tables, create_all_tables
    from infra import sla_timer
    from local_aws.moto_patches import fast_transactions, serialized

    reset_caches()
    timers.reset_clients()
    if not sla_timers:
        with mock_aws(), fast_transactions():
            bind_tables("test-")
            create_all_tables(fresh=True)
            boto3.client("s3").create_bucket(Bucket=PHOTO_BUCKET)
            yield
        return
    saved_tz = os.environ.get("TZ")
    sla_timer.use_utc()
    with mock_aws(config=sla_timer.MOTO_CONFIG), fast_transactions(), serialized():
        bind_tables("test-")
        create_all_tables(fresh=True)
        boto3.client("s3").create_bucket(Bucket=PHOTO_BUCKET)
        settings = sla_timer.create_local("test-", "test")
        os.environ.update(settings)
        reset_caches()
        try:
            yield
        finally:
            sla_timer.stop_all(settings["LAMPCARE_SLA_STATE_MACHINE_ARN"])
            for name in settings:
                os.environ.pop(name, None)
            reset_caches()
            timers.reset_clients()
            if saved_tz is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = saved_tz
            time.tzset()


def sign(key_path: Path | str, role: str | list[str] = "admin", sub: str | None = None, **claims: Any) -> str:
    """A token signed by the local key, as `make token` issues them; `claims` adds e.g. school_id."""
    from chalicelib.auth import issue_local_token

    roles = [role] if isinstance(role, str) else role
    return issue_local_token(
        key_path=str(key_path),
        issuer=ISSUER,
        audience=AUDIENCE,
        sub=sub or f"user-{roles[0] if roles else 'none'}",
        roles=roles,
        **claims,
    )


def header_maker(key_path: Path | str) -> Callable[..., dict[str, str]]:
    """`headers(role, sub)`: JSON request headers with a bearer token, each (role, sub) signed once
    (loading the private key costs ~40 ms a token, which dominates tests sending hundreds of requests)."""
    cache: dict[tuple[str, str | None], dict[str, str]] = {}

    def headers(role: str | list[str] = "admin", sub: str | None = None) -> dict[str, str]:
        key = (",".join(role) if isinstance(role, list) else role, sub)
        if key not in cache:
            cache[key] = {"Authorization": f"Bearer {sign(key_path, role, sub)}", "Content-Type": "application/json"}
        return cache[key]

    return headers
