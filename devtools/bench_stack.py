"""The in-process stack the benchmark drives: moto `mock_aws` + `chalice.test.Client`, test stage.

Set up exactly as tests/functional/conftest.py does (same env, a local signing key,
tables created from the model definitions, the photo bucket), so the benchmark measures
the code the functional tests exercise. Tokens are minted once per (role, sub) and
reused, as a real client would reuse its token.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import TEST_ENV

ISSUER = AUDIENCE = "lampcare-local"
PHOTO_BUCKET = "lampcare-test-photos"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Stack:
    client: Any  # chalice.test.Client
    key_path: str
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def headers(
        self,
        role: str | None,
        sub: str | None = None,
        content_type: str = "application/json",
        accept: str | None = None,
    ) -> dict[str, str]:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        if role is None:
            return headers
        from chalicelib.auth import issue_local_token

        key = (role, sub or f"bench-{role}")
        if key not in self._tokens:
            self._tokens[key] = issue_local_token(
                key_path=self.key_path, issuer=ISSUER, audience=AUDIENCE, sub=key[1], roles=[role]
            )
        headers["Authorization"] = f"Bearer {self._tokens[key]}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        role: str | None = None,
        body: Any = None,
        *,
        sub: str | None = None,
        content_type: str = "application/json",
        accept: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        raw = body if isinstance(body, str | bytes) else (json.dumps(body) if body is not None else b"")
        headers = self.headers(role, sub, content_type, accept)
        if idempotency_key:
            headers = {**headers, "Idempotency-Key": idempotency_key}
        response = self.client.http.request(method, path, headers=headers, body=raw)
        try:
            payload = json.loads(response.body) if response.body else None
        except (ValueError, UnicodeDecodeError):
            payload = response.body
        return Reply(response.status_code, payload, dict(response.headers))

    def ok(self, reply: Reply, status: int, what: str) -> Any:
        if reply.status != status:
            raise RuntimeError(f"bench setup: {what} returned {reply.status}, expected {status}: {reply.body}")
        return reply.body


@contextmanager
def bench_environment() -> Iterator[str]:
    """TEST_ENV plus a fresh signing key, for the whole benchmark process; restored afterwards."""
    from chalicelib.auth import create_local_key
    from chalicelib.handlers._api import reset_caches

    with tempfile.TemporaryDirectory(prefix="lampcare-bench-key-") as tmp:
        key_path = str(Path(tmp) / "jwt-signing-key.json")
        create_local_key(key_path)
        names = [*TEST_ENV, "LAMPCARE_AUTH_LOCAL_KEY_PATH", "AWS_ENDPOINT_URL"]
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update(TEST_ENV)
        os.environ["LAMPCARE_AUTH_LOCAL_KEY_PATH"] = key_path
        os.environ.pop("AWS_ENDPOINT_URL", None)
        reset_caches()
        try:
            yield key_path
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            reset_caches()


@contextmanager
def in_process_stack(key_path: str) -> Iterator[Stack]:
    """A fresh moto account with every table, and a test client on the app (test stage)."""
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.handlers._api import reset_caches
    from chalicelib.models.all import bind_tables, create_all_tables
    from local_aws.moto_patches import fast_transactions

    reset_caches()
    with mock_aws(), fast_transactions():
        bind_tables("test-")
        create_all_tables()
        boto3.client("s3").create_bucket(Bucket=PHOTO_BUCKET)
        from app import app

        with Client(app, stage_name="test") as client:
            yield Stack(client=client, key_path=key_path)
