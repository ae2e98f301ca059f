"""The ticket lifecycle as an explicit state machine (D-S1, D-S3, D-S6, D-O2, D-C1).

Each action names the states it may start from, the state it leads to, the roles that
may take it and its preconditions. `plan_transition` either returns the changes to
apply or raises: Forbidden (role / not the assignee), IllegalTransition (state),
InvalidInput (a required field is missing). Plain Python, no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.auth import Principal, Role
from chalicelib.domain.policy import ServicePolicy, deadlines_for
from chalicelib.errors import FieldProblem, Forbidden, IllegalTransition, InvalidInput


class Status(StrEnum):
    REPORTED = "reported"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    SIGNED_OFF = "signed_off"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    MERGED = "merged"
    REOPENED = "reopened"


OPEN_STATES = frozenset(
    {
        Status.REPORTED,
        Status.TRIAGED,
        Status.ASSIGNED,
        Status.ACKNOWLEDGED,
        Status.EN_ROUTE,
        Status.ON_SITE,
        Status.REOPENED,
    }
)
FINAL_STATES = frozenset({Status.CLOSED, Status.CANCELLED, Status.MERGED})
# A lamp counts as faulty while one of its tickets is in one of these states.
FAULT_OPEN_STATES = OPEN_STATES | {Status.RESOLVED, Status.SIGNED_OFF}

FIELD_ROLES = frozenset({Role.ENGINEER, Role.EXPERT})
DISPATCH_ROLES = frozenset({Role.DISPATCHER, Role.ADMIN})


@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[Status]
    target: Status | None  # None: the status does not change
    roles: frozenset[Role]
    assignee_only: bool = False  # field roles act only on tickets assigned to them
    requires: tuple[str, ...] = ()
    summary: str = ""


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action(
            "triage",
            frozenset({Status.REPORTED, Status.REOPENED}),
            Status.TRIAGED,
            DISPATCH_ROLES,
            summary="confirm the fault level (and category)",
        ),
        Action(
            "assign",
            frozenset({Status.TRIAGED, Status.ASSIGNED, Status.ACKNOWLEDGED, Status.EN_ROUTE, Status.REOPENED}),
            Status.ASSIGNED,
            DISPATCH_ROLES,
            requires=("assignee_id",),
            summary="assign or reassign an engineer",
        ),
        Action(
            "acknowledge",
            frozenset({Status.ASSIGNED}),
            Status.ACKNOWLEDGED,
            FIELD_ROLES,
            assignee_only=True,
            summary="the engineer has contacted the school (response, D-S1)",
        ),
        Action(
            "depart",
            frozenset({Status.ACKNOWLEDGED}),
            Status.EN_ROUTE,
            FIELD_ROLES,
            assignee_only=True,
            summary="travelling; tell the school the expected arrival (D-S7)",
        ),
        Action(
            "arrive",
            frozenset({Status.EN_ROUTE}),
            Status.ON_SITE,
            FIELD_ROLES,
            assignee_only=True,
            summary="checked in on site",
        ),
        Action(
            "resolve",
            frozenset({Status.ACKNOWLEDGED, Status.ON_SITE}),
            Status.RESOLVED,
            FIELD_ROLES,
            assignee_only=True,
            requires=("note",),
            summary="service restored, by phone or on site (D-S1)",
        ),
        Action(
            "sign_off",
            frozenset({Status.RESOLVED}),
            Status.SIGNED_OFF,
            FIELD_ROLES | {Role.DISPATCHER},
            assignee_only=True,
            requires=("signer_name",),
            summary="the school signs the work (D-O2)",
        ),
        Action(
            "close",
            frozenset({Status.SIGNED_OFF}),
            Status.CLOSED,
            frozenset({Role.DISPATCHER, Role.PROJECT_LEAD, Role.ADMIN}),
            summary="archive; needs sign-off (D-O2)",
        ),
        Action(
            "cancel",
            frozenset({Status.REPORTED, Status.TRIAGED, Status.ASSIGNED, Status.ACKNOWLEDGED}),
            Status.CANCELLED,
            DISPATCH_ROLES,
            requires=("note",),
            summary="not a fault, or reported in error",
        ),
        Action(
            "merge",
            frozenset({Status.REPORTED, Status.TRIAGED}),
            Status.MERGED,
            DISPATCH_ROLES,
            requires=("merge_into",),
            summary="a duplicate of another open ticket",
        ),
        Action(
            "reopen",
            frozenset({Status.RESOLVED, Status.SIGNED_OFF, Status.CLOSED}),
            Status.REOPENED,
            frozenset({Role.DISPATCHER, Role.ADMIN, Role.MANAGER}),
            requires=("note",),
            summary="the fault is back or the school is not satisfied (D-C1)",
        ),
        Action(
            "change_level",
            OPEN_STATES,
            None,
            DISPATCH_ROLES,
            requires=("level",),
            summary="reclassify; deadlines follow the new level (D-S3)",
        ),
    ]
}

# Milestones record the first time something happened: the raw data of SLA reports.
MILESTONE_OF = {
    "acknowledge": "acknowledged_at",
    "depart": "departed_at",
    "arrive": "on_site_at",
    "resolve": "resolved_at",
    "sign_off": "signed_off_at",
    "close": "closed_at",
}


@dataclass(frozen=True)
class TicketState:
    status: Status
    level: int
    assignee_id: str | None
    reported_at: dt.datetime
    ticket_id: str = ""
    milestones: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TransitionInput:
    action: str
    note: str = ""
    level: int | None = None
    category: str | None = None
    assignee_id: str | None = None
    eta: dt.datetime | None = None
    merge_into: str | None = None
    signer_name: str | None = None
    signer_role: str | None = None


@dataclass
class TransitionPlan:
    action: str
    from_status: Status
    to_status: Status
    changes: dict[str, Any]
    lamp_count_delta: int  # +1 the ticket opens a fault on its lamps again, -1 it stops counting


def allowed_actions(state: TicketState, actor: Principal) -> list[str]:
    """The actions this actor could take now (for 409 bodies and the app's buttons)."""
    result = []
    for action in ACTIONS.values():
        if state.status not in action.sources or not actor.has_any(action.roles):
            continue
        if _needs_assignee_check(action, actor) and state.assignee_id != actor.sub:
            continue
        result.append(action.name)
    return result


def _needs_assignee_check(action: Action, actor: Principal) -> bool:
    # Dispatchers may record a sign-off phoned in by the school; field roles only on their own tickets.
    return action.assignee_only and not actor.has_any(action.roles - FIELD_ROLES)


def plan_transition(
    state: TicketState, request: TransitionInput, actor: Principal, policy: ServicePolicy, now: dt.datetime
) -> TransitionPlan:
    action = ACTIONS.get(request.action)
    if action is None:
        raise InvalidInput(
            f"unknown action '{request.action}'",
            details=[FieldProblem("action", f"must be one of: {', '.join(ACTIONS)}")],
        )
    if not actor.has_any(action.roles):
        raise Forbidden(
            f"'{action.name}' needs one of the roles: {', '.join(sorted(action.roles))}",
            extra={"required_roles": sorted(action.roles)},
        )
    if state.status not in action.sources:
        raise IllegalTransition(
            f"cannot {action.name} a ticket that is {state.status.value}",
            extra={"current_status": state.status.value, "allowed_actions": allowed_actions(state, actor)},
        )
    if _needs_assignee_check(action, actor) and state.assignee_id != actor.sub:
        raise Forbidden(f"only the assigned engineer can {action.name} this ticket")
    missing = [f for f in action.requires if getattr(request, f) in (None, "")]
    if missing:
        raise InvalidInput(
            f"'{action.name}' needs {', '.join(missing)}",
            details=[FieldProblem(f, f"required for {action.name}") for f in missing],
        )

    to_status = action.target or state.status
    changes: dict[str, Any] = {"status": to_status.value}
    if action.name in ("triage", "change_level"):
        level = request.level if request.level is not None else state.level
        changes["level"] = level
        changes["level_confirmed"] = True
        changes.update(deadlines_for(policy, level, state.reported_at).model_dump())
        if request.category:
            changes["category"] = request.category
    elif action.name == "assign":
        if request.assignee_id == state.assignee_id and state.status == Status.ASSIGNED:
            raise InvalidInput(
                "the ticket is already assigned to this engineer", details=[FieldProblem("assignee_id", "unchanged")]
            )
        changes["assignee_id"] = request.assignee_id
    elif action.name == "depart" and request.eta is not None:
        if request.eta < now:
            raise InvalidInput("the expected arrival is in the past", details=[FieldProblem("eta", "in the past")])
        changes["eta"] = request.eta
    elif action.name == "resolve":
        changes["resolution"] = {"note": request.note, "by": actor.sub, "at": now.isoformat()}
    elif action.name == "sign_off":
        changes["sign_off"] = {
            "signer_name": request.signer_name,
            "signer_role": request.signer_role or "",
            "recorded_by": actor.sub,
            "at": now.isoformat(),
        }
    elif action.name == "merge":
        if request.merge_into == state.ticket_id:
            raise InvalidInput(
                "a ticket cannot be merged into itself", details=[FieldProblem("merge_into", "same ticket")]
            )
        changes["merged_into"] = request.merge_into
    elif action.name == "reopen":
        changes["sign_off"] = {}

    milestone = MILESTONE_OF.get(action.name)
    if milestone and milestone not in state.milestones:
        changes["milestones"] = {**state.milestones, milestone: now.isoformat()}

    was_counting = state.status in FAULT_OPEN_STATES
    counts = to_status in FAULT_OPEN_STATES
    return TransitionPlan(action.name, state.status, to_status, changes, int(counts) - int(was_counting))
