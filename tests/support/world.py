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
def moto_world() -> Iterator[None]:
    """mock_aws with every table created from the model definitions and the photo bucket."""
    import boto3
    from moto import mock_aws

    from chalicelib.handlers._api import reset_caches
    from chalicelib.models.all import bind_tables, create_all_tables
    from local_aws.moto_patches import fast_transactions

    reset_caches()
    with mock_aws(), fast_transactions():
        bind_tables("test-")
        create_all_tables()
        boto3.client("s3").create_bucket(Bucket=PHOTO_BUCKET)
        yield


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
