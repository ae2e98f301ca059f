"""Functional ring: moto's mock_aws in-process + chalice.test.Client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.handlers._api import reset_caches
from chalicelib.models.all import bind_tables, create_all_tables
from local_aws.moto_patches import fast_transactions
from tests.contract import checked


@pytest.fixture
def aws() -> Iterator[None]:
    reset_caches()
    with mock_aws(), fast_transactions():
        bind_tables("test-")
        create_all_tables()
        boto3.client("s3").create_bucket(Bucket="lampcare-test-photos")
        yield


@pytest.fixture
def client(aws: None) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="test") as test_client:
        yield checked(test_client)


@pytest.fixture
def token(test_environment: Any) -> Callable[..., str]:
    from chalicelib.auth import issue_local_token

    def make(role: str | list[str] = "admin", sub: str | None = None, **kw: Any) -> str:
        roles = [role] if isinstance(role, str) else role
        return issue_local_token(
            key_path=str(test_environment),
            issuer="lampcare-local",
            audience="lampcare-local",
            sub=sub or f"user-{roles[0] if roles else 'none'}",
            roles=roles,
            **kw,
        )

    return make


@pytest.fixture
def auth(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(role: str | list[str] = "admin", sub: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, sub)}", "Content-Type": "application/json"}

    return headers
