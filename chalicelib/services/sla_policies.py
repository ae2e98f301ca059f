"""SLA policies per contract (D-S5): read and revise them, and bind a ticket to the revision in force
when it was reported (D-S3: its deadlines, and every later recomputation on a level change, come from
that revision and from the school as it was then).

The arithmetic is `chalicelib.domain.sla`; reads and writes are named functions of `models.access`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.policy import ServicePolicy
from chalicelib.domain.sla import Milestones, SchoolFacts, sla_deadlines
from chalicelib.errors import StaleVersion
from chalicelib.models import access
from chalicelib.models.access import ContractModel, SchoolModel, SlaPolicyRevisionModel, TicketModel
from chalicelib.schemas import SlaPolicyIn, SlaPolicyOut
from chalicelib.services.ids import utcnow

# ---- the contract's policy ------------------------------------------------------------------------


def revision_of(contract: ContractModel) -> int:
    return int(contract.policy_revision or 1)  # a contract as created holds revision 1


def current_policy(contract: ContractModel) -> ServicePolicy:
    return ServicePolicy.from_stored(contract.policy)


def _view(contract: ContractModel) -> SlaPolicyOut:
    return SlaPolicyOut(
        contract_id=contract.contract_id,
        revision=revision_of(contract),
        updated_at=contract.policy_updated_at or contract.created_at,
        updated_by=contract.policy_updated_by,
        policy=current_policy(contract),
    )


def get_sla_policy(contract_id: str) -> SlaPolicyOut:
    return _view(access.get_contract(contract_id))


def put_sla_policy(
    contract_id: str, body: SlaPolicyIn, actor: Principal, now: dt.datetime | None = None
) -> SlaPolicyOut:
    """A new revision for tickets reported from now on; open tickets keep theirs (and their deadlines).
    `body.revision` must be the current one, so two admins editing at once cannot overwrite each other."""
    now = now or utcnow()
    contract = access.get_contract(contract_id)
    current = revision_of(contract)
    if body.revision != current:
        raise StaleVersion(
            f"the SLA policy is at revision {current}, not {body.revision}; reload it",
            extra={"current_version": current},
        )
    revision = SlaPolicyRevisionModel(
        contract_id,
        current + 1,
        policy=body.policy.model_dump(mode="json"),
        effective_from=now,
        updated_by=actor.sub,
    )
    # Revision 1 lives only on the contract until it is replaced: keep it for the tickets that use it.
    replaced = (
        SlaPolicyRevisionModel(contract_id, 1, policy=contract.policy, effective_from=contract.created_at)
        if current == 1
        else None
    )
    access.save_sla_policy(contract, revision, replaced)
    contract.policy = revision.policy
    contract.policy_revision = revision.revision
    contract.policy_updated_at = now
    contract.policy_updated_by = actor.sub
    return _view(contract)


# ---- a ticket's SLA ----------------------------------------------------------------------------------


def school_facts(school: SchoolModel) -> SchoolFacts:
    return SchoolFacts(latitude=school.latitude, longitude=school.longitude, province=school.province or None)


def ticket_facts(ticket: TicketModel) -> SchoolFacts:
    """The school as it was when the ticket was reported (none stored: a ticket from before SLA rules)."""
    site: dict[str, Any] = dict(ticket.sla_site or {})
    return SchoolFacts(latitude=site.get("latitude"), longitude=site.get("longitude"), province=site.get("province"))


@dataclass(frozen=True)
class TicketSla:
    """A new ticket's deadlines and what they were computed from."""

    revision: int
    school: SchoolFacts
    milestones: Milestones

    def ticket_fields(self) -> dict[str, Any]:
        """The ticket attributes to write: deadlines, the policy revision and the school's facts."""
        return {
            **self.milestones.as_changes(),
            "sla_revision": self.revision,
            "sla_site": {
                "latitude": self.school.latitude,
                "longitude": self.school.longitude,
                "province": self.school.province,
            },
        }


def at_report(
    contract: ContractModel, school: SchoolModel, level: int, category: str, reported_at: dt.datetime
) -> TicketSla:
    """D-S3: deadlines from the report, under the contract's current revision."""
    facts = school_facts(school)
    due = sla_deadlines(current_policy(contract), level, reported_at, school=facts, category=category)
    return TicketSla(revision=revision_of(contract), school=facts, milestones=due)


def policy_for_ticket(ticket: TicketModel, contract: ContractModel) -> ServicePolicy:
    """The revision the ticket was reported under: the contract's own, or an earlier one from the revisions
    table (only a ticket older than the contract's last putSlaPolicy costs that read)."""
    revision = int(ticket.sla_revision or 1)
    if revision == revision_of(contract):
        return current_policy(contract)
    return ServicePolicy.from_stored(access.get_sla_policy_revision(contract.contract_id, revision).policy)
