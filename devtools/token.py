"""Issues a local bearer token: `make token ROLE=engineer [SUB=eng-1]`.

Tokens carry Cognito's claim names (`sub`, `cognito:groups`) and are signed by the
local key that `make run` created in .local/; the API verifies them by the same code
path as Cognito tokens in deployed stages.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chalicelib.auth import Role, create_local_key, issue_local_token
from devtools.local_env import PROJECT_DIR, key_path, stage_variables

DEMO_SUBS = {
    "engineer": "eng-1",
    "expert": "exp-1",
    "dispatcher": "disp-1",
    "parts_manager": "parts-1",
    "project_lead": "lead-1",
    "manager": "mgr-1",
    "admin": "admin-1",
}


def token_for(role: str, sub: str | None = None, data_dir: Path | None = None, ttl_hours: int = 12) -> str:
    path = key_path(data_dir or PROJECT_DIR / ".local")
    if not path.exists():
        create_local_key(str(path))
    stage = stage_variables("local")
    return issue_local_token(
        key_path=str(path),
        issuer=stage["LAMPCARE_AUTH_ISSUER"],
        audience=stage["LAMPCARE_AUTH_AUDIENCE"],
        sub=sub or DEMO_SUBS[role],
        roles=[role],
        ttl_seconds=ttl_hours * 3600,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--sub", help="user id (default: the demo user of that role)")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_DIR / ".local")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args()
    print(token_for(args.role, args.sub, args.data_dir, args.hours))


if __name__ == "__main__":
    main()
