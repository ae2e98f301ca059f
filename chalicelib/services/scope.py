"""Which school a caller may reach (D-A3): a school's staff see their own school and nothing of another.

Services call `require_school` with the school a resource belongs to, after reading it (or before, when
the school is in the path); routes only say who may call them (`roles=`), never which school.

Another school's school, lamp or ticket is answered 404, with the message a missing one gets, not 403:
a school's account is outside the supplier, and a 403 would confirm that an id exists elsewhere; for the
sequential ticket references (T-2026-000124) it would even tell how many cases the supplier handles.
Refusals by role (a staff-only route) stay 403: they depend on the route, not on what exists.

Supplier roles are not limited to a school here; their own rules (an engineer's assigned tickets) are the
services'. Plain Python: no chalice, no pynamodb.
"""

from __future__ import annotations

from chalicelib.auth import Principal, Role
from chalicelib.errors import NotFound


def is_school_account(actor: Principal) -> bool:
    return Role.SCHOOL_STAFF in actor.roles


def school_scope(actor: Principal) -> str | None:
    """The one school this caller is limited to; None when not limited. A school account without a
    school (only possible in-process: tokens are refused without one) is limited to none."""
    if not is_school_account(actor):
        return None
    return actor.school_id or ""


def may_see_school(actor: Principal, school_id: str) -> bool:
    scope = school_scope(actor)
    return scope is None or (scope != "" and scope == school_id)


def require_school(actor: Principal, school_id: str, *, what: str, key: str) -> None:
    """NotFound for `what` '`key`' (worded as for one that does not exist) unless the actor may see `school_id`."""
    if not may_see_school(actor, school_id):
        raise NotFound(f"{what} '{key}' does not exist")
