"""The ticket lifecycle as a pure state machine (D-S1, D-S3, D-O2, D-C1): no AWS, no HTTP.

The matrix is generated from ACTIONS, Role and Status, so a new action, role or status is
checked the day it is added. The rule tests below it pin the domain rules by name, so that a
change to the ACTIONS table that breaks a rule fails a test that says which rule.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Literal

import pytest
from pydantic import ValidationError

from chalicelib.auth import Principal, Role
from chalicelib.domain.lifecycle import (
    ACTIONS,
    FAULT_OPEN_STATES,
    FIELD_ROLES,
    MILESTONE_OF,
    SCHOOL_GAVE_IT,
    SignOff,
    Status,
    TicketState,
    allowed_actions,
    plan_transition,
)
from chalicelib.domain.policy import default_policy
from chalicelib.errors import Forbidden, IllegalTransition, InvalidInput
from chalicelib.schemas import TransitionIn

REPORTED_AT = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
NOW = REPORTED_AT + dt.timedelta(hours=3)
ASSIGNEE = "eng-1"

# Everything any action may require, valid, so that only the role / state / assignee rules can refuse.
FULL_REQUEST = {
    "note": "done",
    "level": 3,
    "assignee_id": "eng-2",
    "merge_into": "t_other",
    "signer_name": "Ms Wang",
    "signer_role": "head teacher",
    "method": "otp",
}


def state(status: Status, assignee_id: str | None = ASSIGNEE, level: int = 2, **kw) -> TicketState:
    return TicketState(
        status=status, level=level, assignee_id=assignee_id, reported_at=REPORTED_AT, ticket_id="t_this", **kw
    )


def actor(role: Role, sub: str = "someone") -> Principal:
    return Principal(sub=sub, roles=frozenset({role}))


def request(action: str, **overrides):
    """The action's own request model, with every field it takes set validly (unless overridden)."""
    fields = ACTIONS[action].request.model_fields
    values = {k: v for k, v in {**FULL_REQUEST, **overrides}.items() if k in fields and v is not None}
    if action == "sign_off":  # not a transition body any more: only the sign-off service builds it (D-O2)
        return SignOff.model_validate({"action": action, "version": 1, **values}, context={SCHOOL_GAVE_IT: True})
    return TransitionIn.model_validate({"action": action, "version": 1, **values}).root


def plan(status: Status, action: str, role: Role, sub: str = "someone", **overrides):
    return plan_transition(state(status), request(action, **overrides), actor(role, sub), default_policy(), NOW)


# ---- the matrix -----------------------------------------------------------------------------

# Each role once; field roles twice: as the ticket's assignee and as someone else.
ACTORS = [(role, ASSIGNEE if role in FIELD_ROLES else "someone") for role in Role] + [
    (role, "eng-other") for role in Role if role in FIELD_ROLES
]


def _expected_allowed(status: Status, role: Role, sub: str) -> list[str]:
    return [
        name
        for name, a in ACTIONS.items()
        if status in a.sources and role in a.roles and not (a.assignee_only and role in FIELD_ROLES and sub != ASSIGNEE)
    ]


@pytest.mark.parametrize(
    ("action", "status", "role", "sub"),
    [(a, s, r, sub) for a, s, (r, sub) in itertools.product(ACTIONS, Status, ACTORS)],
    ids=lambda v: v.value if isinstance(v, Role | Status) else str(v),
)
def test_every_action_by_every_role_from_every_status(action, status, role, sub):
    spec = ACTIONS[action]
    if role not in spec.roles:
        with pytest.raises(Forbidden) as refused:
            plan(status, action, role, sub)
        assert refused.value.extra["required_roles"] == sorted(spec.roles)
    elif status not in spec.sources:
        with pytest.raises(IllegalTransition) as refused:
            plan(status, action, role, sub)
        assert refused.value.extra["current_status"] == status.value
        assert refused.value.extra["allowed_actions"] == _expected_allowed(status, role, sub)
        assert status.value in refused.value.message
    elif spec.assignee_only and role in FIELD_ROLES and sub != ASSIGNEE:
        with pytest.raises(Forbidden, match="only the assigned engineer"):
            plan(status, action, role, sub)
    else:
        result = plan(status, action, role, sub)
        assert result.action == action
        assert result.from_status == status
        assert result.to_status == (spec.target or status)
        assert result.changes["status"] == (spec.target or status).value


@pytest.mark.parametrize(("status", "role", "sub"), [(s, r, sub) for s, (r, sub) in itertools.product(Status, ACTORS)])
def test_allowed_actions_are_exactly_the_actions_that_would_succeed(status, role, sub):
    offered = allowed_actions(state(status), actor(role, sub))
    for action in ACTIONS:
        try:
            plan(status, action, role, sub)
            succeeded = True
        except (Forbidden, IllegalTransition):
            succeeded = False
        assert (action in offered) == succeeded, action


@pytest.mark.parametrize(("action", "field"), [(name, f) for name, a in ACTIONS.items() for f in a.requires])
def test_an_action_without_a_required_field_names_the_field(action, field):
    """Each action's request model says what it needs: the refusal names exactly the missing field."""
    with pytest.raises(ValidationError) as refused:
        request(action, **{field: None})
    assert [e["loc"][-1] for e in refused.value.errors()] == [field]


def test_an_unknown_action_is_refused_and_the_actions_there_are_are_known():
    assert TransitionIn.variant_for({"action": "teleport"}).__name__ == "TransitionHead"
    assert TransitionIn.variant_for({"action": "triage"}) is ACTIONS["triage"].request
    with pytest.raises(ValidationError) as refused:
        TransitionIn.model_validate({"action": "teleport", "version": 1})
    assert "triage" in str(refused.value)


def test_every_action_has_its_own_request_model_and_one_effect():
    """One request model per action: the API body, the domain input and the document's schema alike."""
    models = [spec.request for spec in ACTIONS.values()]
    assert len(set(models)) == len(ACTIONS)
    for name, spec in ACTIONS.items():
        assert spec.request.model_fields["action"].annotation == Literal[name]  # type: ignore[comparison-overlap]


# ---- rules, by name ------------------------------------------------------------------------


def test_engineer_cannot_close_ticket_without_school_sign_off():
    """D-O2: no sign-off, no closure - not even the dispatcher can close a resolved ticket."""
    with pytest.raises(IllegalTransition) as refused:
        plan(Status.RESOLVED, "close", Role.DISPATCHER)
    assert refused.value.extra["current_status"] == "resolved"
    assert "sign_off" in refused.value.extra["allowed_actions"]
    assert "close" not in refused.value.extra["allowed_actions"]
    assert ACTIONS["close"].sources == {Status.SIGNED_OFF}


def test_engineers_never_close_tickets_even_after_sign_off():
    """D-O2: the engineer gets the school's signature; closing (archiving) is the office's."""
    for role in FIELD_ROLES:
        with pytest.raises(Forbidden):
            plan(Status.SIGNED_OFF, "close", role, ASSIGNEE)
    assert plan(Status.SIGNED_OFF, "close", Role.DISPATCHER).to_status == Status.CLOSED


def test_sign_off_records_who_signed_and_who_recorded_it():
    """D-O2: the school signs; a dispatcher may record a signature phoned in, whoever is assigned."""
    result = plan(Status.RESOLVED, "sign_off", Role.DISPATCHER, "disp-1", satisfaction=5, lat=31.2, lon=121.4)
    assert result.changes["sign_off"] == {
        "method": "otp",
        "signer_name": "Ms Wang",
        "signer_role": "head teacher",
        "recorded_by": "disp-1",
        "at": NOW.isoformat(),
        "device_at": None,
        "lat": 31.2,
        "lon": 121.4,
        "satisfaction": 5,
        "comment": "",
    }


def test_a_typed_sign_off_is_no_transition_any_more():
    """D-O2: the school gives the sign-off (its code or signature, through signOff), nobody types it."""
    body = {"action": "sign_off", "version": 1, "method": "otp", "signer_name": "Ms Wang"}
    with pytest.raises(ValidationError) as refused:
        SignOff.model_validate(body)
    assert [e["loc"] for e in refused.value.errors()] == [("action",)]
    with pytest.raises(ValidationError):
        TransitionIn.model_validate(body)


def test_level_change_recomputes_deadlines_from_the_report_time_not_from_now():
    """D-S3: deadlines are measured from the report; the level can change and deadlines follow."""
    for action in ("change_level", "triage"):
        status = Status.ASSIGNED if action == "change_level" else Status.REPORTED
        result = plan(status, action, Role.DISPATCHER, level=4)
        assert result.changes["level"] == 4
        assert result.changes["level_confirmed"] is True
        assert result.changes["response_due"] == REPORTED_AT + dt.timedelta(minutes=5)  # red: the hotline's 5 min
        assert result.changes["onsite_due"] == REPORTED_AT + dt.timedelta(minutes=10)
    lowered = plan(Status.ON_SITE, "change_level", Role.DISPATCHER, level=1)
    assert lowered.changes["onsite_due"] == REPORTED_AT + dt.timedelta(minutes=60)
    assert lowered.to_status == Status.ON_SITE


def test_triage_without_a_level_confirms_the_provisional_one():
    result = plan(Status.REPORTED, "triage", Role.DISPATCHER, level=None)
    assert result.changes["level"] == 2
    assert result.changes["onsite_due"] == REPORTED_AT + dt.timedelta(minutes=40)


def test_level_cannot_change_once_the_ticket_is_resolved():
    for status in (Status.RESOLVED, Status.SIGNED_OFF, Status.CLOSED, Status.CANCELLED, Status.MERGED):
        with pytest.raises(IllegalTransition):
            plan(status, "change_level", Role.DISPATCHER)


def test_reopen_clears_the_sign_off_so_the_school_must_sign_again():
    """D-C1 + D-O2: a reopened ticket needs a fresh signature before it can be closed again."""
    for status in (Status.RESOLVED, Status.SIGNED_OFF, Status.CLOSED):
        result = plan_transition(state(status), request("reopen"), actor(Role.MANAGER), default_policy(), NOW)
        assert result.to_status == Status.REOPENED
        assert result.changes["sign_off"] == {}
    with pytest.raises(IllegalTransition):
        plan(Status.REOPENED, "close", Role.DISPATCHER)


def test_a_reopened_ticket_goes_back_through_triage_or_assignment():
    offered = allowed_actions(state(Status.REOPENED), actor(Role.DISPATCHER))
    assert {"triage", "assign", "change_level"} <= set(offered)
    assert "close" not in offered and "sign_off" not in offered


@pytest.mark.parametrize(
    ("action", "status"), [(a, s) for a, s in MILESTONE_OF.items() for s in [sorted(ACTIONS[a].sources)[0]]]
)
def test_milestones_record_the_first_time_only(action, status):
    """SLA reports measure the first acknowledgement / arrival; a repeat must not move them."""
    role = Role.DISPATCHER if Role.DISPATCHER in ACTIONS[action].roles else Role.ENGINEER
    first = plan_transition(state(status), request(action), actor(role, ASSIGNEE), default_policy(), NOW)
    assert first.changes["milestones"] == {MILESTONE_OF[action]: NOW.isoformat()}

    earlier = {MILESTONE_OF[action]: REPORTED_AT.isoformat(), "other_at": "x"}
    again = plan_transition(
        state(status, milestones=earlier),
        request(action),
        actor(role, ASSIGNEE),
        default_policy(),
        NOW + dt.timedelta(hours=1),
    )
    assert "milestones" not in again.changes


def test_a_new_milestone_keeps_the_earlier_ones():
    result = plan_transition(
        state(Status.ACKNOWLEDGED, milestones={"acknowledged_at": "t0"}),
        request("depart"),
        actor(Role.ENGINEER, ASSIGNEE),
        default_policy(),
        NOW,
    )
    assert result.changes["milestones"] == {"acknowledged_at": "t0", "departed_at": NOW.isoformat()}


@pytest.mark.parametrize(
    ("action", "status", "delta"),
    [
        ("close", Status.SIGNED_OFF, -1),
        ("cancel", Status.REPORTED, -1),
        ("cancel", Status.ACKNOWLEDGED, -1),
        ("merge", Status.TRIAGED, -1),
        ("reopen", Status.CLOSED, +1),
        ("reopen", Status.RESOLVED, 0),
        ("reopen", Status.SIGNED_OFF, 0),
        ("resolve", Status.ON_SITE, 0),
        ("sign_off", Status.RESOLVED, 0),
        ("triage", Status.REPORTED, 0),
    ],
)
def test_lamp_fault_count_changes_only_when_a_ticket_stops_or_starts_counting(action, status, delta):
    """A lamp shows an open fault (D-A3) from report until close/cancel/merge, and again on reopen."""
    role = Role.DISPATCHER if Role.DISPATCHER in ACTIONS[action].roles else Role.ENGINEER
    assert plan(status, action, role, ASSIGNEE).lamp_count_delta == delta


@pytest.mark.parametrize(("action", "status"), [(a, s) for a, spec in ACTIONS.items() for s in spec.sources])
def test_lamp_fault_count_delta_follows_the_fault_open_states(action, status):
    spec = ACTIONS[action]
    role = sorted(spec.roles)[0]
    target = spec.target or status
    expected = int(target in FAULT_OPEN_STATES) - int(status in FAULT_OPEN_STATES)
    assert plan(status, action, role, ASSIGNEE).lamp_count_delta == expected


def test_assigning_the_same_engineer_again_is_refused():
    with pytest.raises(InvalidInput) as refused:
        plan(Status.ASSIGNED, "assign", Role.DISPATCHER, assignee_id=ASSIGNEE)
    assert refused.value.details[0].field == "assignee_id"
    assert plan(Status.ASSIGNED, "assign", Role.DISPATCHER, assignee_id="eng-2").changes["assignee_id"] == "eng-2"


def test_a_ticket_cannot_be_merged_into_itself():
    with pytest.raises(InvalidInput) as refused:
        plan(Status.REPORTED, "merge", Role.DISPATCHER, merge_into="t_this")
    assert refused.value.details[0].field == "merge_into"


def test_departure_eta_must_be_in_the_future_and_is_recorded():
    """D-S7: the engineer tells the school when to expect them."""
    with pytest.raises(InvalidInput) as refused:
        plan(Status.ACKNOWLEDGED, "depart", Role.ENGINEER, ASSIGNEE, eta=NOW - dt.timedelta(minutes=1))
    assert refused.value.details[0].field == "eta"
    eta = NOW + dt.timedelta(minutes=25)
    assert plan(Status.ACKNOWLEDGED, "depart", Role.ENGINEER, ASSIGNEE, eta=eta).changes["eta"] == eta


def test_resolution_records_the_note_and_the_engineer():
    result = plan(Status.ON_SITE, "resolve", Role.EXPERT, ASSIGNEE, note="Replaced the driver")
    assert result.changes["resolution"] == {"note": "Replaced the driver", "by": ASSIGNEE, "at": NOW.isoformat()}


def test_final_states_allow_nothing_but_reopening_a_closed_ticket():
    for status in (Status.CANCELLED, Status.MERGED):
        for role in Role:
            assert allowed_actions(state(status), actor(role, ASSIGNEE)) == []
    assert allowed_actions(state(Status.CLOSED), actor(Role.MANAGER)) == ["reopen"]
