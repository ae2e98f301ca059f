"""SLA policies per contract (D-S5): read the current revision, write a new one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.auth import STAFF, Role
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas import SlaPolicyOut
    from chalicelib.services import sla_policies
else:
    sla_policies = lazy_module("chalicelib.services.sla_policies")

api = Api(__name__)


@api.route(
    "/contracts/{contract_id}/sla-policy",
    "GET",
    operation_id="getSlaPolicy",
    response="SlaPolicyOut",
    roles=STAFF,
)
def get_sla_policy(ctx: RequestContext, contract_id: str) -> SlaPolicyOut:
    """The contract's current SLA policy and its revision: targets per level, rules, calendar, escalation."""
    return sla_policies.get_sla_policy(contract_id)


@api.route(
    "/contracts/{contract_id}/sla-policy",
    "PUT",
    operation_id="putSlaPolicy",
    response="SlaPolicyOut",
    roles=[Role.ADMIN],
    body="SlaPolicyIn",
)
def put_sla_policy(ctx: RequestContext, contract_id: str) -> SlaPolicyOut:
    """A new revision, for tickets reported from now on; open tickets keep their deadlines. Send the
    revision you read: an older one is 409 stale_version."""
    return sla_policies.put_sla_policy(contract_id, ctx.body, ctx.principal)
