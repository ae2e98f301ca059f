"""Issues a local bearer token: `make token ROLE=engineer [SUB=eng-1]`, `make token ROLE=school_staff SCHOOL=<id>`.

Tokens carry Cognito's claim names (`sub`, `cognito:groups`, and `custom:school_id` for a
school's staff) and are signed by the local key that `make run` created in .local/; the API
verifies them by the same code path as Cognito tokens in deployed stages.
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
    "technical_manager": "tm-1",
    "admin": "admin-1",
}
# Not in DEMO_SUBS (a user per supplier role): a school's account needs a school, so it is made apart.
SCHOOL_STAFF_SUB = "school-1"


def token_for(
    role: str, sub: str | None = None, data_dir: Path | None = None, ttl_hours: int = 12, school_id: str | None = None
) -> str:
    if (role == Role.SCHOOL_STAFF) != (school_id is not None):
        raise ValueError("a school_staff token needs a school (SCHOOL=<school_id>), and only it takes one")
    path = key_path(data_dir or PROJECT_DIR / ".local")
    if not path.exists():
        create_local_key(str(path))
    stage = stage_variables("local")
    return issue_local_token(
        key_path=str(path),
        issuer=stage["LAMPCARE_AUTH_ISSUER"],
        audience=stage["LAMPCARE_AUTH_AUDIENCE"],
        sub=sub or (SCHOOL_STAFF_SUB if role == Role.SCHOOL_STAFF else DEMO_SUBS[role]),
        roles=[role],
        school_id=school_id,
        ttl_seconds=ttl_hours * 3600,
    )


def demo_school_staff_line(data_dir: Path | None = None) -> str:
    """`make run`'s line for a school's staff: a token limited to the first demo school (the one with
    open tickets), found by its code, so it is the same school after a restart from the snapshot."""
    from chalicelib.models.access import UniqueKeyModel
    from chalicelib.models.base import bind_tables
    from devtools.demo_data import SCHOOLS  # here: demo_data imports this module

    bind_tables()
    code = SCHOOLS[0]["code"]
    try:
        school_id = UniqueKeyModel.get(f"school-code#{code}").owner_id
    except UniqueKeyModel.DoesNotExist:
        return f"  {Role.SCHOOL_STAFF.value:<14} (no token: demo school {code} not found)"
    token = token_for(Role.SCHOOL_STAFF, SCHOOL_STAFF_SUB, data_dir, school_id=school_id)
    return f"  {Role.SCHOOL_STAFF.value:<14} {SCHOOL_STAFF_SUB:<8} {token}  (school {code}: {school_id})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--sub", help="user id (default: the demo user of that role)")
    parser.add_argument("--school", help="school_staff only: the school_id the token is limited to")
    parser.add_argument("--data-dir", type=Path, default=PROJECT_DIR / ".local")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args()
    if (args.role == Role.SCHOOL_STAFF) != bool(args.school):
        parser.error("--school is required with --role school_staff, and only with it")
    print(token_for(args.role, args.sub, args.data_dir, args.hours, school_id=args.school or None))


if __name__ == "__main__":
    main()
