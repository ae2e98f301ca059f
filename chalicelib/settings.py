"""Typed settings, read from the environment once per process (never at import time).

Chalice's test client and the Lambda runtime set stage variables before the first
request, so everything reads settings through `get_settings()` lazily.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from chalicelib import __version__


class Settings(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built at the first request, not at import

    stage: str = Field(min_length=1)
    table_prefix: str = Field(min_length=1)
    photo_bucket: str = Field(min_length=1)
    notify_topic_arn: str = ""
    # Auth: deployed stages verify Cognito tokens against the pool's JWKS URL; local and
    # test stages verify tokens signed by a local key. Same verification code either way.
    auth_issuer: str = Field(min_length=1)
    auth_audience: str = Field(min_length=1)
    auth_jwks_url: str = ""
    auth_local_key_path: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 6_000_000
    version: str = __version__


_ENV = {
    "stage": "LAMPCARE_STAGE",
    "table_prefix": "LAMPCARE_TABLE_PREFIX",
    "photo_bucket": "LAMPCARE_PHOTO_BUCKET",
    "notify_topic_arn": "LAMPCARE_NOTIFY_TOPIC_ARN",
    "auth_issuer": "LAMPCARE_AUTH_ISSUER",
    "auth_audience": "LAMPCARE_AUTH_AUDIENCE",
    "auth_jwks_url": "LAMPCARE_AUTH_JWKS_URL",
    "auth_local_key_path": "LAMPCARE_AUTH_LOCAL_KEY_PATH",
    "public_base_url": "LAMPCARE_PUBLIC_BASE_URL",
    "max_body_bytes": "LAMPCARE_MAX_BODY_BYTES",
    "max_upload_bytes": "LAMPCARE_MAX_UPLOAD_BYTES",
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values = {field: os.environ[var] for field, var in _ENV.items() if os.environ.get(var)}
    return Settings.model_validate(values)
