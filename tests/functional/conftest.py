"""Functional ring: moto's mock_aws in-process + chalice.test.Client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from tests.contract import checked
from tests.support.world import header_maker, moto_world, sign


@pytest.fixture
def aws() -> Iterator[None]:
    with moto_world():
        yield


@pytest.fixture
def client(aws: None) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="test") as test_client:
        yield checked(test_client)


@pytest.fixture
def token(test_environment: Any) -> Callable[..., str]:
    def make(role: str | list[str] = "admin", sub: str | None = None, **claims: Any) -> str:
        return sign(test_environment, role, sub, **claims)

    return make


@pytest.fixture
def auth(test_environment: Any) -> Callable[..., dict[str, str]]:
    return header_maker(test_environment)
