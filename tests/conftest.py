"""Shared fixtures: fake AWS credentials, a local signing key, the No-Scan guard."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_aws.calls import CallLog, record_calls

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_XRAY_SDK_ENABLED": "false",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "LAMPCARE_STAGE": "test",
    "LAMPCARE_TABLE_PREFIX": "test-",
    "LAMPCARE_PHOTO_BUCKET": "lampcare-test-photos",
    "LAMPCARE_AUTH_ISSUER": "lampcare-local",
    "LAMPCARE_AUTH_AUDIENCE": "lampcare-local",
}


@pytest.fixture(scope="session", autouse=True)
def test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from chalicelib.auth import create_local_key

    key_path = tmp_path_factory.mktemp("auth") / "jwt-signing-key.json"
    create_local_key(str(key_path))
    saved = {k: os.environ.get(k) for k in [*TEST_ENV, "LAMPCARE_AUTH_LOCAL_KEY_PATH", "AWS_ENDPOINT_URL"]}
    os.environ.update(TEST_ENV)
    os.environ["LAMPCARE_AUTH_LOCAL_KEY_PATH"] = str(key_path)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    yield key_path
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def no_scan_guard() -> Iterator[CallLog]:
    """Fails any test whose code issues a DynamoDB Scan (lists and reports must Query)."""
    with record_calls() as log:
        yield log
    assert not log.scans(), f"DynamoDB Scan issued during the test: {log.scans()}"
