"""Typed settings, read from the environment once per process (never at import time).

Chalice's test client and the Lambda runtime set stage variables before the first
request, so everything reads settings through `get_settings()` lazily. A plain
dataclass on purpose: it is needed by every request, including /health, and costs
nothing to import.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from functools import lru_cache

from chalicelib import __version__


class SettingsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    stage: str
    table_prefix: str
    photo_bucket: str
    # Auth: deployed stages verify Cognito tokens against the pool's JWKS URL; local and
    # test stages verify tokens signed by a local key. Same verification code either way.
    auth_issuer: str
    auth_audience: str
    auth_jwks_url: str = ""
    auth_local_key_path: str = ""
    notify_topic_arn: str = ""
    # SLA timers (issue 10): the state machine made from infra/sla_timer.asl.json (empty: timers off) and the
    # ARN prefix of the per-role SNS topics (topic = prefix + role, e.g. "...:lampcare-prod-project_lead").
    sla_state_machine_arn: str = ""
    role_topic_arn_prefix: str = ""
    # A notification claimed this long ago and still pending is taken over by the reconciliation (its
    # writer died between claim and result). Far above a timer's claim-to-result time (retries included).
    notification_lease_seconds: int = 300
    public_base_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 4_000_000  # Lambda takes 6 MB; binary uploads arrive base64-encoded (x4/3)
    version: str = __version__

    def __post_init__(self) -> None:
        if not (self.auth_jwks_url or self.auth_local_key_path):
            raise SettingsError("set LAMPCARE_AUTH_JWKS_URL (deployed) or LAMPCARE_AUTH_LOCAL_KEY_PATH (local, test)")


def env_name(field: str) -> str:
    return f"LAMPCARE_{field.upper()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = os.environ.get(env_name(f.name), "")
        if f.name == "version" or not raw:
            continue
        if f.type in ("int", int):
            try:
                values[f.name] = int(raw)
            except ValueError as exc:
                raise SettingsError(f"{env_name(f.name)} must be an integer, got {raw!r}") from exc
        else:
            values[f.name] = raw
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except TypeError as exc:
        missing = [env_name(f.name) for f in fields(Settings) if f.name not in values and f.default is MISSING]
        raise SettingsError(f"missing settings: {', '.join(missing)}") from exc
