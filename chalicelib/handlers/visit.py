"""The engineer's visit (issue 11): work list, acknowledge, travel, check-in, work, check-out, sync.

Every POST is one of the app's guarded writes: an Idempotency-Key is required, and a retry is answered
with the first answer (`Idempotent-Replayed: true`) and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.auth import Role
from chalicelib.handlers._api import Api, RequestContext
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:  # mypy checks every call against the service's signature; at run time it loads on first use
    from chalicelib.schemas import ChangesOut, MyWorkPageOut, TicketOut
    from chalicelib.services import visit
else:
    visit = lazy_module("chalicelib.services.visit")

api = Api(__name__)

FIELD = [Role.ENGINEER, Role.EXPERT]


@api.route("/me/work", "GET", operation_id="listMyWork", response="MyWorkPageOut", roles=FIELD, query="WorkQuery")
def list_my_work(ctx: RequestContext) -> MyWorkPageOut:
    """Your tickets whose visit is still to do, nearest on-site deadline first: each with the school's
    address, GPS position and check-in fence, the site's hazards to be briefed on (D-O5), the latest lines
    of its lamps' history (D-S7) and the parts that fit its lamps (D-O1). Phones are masked, as in every
    list: read the ticket for the reporter's number."""
    return visit.list_my_work(ctx.query, ctx.principal)


@api.route("/me/changes", "GET", operation_id="syncChanges", response="ChangesOut", roles=FIELD, query="ChangesQuery")
def sync_changes(ctx: RequestContext) -> ChangesOut:
    """Tickets assigned to you that changed since `cursor` (none: all of them), oldest change first, and the
    cursor to send next time. A ticket may come twice: keep the one with the highest `version`. While
    `has_more`, call again at once."""
    return visit.sync_changes(ctx.query, ctx.principal)


@api.route(
    "/tickets/{ticket_id}/acknowledge",
    "POST",
    operation_id="acknowledgeTicket",
    response="TicketOut",
    roles=FIELD,
    body="AcknowledgeIn",
    guarded=True,
)
def acknowledge_ticket(ctx: RequestContext, ticket_id: str) -> TicketOut:
    """You have the ticket: the SLA's response milestone (D-S1). From `assigned`."""
    return visit.acknowledge(ticket_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/tickets/{ticket_id}/travel",
    "POST",
    operation_id="startTravel",
    response="TicketOut",
    roles=FIELD,
    body="StartTravelIn",
    guarded=True,
)
def start_travel(ctx: RequestContext, ticket_id: str) -> TicketOut:
    """You are on your way (`en_route`): the school contact is told your expected arrival by SMS (D-S7).
    The message and its delivery result are on the ticket (`visit.messages`). From `acknowledged`."""
    return visit.start_travel(ticket_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/tickets/{ticket_id}/check-in",
    "POST",
    operation_id="checkIn",
    response="TicketOut",
    roles=FIELD,
    body="CheckInIn",
    guarded=True,
)
def check_in(ctx: RequestContext, ticket_id: str) -> TicketOut:
    """You are on site (`on_site`; the SLA's on-site milestone at the server's time). Your position is
    compared with the school's fence: outside is accepted and flagged (`inside_fence: false`), never
    refused. From `en_route`."""
    return visit.check_in(ticket_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/tickets/{ticket_id}/work",
    "POST",
    operation_id="recordWork",
    response="TicketOut",
    roles=FIELD,
    body="RecordWorkIn",
    guarded=True,
)
def record_work(ctx: RequestContext, ticket_id: str) -> TicketOut:
    """What you did (`resolved`): cause, category (D-O3), actions, the parts used (from your van unless a
    `location_id` says otherwise) and a unit swapped. Parts are taken from stock in the ticket's own
    transaction: a part short is 409 `insufficient_stock` naming it, and nothing is written. A swap
    registers the new unit in the old one's place; the old one keeps its history (D-A2). From `on_site`
    or `acknowledged` (fixed by phone)."""
    return visit.record_work(ticket_id, ctx.body, ctx.principal, ctx.guard)


@api.route(
    "/tickets/{ticket_id}/check-out",
    "POST",
    operation_id="checkOut",
    response="TicketOut",
    roles=FIELD,
    body="CheckOutIn",
    guarded=True,
)
def check_out(ctx: RequestContext, ticket_id: str) -> TicketOut:
    """You leave the site, after the school signed (D-O2); the ticket leaves your work list."""
    return visit.check_out(ticket_id, ctx.body, ctx.principal, ctx.guard)
