"""Tickets: create, read, list, transition, audit trail."""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Role
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module

tickets = lazy_module("chalicelib.services.tickets")

api = Api(__name__)

STAFF = list(Role)
CREATORS = [Role.DISPATCHER, Role.ADMIN, Role.ENGINEER, Role.EXPERT, Role.PROJECT_LEAD]


@api.route("/tickets", "POST", operation_id="createTicket", roles=CREATORS, body="TicketIn", status=201)
def create_ticket(ctx: RequestContext) -> Any:
    return tickets.create_ticket(ctx.body, ctx.principal)


@api.route("/tickets", "GET", operation_id="listTickets", roles=STAFF, query="TicketListQuery")
def list_tickets(ctx: RequestContext) -> Any:
    return tickets.list_tickets(ctx.query, ctx.principal)


@api.route("/tickets/{ticket_id}", "GET", operation_id="getTicket", roles=STAFF)
def get_ticket(ctx: RequestContext, ticket_id: str) -> Any:
    return tickets.get_ticket(ticket_id, ctx.principal)


@api.route("/tickets/{ticket_id}/transitions", "POST", operation_id="transitionTicket", roles=STAFF, body="TransitionIn")
def transition_ticket(ctx: RequestContext, ticket_id: str) -> Any:
    return tickets.transition_ticket(ticket_id, ctx.body, ctx.principal)


@api.route("/tickets/{ticket_id}/events", "GET", operation_id="listTicketEvents", roles=STAFF, query="PageQuery")
def list_ticket_events(ctx: RequestContext, ticket_id: str) -> Any:
    return tickets.list_ticket_events(ticket_id, ctx.query, ctx.principal)
