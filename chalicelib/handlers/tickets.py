"""Tickets: create, read, list, transition, audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.auth import STAFF, Role
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas import TicketEventPageOut, TicketOut, TicketPageOut
    from chalicelib.schemas_sla import TicketSlaViewOut
    from chalicelib.services import ticket_sla, tickets
else:
    tickets = lazy_module("chalicelib.services.tickets")
    ticket_sla = lazy_module("chalicelib.services.ticket_sla")

api = Api(__name__)

# STAFF is the supplier's people. A school's staff read their own school's tickets (the services limit
# them, chalicelib/services/scope.py, D-A3) and change nothing: they report through the QR page.
WITH_SCHOOL_STAFF = [*STAFF, Role.SCHOOL_STAFF]
CREATORS = [Role.DISPATCHER, Role.ADMIN, Role.ENGINEER, Role.EXPERT, Role.PROJECT_LEAD]


@api.route(
    "/tickets",
    "POST",
    operation_id="createTicket",
    response="TicketOut",
    roles=CREATORS,
    body="TicketIn",
    status=201,
    idempotent=True,
)
def create_ticket(ctx: RequestContext) -> TicketOut:
    """Opens a case for a fault, however it was found (D-O1); deadlines follow the level (D-S1)."""
    return tickets.create_ticket(ctx.body, ctx.principal)


@api.route(
    "/tickets",
    "GET",
    operation_id="listTickets",
    response="TicketPageOut",
    roles=WITH_SCHOOL_STAFF,
    query="TicketListQuery",
)
def list_tickets(ctx: RequestContext) -> TicketPageOut:
    """Tickets by school, assignee, status or level, oldest on-site deadline first; paginated.

    Engineers and experts see only tickets assigned to them; school staff only their own school's
    (`school_id` may be left out; another school's lists nothing). Reporters' phone numbers are masked
    in lists.
    """
    return tickets.list_tickets(ctx.query, ctx.principal)


@api.route("/tickets/{ticket_id}", "GET", operation_id="getTicket", response="TicketOut", roles=WITH_SCHOOL_STAFF)
def get_ticket(ctx: RequestContext, ticket_id: str) -> TicketOut:
    """One ticket by id or by reference (T-2026-000123), with what the caller may do next.

    Reporters' phone numbers are shown in full to dispatchers, admins and the assigned engineer,
    masked for everyone else. School staff read their own school's tickets; another school's is 404.
    """
    return tickets.get_ticket(ticket_id, ctx.principal)


@api.route(
    "/tickets/{ticket_id}/transitions",
    "POST",
    operation_id="transitionTicket",
    response="TicketOut",
    roles=STAFF,
    body="TransitionIn",
)
def transition_ticket(ctx: RequestContext, ticket_id: str) -> TicketOut:
    """Moves a ticket through its lifecycle (see the table above); send the version you read.

    A stale version is 409 `stale_version` with `current_version`; an action the state does not allow
    is 409 `illegal_transition` naming `current_status` and `allowed_actions`.
    """
    return tickets.transition_ticket(ticket_id, ctx.body, ctx.principal)


@api.route(
    "/tickets/{ticket_id}/events",
    "GET",
    operation_id="listTicketEvents",
    response="TicketEventPageOut",
    roles=STAFF,
    query="PageQuery",
)
def list_ticket_events(ctx: RequestContext, ticket_id: str) -> TicketEventPageOut:
    """The ticket's audit trail, oldest first: who, when, action, before and after, note.

    Not for school staff: the notes are the supplier's own. A school follows a case on the ticket
    (status, milestones, deadlines) and on its public status page (`public_ref`).
    """
    return tickets.list_ticket_events(ticket_id, ctx.query, ctx.principal)


@api.route(
    "/tickets/{ticket_id}/sla",
    "GET",
    operation_id="getTicketSla",
    response="TicketSlaViewOut",
    roles=STAFF,
)
def get_ticket_sla(ctx: RequestContext, ticket_id: str) -> TicketSlaViewOut:
    """The ticket's SLA (issue 10): each deadline and whether it was met in time, the breaches and
    escalations recorded (D-S4) with their lateness, the escalation step, and every notification sent
    about the ticket with its delivery result (the SNS MessageId or the error).

    By id or reference. Engineers and experts read the tickets assigned to them. Not for school
    staff: escalations and notifications are the supplier's own (the ticket shows a school its
    deadlines and milestones).
    """
    return ticket_sla.ticket_sla(ticket_id, ctx.principal)
