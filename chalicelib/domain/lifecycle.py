"""The ticket lifecycle as an explicit state machine (D-S1, D-S3, D-S6, D-O2, D-C1).

Each action names its request model (the API body, this module's input and the document's
schema at once), the states it may start from, the state it leads to, the roles that may
take it and its effect. `plan_transition` either returns the changes to apply or raises:
Forbidden (role / not the assignee), IllegalTransition (state), InvalidInput (a rule about
the content, e.g. an arrival in the past). Plain Python, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from chalicelib.auth import Principal, Role
from chalicelib.domain.assets import OptionalText, Text
from chalicelib.domain.policy import ServicePolicy
from chalicelib.domain.sign_off import Method as SignOffMethod
from chalicelib.domain.sign_off import sign_off_record
from chalicelib.domain.sla import SchoolFacts, sla_deadlines
from chalicelib.domain.tickets import Category
from chalicelib.domain.types import Id, Level, Note, RequiredNote
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
MAX_ETA_AHEAD = dt.timedelta(days=30)  # D-S7: the arrival an engineer announces before going


# ---- one request model per action: the API's body, the domain's input and the document's schema ----


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    version: int = Field(ge=1, description="the ticket version this change is based on")
    note: Note = ""

    @classmethod
    def missing_problem(cls) -> str:
        """How a missing field is explained: which action needs it."""
        return f"required for {get_args(cls.model_fields['action'].annotation)[0]}"


class Triage(_Change):
    """Confirm the fault level (and category); without a level the provisional one is confirmed."""

    action: Literal["triage"]
    level: Level | None = None
    category: Category | None = None


class Assign(_Change):
    action: Literal["assign"]
    assignee_id: Id


class Acknowledge(_Change):
    action: Literal["acknowledge"]


class Depart(_Change):
    action: Literal["depart"]
    eta: dt.datetime | None = Field(default=None, description="expected arrival, with a time zone (D-S7)")

    @field_validator("eta")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-11-24T09:30:00+08:00")
        return value


class Arrive(_Change):
    action: Literal["arrive"]


class Resolve(_Change):
    action: Literal["resolve"]
    note: RequiredNote


# Set only by the sign-off service (chalicelib/services/sign_off.py) once the school gave its code or
# signature: a typed name through POST /tickets/{ticket_id}/transitions is refused (D-O2).
SCHOOL_GAVE_IT = "sign_off_given_by_school"


class SignOff(_Change):
    """The school's sign-off, recorded by `signOff` (POST /tickets/{ticket_id}/sign-off) only."""

    action: Literal["sign_off"]
    method: SignOffMethod
    signer_name: Text
    signer_role: OptionalText = ""
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="D-O4")
    comment: Note = ""
    device_at: dt.datetime | None = None
    sent_to: str = ""  # the masked number an OTP went to
    signature_key: str = ""  # the signature image, for method signature

    @field_validator("action")
    @classmethod
    def _given_by_school(cls, value: str, info: ValidationInfo) -> str:
        if not (info.context or {}).get(SCHOOL_GAVE_IT):
            raise ValueError(
                "a sign-off is given by the school: POST /tickets/{ticket_id}/sign-off-requests, "
                "then POST /tickets/{ticket_id}/sign-off (requestSignOff, signOff)"
            )
        return value


class Close(_Change):
    action: Literal["close"]


class Cancel(_Change):
    action: Literal["cancel"]
    note: RequiredNote


class Merge(_Change):
    action: Literal["merge"]
    merge_into: Id


class Reopen(_Change):
    action: Literal["reopen"]
    note: RequiredNote


class ChangeLevel(_Change):
    action: Literal["change_level"]
    level: Level
    category: Category | None = None


TicketChange = Annotated[
    Triage | Assign | Acknowledge | Depart | Arrive | Resolve | Close | Cancel | Merge | Reopen | ChangeLevel,
    Field(discriminator="action"),
]


@dataclass(frozen=True)
class TicketState:
    status: Status
    level: int
    assignee_id: str | None
    reported_at: dt.datetime
    ticket_id: str = ""
    milestones: dict[str, str] = field(default_factory=dict)
    category: str = ""
    school: SchoolFacts = field(default_factory=SchoolFacts)  # as at the report: the SLA rules read it (D-S5)


# ---- one effect per action: the fields it changes besides status and milestones ----------------

Effect = Callable[[TicketState, Any, Principal, ServicePolicy | None, dt.datetime], dict[str, Any]]


def _no_change(
    state: TicketState, change: Any, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> dict[str, Any]:
    return {}


def _set_level(
    state: TicketState, change: Triage | ChangeLevel, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> dict[str, Any]:
    if policy is None:
        raise ValueError("a level change needs the contract's policy")
    level = change.level if change.level is not None else state.level
    changes: dict[str, Any] = {"level": level, "level_confirmed": True}
    category = change.category.value if change.category else state.category
    # D-S3: from the report; the category may move the ticket between software and hardware terms (D-S5)
    changes.update(sla_deadlines(policy, level, state.reported_at, school=state.school, category=category).as_changes())
    if change.category:
        changes["category"] = change.category.value
    return changes


def _assign(
    state: TicketState, change: Assign, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> dict[str, Any]:
    if change.assignee_id == state.assignee_id and state.status == Status.ASSIGNED:
        raise InvalidInput(
            "the ticket is already assigned to this engineer", details=[FieldProblem("assignee_id", "unchanged")]
        )
    return {"assignee_id": change.assignee_id}


def _depart(
    state: TicketState, change: Depart, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> dict[str, Any]:
    if change.eta is None:
        return {}
    if change.eta < now:
        raise InvalidInput("the expected arrival is in the past", details=[FieldProblem("eta", "in the past")])
    if change.eta > now + MAX_ETA_AHEAD:  # a typo; and near year 9999, a time no ticket can store
        raise InvalidInput(
            "the expected arrival is too far ahead",
            details=[FieldProblem("eta", f"more than {MAX_ETA_AHEAD.days} days ahead")],
        )
    return {"eta": change.eta}


def _resolve(
    state: TicketState, change: Resolve, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> dict[str, Any]:
    return {"resolution": {"note": change.note, "by": actor.sub, "at": now.isoformat()}}


def _sign_off(
    state: TicketState, change: SignOff, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> dict[str, Any]:
    return {
        "sign_off": sign_off_record(
            method=change.method,
            signer_name=change.signer_name,
            signer_role=change.signer_role,
            recorded_by=actor.sub,
            now=now,
            device_at=change.device_at,
            lat=change.lat,
            lon=change.lon,
            satisfaction=change.satisfaction,
            comment=change.comment,
            sent_to=change.sent_to,
            signature_key=change.signature_key,
        )
    }


def _merge(
    state: TicketState, change: Merge, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> dict[str, Any]:
    if change.merge_into == state.ticket_id:
        raise InvalidInput("a ticket cannot be merged into itself", details=[FieldProblem("merge_into", "same ticket")])
    return {"merged_into": change.merge_into}


def _reopen(
    state: TicketState, change: Reopen, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> dict[str, Any]:
    # D-C1 + D-O2: the school signs again, and the next visit checks out again (issue 11)
    return {"sign_off": {}, "check_out": None}


@dataclass(frozen=True)
class Action:
    name: str
    request: type[_Change]
    sources: frozenset[Status]
    target: Status | None  # None: the status does not change
    roles: frozenset[Role]
    effect: Effect = _no_change
    assignee_only: bool = False  # field roles act only on tickets assigned to them
    needs_policy: bool = False
    summary: str = ""

    @property
    def requires(self) -> tuple[str, ...]:
        """The fields this action's request cannot do without (besides action and version)."""
        return tuple(
            n for n, f in self.request.model_fields.items() if f.is_required() and n not in ("action", "version")
        )


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action(
            "triage",
            Triage,
            frozenset({Status.REPORTED, Status.REOPENED}),
            Status.TRIAGED,
            DISPATCH_ROLES,
            _set_level,
            needs_policy=True,
            summary="confirm the fault level (and category)",
        ),
        Action(
            "assign",
            Assign,
            frozenset({Status.TRIAGED, Status.ASSIGNED, Status.ACKNOWLEDGED, Status.EN_ROUTE, Status.REOPENED}),
            Status.ASSIGNED,
            DISPATCH_ROLES,
            _assign,
            summary="assign or reassign an engineer",
        ),
        Action(
            "acknowledge",
            Acknowledge,
            frozenset({Status.ASSIGNED}),
            Status.ACKNOWLEDGED,
            FIELD_ROLES,
            assignee_only=True,
            summary="the engineer has contacted the school (response, D-S1)",
        ),
        Action(
            "depart",
            Depart,
            frozenset({Status.ACKNOWLEDGED}),
            Status.EN_ROUTE,
            FIELD_ROLES,
            _depart,
            assignee_only=True,
            summary="travelling; tell the school the expected arrival (D-S7)",
        ),
        Action(
            "arrive",
            Arrive,
            frozenset({Status.EN_ROUTE}),
            Status.ON_SITE,
            FIELD_ROLES,
            assignee_only=True,
            summary="checked in on site",
        ),
        Action(
            "resolve",
            Resolve,
            frozenset({Status.ACKNOWLEDGED, Status.ON_SITE}),
            Status.RESOLVED,
            FIELD_ROLES,
            _resolve,
            assignee_only=True,
            summary="service restored, by phone or on site (D-S1)",
        ),
        Action(
            "sign_off",
            SignOff,
            frozenset({Status.RESOLVED}),
            Status.SIGNED_OFF,
            FIELD_ROLES | {Role.DISPATCHER},
            _sign_off,
            assignee_only=True,
            summary="the school signs the work (D-O2): its SMS code or signature, only through signOff",
        ),
        Action(
            "close",
            Close,
            frozenset({Status.SIGNED_OFF}),
            Status.CLOSED,
            frozenset({Role.DISPATCHER, Role.PROJECT_LEAD, Role.ADMIN}),
            summary="archive; needs sign-off (D-O2)",
        ),
        Action(
            "cancel",
            Cancel,
            frozenset({Status.REPORTED, Status.TRIAGED, Status.ASSIGNED, Status.ACKNOWLEDGED}),
            Status.CANCELLED,
            DISPATCH_ROLES,
            summary="not a fault, or reported in error",
        ),
        Action(
            "merge",
            Merge,
            frozenset({Status.REPORTED, Status.TRIAGED}),
            Status.MERGED,
            DISPATCH_ROLES,
            _merge,
            summary="a duplicate of another open ticket",
        ),
        Action(
            "reopen",
            Reopen,
            frozenset({Status.RESOLVED, Status.SIGNED_OFF, Status.CLOSED}),
            Status.REOPENED,
            frozenset({Role.DISPATCHER, Role.ADMIN, Role.MANAGER}),
            _reopen,
            summary="the fault is back or the school is not satisfied (D-C1)",
        ),
        Action(
            "change_level",
            ChangeLevel,
            OPEN_STATES,
            None,
            DISPATCH_ROLES,
            _set_level,
            needs_policy=True,
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
    state: TicketState, change: _Change, actor: Principal, policy: ServicePolicy | None, now: dt.datetime
) -> TransitionPlan:
    """Checks role, state and assignee (in that order: a refusal reveals no more than the caller may
    know), then applies the action's effect. The request's own fields were validated by its model."""
    action = ACTIONS[change.action]  # type: ignore[attr-defined]  # every request model has its action tag
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

    to_status = action.target or state.status
    changes: dict[str, Any] = {"status": to_status.value, **action.effect(state, change, actor, policy, now)}
    milestone = MILESTONE_OF.get(action.name)
    if milestone and milestone not in state.milestones:
        changes["milestones"] = {**state.milestones, milestone: now.isoformat()}

    was_counting = state.status in FAULT_OPEN_STATES
    counts = to_status in FAULT_OPEN_STATES
    return TransitionPlan(action.name, state.status, to_status, changes, int(counts) - int(was_counting))


def may_act(state: TicketState, action_name: str, actor: Principal) -> None:
    """The role and assignee checks alone, before anything about the ticket (its version) is revealed."""
    action = ACTIONS[action_name]
    if not actor.has_any(action.roles):
        raise Forbidden(
            f"'{action.name}' needs one of the roles: {', '.join(sorted(action.roles))}",
            extra={"required_roles": sorted(action.roles)},
        )
    if _needs_assignee_check(action, actor) and state.assignee_id != actor.sub:
        raise Forbidden(f"only the assigned engineer can {action.name} this ticket")
