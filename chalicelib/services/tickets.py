"""Tickets: one case per fault however it was found (D-S6), followed to sign-off (D-O2).

Every change writes the ticket, its audit event and the lamps it touches in one
transaction (`access.open_ticket`, `access.apply_transition`); the ticket's version turns
a stale write into a 409 `stale_version`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from chalicelib.auth import Principal, Role
from chalicelib.domain import lifecycle
from chalicelib.domain.lifecycle import DISPATCH_ROLES, FIELD_ROLES, Status, TicketState
from chalicelib.domain.policy import LEVEL_COLOURS
from chalicelib.domain.public_reports import mask_phone
from chalicelib.domain.tickets import Category, Source, new_public_ref, ticket_ref
from chalicelib.errors import Conflict, FieldProblem, Forbidden, InvalidInput, InvalidQuery, NotFound, StaleVersion
from chalicelib.guards import SealedGuard
from chalicelib.models import access
from chalicelib.models.access import (
    ContractModel,
    LampHistoryModel,
    LampModel,
    SchoolModel,
    TicketEventModel,
    TicketModel,
    UserModel,
)
from chalicelib.schemas import (
    PageQuery,
    TicketContactOut,
    TicketEventOut,
    TicketEventPageOut,
    TicketIn,
    TicketListQuery,
    TicketOut,
    TicketPageOut,
    TicketSlaOut,
    TransitionIn,
)
from chalicelib.schemas_visit import CheckInOut, CheckOutOut, TravelOut, VisitOut, WorkOut
from chalicelib.services import sla_policies, sla_timers
from chalicelib.services.ids import new_id, utcnow
from chalicelib.services.paging import decode_cursor, encode_cursor
from chalicelib.services.registry import contract_policy
from chalicelib.services.scope import is_school_account, require_school, school_scope

HISTORY_ACTIONS = {"resolve", "sign_off", "close", "cancel", "merge", "reopen"}


class TicketStore(Protocol):
    """What this use case needs of storage: `chalicelib.models.access` in the app, an in-memory fake in
    the service-level tests (tests/support/fakes.py)."""

    def get_school(self, school_id: str) -> SchoolModel: ...
    def get_contract(self, contract_id: str) -> ContractModel: ...
    def get_user(self, user_id: str) -> UserModel: ...
    def batch_get_lamps(self, lamp_ids: Sequence[str]) -> dict[str, LampModel]: ...
    def reserve_numbers(self, name: str, count: int = 1) -> int: ...
    def get_ticket(self, ticket_id: str) -> TicketModel: ...
    def find_ticket_by_ref(self, ref: str) -> TicketModel: ...
    def query_tickets(
        self, filters: dict[str, str], *, limit: int, cursor: dict[str, Any] | None
    ) -> access.Page[TicketModel]: ...
    def query_ticket_events(
        self, ticket_id: str, limit: int, cursor: dict[str, Any] | None
    ) -> access.Page[TicketEventModel]: ...
    def open_ticket(
        self, ticket: TicketModel, event: TicketEventModel, lamp_histories: Sequence[LampHistoryModel]
    ) -> None: ...
    def apply_transition(
        self,
        ticket: TicketModel,
        event: TicketEventModel,
        lamp_ids: Sequence[str],
        open_fault_delta: int,
        lamp_histories: Sequence[LampHistoryModel],
        guard: SealedGuard | None = None,
        extra: Callable[[Any], None] | None = None,
    ) -> None: ...


STORE: TicketStore = access  # type: ignore[assignment]  # a module implements the protocol


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def state_of(ticket: TicketModel) -> TicketState:
    return TicketState(
        status=Status(ticket.status),
        level=int(ticket.level),
        assignee_id=ticket.assignee_id,
        reported_at=ticket.reported_at,
        ticket_id=ticket.ticket_id,
        milestones=dict(ticket.milestones),
        category=ticket.category,
        school=sla_policies.ticket_facts(ticket),
    )


def sees_reporter_phones(t: TicketModel, actor: Principal | None) -> bool:
    """Issue 9.3: a reporter's number is personal data, shown in full on the ticket to the dispatcher
    (and admin) and to the engineer it is assigned to; masked for everyone else and in every list."""
    if actor is None or is_school_account(actor):
        return False
    if actor.has_any(DISPATCH_ROLES):
        return True
    return t.assignee_id is not None and t.assignee_id == actor.sub and actor.has_any(FIELD_ROLES)


def _phone(phone: Any, reveal: bool) -> str:
    text = str(phone or "")
    return text if reveal or not text else mask_phone(text)


def ticket_view(t: TicketModel, actor: Principal | None = None, *, in_list: bool = False) -> TicketOut:
    """The ticket as `actor` may read it; `in_list` for a list's items, where phones are always masked."""
    reveal = not in_list and sees_reporter_phones(t, actor)
    reporter = dict(t.reporter)
    if "phone" in reporter:
        reporter["phone"] = _phone(reporter["phone"], reveal)
    contacts = [TicketContactOut(phone=_phone(c.get("phone"), reveal), at=c["at"]) for c in t.contacts]
    milestones = dict(t.milestones)
    acknowledged = milestones.get("acknowledged_at")
    on_site = milestones.get("on_site_at")
    fields: dict[str, Any] = {}
    if actor is not None:
        fields["allowed_actions"] = lifecycle.allowed_actions(state_of(t), actor)
    fields["visit"] = _visit_view(t)
    return TicketOut(
        ticket_id=t.ticket_id,
        ref=t.ref,
        public_ref=t.public_ref,
        version=t.version,
        status=Status(t.status),
        source=Source(t.source),
        category=Category(t.category),
        level=int(t.level),
        colour=LEVEL_COLOURS[int(t.level)],
        level_confirmed=t.level_confirmed == "yes",
        school_id=t.school_id,
        room_id=t.room_id or None,
        lamp_ids=[str(x) for x in t.lamp_ids],
        description=t.description,
        photos=[str(x) for x in t.photos],
        reporter=reporter,
        contacts=contacts,
        assignee_id=t.assignee_id,
        owner_id=t.owner_id,
        merged_into=t.merged_into,
        reported_at=t.reported_at,
        response_due=t.response_due,
        onsite_due=t.onsite_due,
        resolution_due=t.resolution_due,
        eta=t.eta,
        milestones=milestones,
        resolution=t.resolution or None,
        sign_off=t.sign_off or None,
        sla=TicketSlaOut(
            response_met=None if acknowledged is None else dt.datetime.fromisoformat(acknowledged) <= t.response_due,
            onsite_met=None if on_site is None else dt.datetime.fromisoformat(on_site) <= t.onsite_due,
        ),
        updated_at=t.updated_at,
        suggested_level=None if t.suggested_level is None else int(t.suggested_level),
        report_count=int(t.report_count or 1),
        **fields,
    )


def _visit_view(t: TicketModel) -> VisitOut | None:
    """The engineer's visit as stored on the ticket (issue 11); None before it starts."""
    if not (t.travel or t.check_in or t.work or t.check_out or t.visit_site):
        return None
    return VisitOut(
        travel=TravelOut.model_validate(t.travel) if t.travel else None,
        check_in=CheckInOut.model_validate(t.check_in) if t.check_in else None,
        work=WorkOut.model_validate(t.work) if t.work else None,
        check_out=CheckOutOut.model_validate(t.check_out) if t.check_out else None,
    )


def event_view(e: TicketEventModel) -> TicketEventOut:
    return TicketEventOut(
        seq=int(e.seq),
        at=e.at,
        actor=e.actor,
        actor_role=e.actor_role,
        action=e.action,
        from_status=e.from_status,
        to_status=e.to_status,
        before=e.before,
        after=e.after,
        note=e.note,
    )


def _event(
    ticket: TicketModel,
    seq: int,
    now: dt.datetime,
    actor: Principal,
    action: str,
    from_status: str | None,
    before: dict[str, Any],
    after: dict[str, Any],
    note: str = "",
) -> TicketEventModel:
    return TicketEventModel(
        ticket.ticket_id,
        seq,
        at=now,
        actor=actor.sub,
        actor_role=actor.primary_role,
        action=action,
        from_status=from_status,
        to_status=ticket.status,
        before=before,
        after=after,
        note=note,
    )


def _can_read(ticket: TicketModel, actor: Principal, asked_for: str) -> None:
    # D-A3: another school's ticket is "not found" to a school's staff, however it was asked for.
    require_school(actor, ticket.school_id, what="ticket", key=asked_for)
    # An engineer reads the tickets assigned to him and those he opened (e.g. found on an inspection,
    # D-S6): first-contact responsibility makes him the owner until it is closed.
    if actor.roles <= FIELD_ROLES and actor.sub not in (ticket.assignee_id, ticket.owner_id):
        raise Forbidden("engineers see the tickets assigned to them or opened by them")


def create_ticket(
    body: TicketIn,
    actor: Principal,
    now: dt.datetime | None = None,
    store: TicketStore = STORE,
    ticket_id: str | None = None,  # an inspection's finding: derived from the visit, so a retry opens none twice
) -> TicketOut:
    now = now or utcnow()
    school = store.get_school(body.school_id)
    contract = store.get_contract(school.contract_id)
    policy = contract_policy(contract)
    room_id = body.room_id or ""
    lamps = store.batch_get_lamps(body.lamp_ids) if body.lamp_ids else {}
    problems = []
    for index, lamp_id in enumerate(body.lamp_ids):
        lamp = lamps.get(lamp_id)
        if lamp is None:
            problems.append(FieldProblem(f"lamp_ids.{index}", f"lamp '{lamp_id}' does not exist"))
        elif lamp.school_id != school.school_id:
            problems.append(FieldProblem(f"lamp_ids.{index}", "belongs to another school"))
        elif lamp.successor_id:
            problems.append(FieldProblem(f"lamp_ids.{index}", f"was replaced by '{lamp.successor_id}'"))
        elif room_id and lamp.room_id != room_id:
            problems.append(FieldProblem(f"lamp_ids.{index}", f"is in room '{lamp.room_id}', not '{room_id}'"))
        else:
            room_id = room_id or lamp.room_id
    if problems:
        raise InvalidInput("the ticket's lamps are invalid", details=problems)
    if len(set(body.lamp_ids)) != len(body.lamp_ids):
        raise InvalidInput("a lamp is listed twice", details=[FieldProblem("lamp_ids", "duplicates")])

    level = body.level or policy.default_level
    sla = sla_policies.at_report(contract, school, level, body.category.value, now)  # D-S3, D-S5
    ticket_id = ticket_id or new_id("t")
    number = store.reserve_numbers(f"ticket#{now.year}")
    ticket = TicketModel(
        ticket_id,
        ref=ticket_ref(now.year, number),
        public_ref=new_public_ref(),
        contract_id=school.contract_id,
        school_id=school.school_id,
        room_id=room_id,
        lamp_ids=list(body.lamp_ids),
        source=body.source.value,
        category=body.category.value,
        level=level,
        level_confirmed="yes" if body.level else "no",
        description=body.description,
        reporter=body.reporter.model_dump(),
        status=Status.REPORTED.value,
        owner_id=actor.sub,
        reported_at=now,
        **sla.ticket_fields(),
        milestones={},
        event_count=1,
        updated_at=now,
    )
    event = _event(
        ticket,
        1,
        now,
        actor,
        "create",
        None,
        {},
        {"status": ticket.status, "level": level, "category": ticket.category, "source": ticket.source},
    )
    histories = [
        access.history_entry(
            lamp_id,
            now,
            "ticket_opened",
            ref=ticket.ref,
            actor=actor.sub,
            summary=f"{ticket.category}: {ticket.description[:120]}",
            data={"ticket_id": ticket_id, "level": level},
        )
        for lamp_id in lamps
    ]
    sla_timers.arm(ticket, policy, now)  # the SLA timer's plan, written with the ticket (issue 10)
    store.open_ticket(ticket, event, histories)
    sla_timers.started(ticket)
    return ticket_view(ticket, actor)


def get_ticket(ticket_id: str, actor: Principal, store: TicketStore = STORE) -> TicketOut:
    ticket = _find(ticket_id, store)
    _can_read(ticket, actor, ticket_id)
    view = ticket_view(ticket, actor)
    if ticket.travel and view.visit is not None and not is_school_account(actor):
        from chalicelib.services.visit import visit_messages  # it imports this module

        view.visit.messages = visit_messages(ticket, actor)  # the ETA SMS with its delivery result
    return view


def _find(ticket_id_or_ref: str, store: TicketStore) -> TicketModel:
    if ticket_id_or_ref.startswith("T-"):
        return store.find_ticket_by_ref(ticket_id_or_ref)
    return store.get_ticket(ticket_id_or_ref)


def list_tickets(query: TicketListQuery, actor: Principal, store: TicketStore = STORE) -> TicketPageOut:
    """Oldest on-site deadline first; one Query on the index of exactly the filters given.

    Phones are masked in every list (issue 9.3). A school's staff list their own school's tickets
    whatever they ask (D-A3): `school_id` defaults to theirs, and another school's lists nothing, the
    answer an unknown school gets, so a list reveals no more than getTicket's 404 does.
    """
    scope = school_scope(actor)
    if scope is not None:
        if query.school_id not in (None, scope) or not scope:
            return TicketPageOut(items=[], next_cursor=None)
        if sum(getattr(query, name) is not None for name in ("assignee_id", "status", "level")) > 1:
            raise InvalidQuery(
                "a school's tickets are listed by at most one more filter",
                details=[FieldProblem("query", "give at most one of assignee_id, status, level")],
            )
        query = query.model_copy(update={"school_id": scope})
    elif actor.roles <= FIELD_ROLES:
        if query.assignee_id not in (None, actor.sub):
            raise Forbidden("engineers list the tickets assigned to them")
        query = query.model_copy(update={"assignee_id": actor.sub})
    filters = {
        name: str(value)
        for name in ("school_id", "assignee_id", "status", "level")
        if (value := getattr(query, name)) is not None
    }
    if not filters:
        raise InvalidInput(
            "say which tickets to list",
            details=[FieldProblem("query", "give at least one of school_id, assignee_id, status, level")],
        )
    page = store.query_tickets(filters, limit=query.limit, cursor=decode_cursor(query.cursor))
    return TicketPageOut(
        items=[ticket_view(t, actor, in_list=True) for t in page.items], next_cursor=encode_cursor(page.next_key)
    )


def list_ticket_events(
    ticket_id: str, query: PageQuery, actor: Principal, store: TicketStore = STORE
) -> TicketEventPageOut:
    ticket = _find(ticket_id, store)
    _can_read(ticket, actor, ticket_id)
    page = store.query_ticket_events(ticket.ticket_id, query.limit, decode_cursor(query.cursor))
    return TicketEventPageOut(items=[event_view(e) for e in page.items], next_cursor=encode_cursor(page.next_key))


def _check_assignee(user_id: str, store: TicketStore) -> None:
    try:
        user = store.get_user(user_id)
    except NotFound as exc:
        raise InvalidInput(
            "no such user", details=[FieldProblem("assignee_id", f"user '{user_id}' does not exist")]
        ) from exc
    if not user.active or user.role not in (Role.ENGINEER, Role.EXPERT):
        raise InvalidInput(
            "tickets are assigned to active engineers or line-2 experts",
            details=[FieldProblem("assignee_id", f"user '{user_id}' is a {user.role}")],
        )


def _merge_target(ticket: TicketModel, target_id: str, store: TicketStore) -> TicketModel:
    try:
        target = _find(target_id, store)
    except NotFound as exc:
        raise InvalidInput(
            "no such ticket", details=[FieldProblem("merge_into", f"ticket '{target_id}' does not exist")]
        ) from exc
    if target.ticket_id == ticket.ticket_id:
        raise InvalidInput("a ticket cannot be merged into itself", details=[FieldProblem("merge_into", "same ticket")])
    if target.school_id != ticket.school_id:
        raise InvalidInput(
            "duplicates are merged within one school", details=[FieldProblem("merge_into", "another school")]
        )
    if Status(target.status) in lifecycle.FINAL_STATES:
        raise Conflict(
            f"ticket '{target.ref}' is {target.status}; merge into an open ticket",
            extra={"merge_into_status": target.status},
        )
    return target


def transition_ticket(
    ticket_id: str, body: TransitionIn, actor: Principal, now: dt.datetime | None = None, store: TicketStore = STORE
) -> TicketOut:
    now = now or utcnow()
    change = body.root
    ticket = _find(ticket_id, store)
    if change.version != ticket.version:
        # Role and assignee first: someone who may not act learns nothing of the ticket's version.
        lifecycle.may_act(state_of(ticket), change.action, actor)
        raise StaleVersion(
            f"the ticket has changed since version {change.version}; reload it",
            extra={"current_version": ticket.version, "current_status": ticket.status},
        )
    spec = lifecycle.ACTIONS[change.action]
    # the revision the ticket was reported under, not the contract's latest (D-S3, D-S5)
    policy = (
        sla_policies.policy_for_ticket(ticket, store.get_contract(ticket.contract_id)) if spec.needs_policy else None
    )
    plan = lifecycle.plan_transition(state_of(ticket), change, actor, policy, now)
    if plan.action == "assign":
        _check_assignee(plan.changes["assignee_id"], store)
    if plan.action == "merge":
        plan.changes["merged_into"] = _merge_target(ticket, plan.changes["merged_into"], store).ticket_id

    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in plan.changes.items():
        if name == "level_confirmed":
            value = "yes" if value else "no"
        old = getattr(ticket, name)
        if old != value:
            before[name], after[name] = _iso(old), _iso(value)
        setattr(ticket, name, value)
    ticket.updated_at = now
    seq = int(ticket.event_count) + 1
    ticket.event_count = seq
    event = _event(ticket, seq, now, actor, plan.action, plan.from_status.value, before, after, change.note)
    histories: list[LampHistoryModel] = []
    if plan.action in HISTORY_ACTIONS:
        histories = [
            access.history_entry(
                lamp_id,
                now,
                f"ticket_{plan.action}",
                ref=ticket.ref,
                actor=actor.sub,
                summary=change.note or plan.action.replace("_", " "),
                data={"ticket_id": ticket.ticket_id, "status": ticket.status},
            )
            for lamp_id in map(str, ticket.lamp_ids)
        ]
    was_due = bool(ticket.next_due_at)
    replaced = sla_timers.arm(ticket, policy, now) if policy is not None else None  # deadlines moved: a new timer
    store.apply_transition(ticket, event, [str(x) for x in ticket.lamp_ids], plan.lamp_count_delta, histories)
    sla_timers.after_change(ticket, replaced, was_due)
    return ticket_view(ticket, actor)
