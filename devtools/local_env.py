"""The local stage's environment: fake credentials, moto endpoint, chalice 'local' stage variables."""

from __future__ import annotations

import json
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def stage_variables(stage: str = "local") -> dict[str, str]:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def key_path(data_dir: Path) -> Path:
    return data_dir / "jwt-signing-key.json"


def apply(data_dir: Path, moto_endpoint: str, public_base_url: str) -> dict[str, str]:
    env = {**FAKE_AWS, **stage_variables("local")}
    env["AWS_ENDPOINT_URL"] = moto_endpoint
    env["LAMPCARE_AUTH_LOCAL_KEY_PATH"] = str(key_path(data_dir))
    env["LAMPCARE_PUBLIC_BASE_URL"] = public_base_url
    os.environ.update(env)
    return env
