"""The engineer's visit (issue 11): the work list, acknowledge, travel with the ETA to the school by SMS,
geofenced check-in, the work record (parts from stock, a unit swap), check-out, and the changes since a
sync cursor.

Every write is one of the app's guarded writes (chalicelib.guards): the answer is sealed with the
Idempotency-Key and written in the change's own transaction (`access.apply_transition(guard=...)`), so a
retry changes nothing and gets the first answer. The lifecycle's actions move the ticket (acknowledge,
depart, arrive, resolve), so the SLA's milestones and timers follow as for any transition. A write costs
a GetItem of the ticket and one TransactWriteItems; acknowledge also reads the school once (its position,
fence and contact are kept on the ticket for travel and check-in); a unit swap reads the old unit, its
school and contract in one BatchGetItem and takes an asset number; the ETA SMS's result is written once
SNS has answered.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

from chalicelib import sms
from chalicelib.auth import Principal
from chalicelib.domain import assets, lifecycle, visit
from chalicelib.domain.lifecycle import FIELD_ROLES, Status
from chalicelib.domain.parts import MovementKind
from chalicelib.domain.public_reports import mask_phone
from chalicelib.errors import (
    FieldProblem,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    InvalidQuery,
    StaleVersion,
)
from chalicelib.guards import WriteGuard
from chalicelib.models import access, stock
from chalicelib.models import visit as visit_checks
from chalicelib.models.access import LampHistoryModel, SchoolModel, TicketModel
from chalicelib.models.tickets import VisitMessageModel
from chalicelib.models.transactions import Transaction
from chalicelib.observability import logger
from chalicelib.schemas import ChangesOut, MyWorkItemOut, MyWorkPageOut, TicketOut
from chalicelib.schemas_visit import (
    AcknowledgeIn,
    ChangesQuery,
    CheckInIn,
    CheckOutIn,
    HistoryLineOut,
    PartToBringOut,
    RecordWorkIn,
    SiteOut,
    StartTravelIn,
    VisitMessageOut,
    WorkQuery,
)
from chalicelib.services import sla_timers
from chalicelib.services.ids import utcnow
from chalicelib.services.inspections import open_visits_of
from chalicelib.services.paging import decode_cursor, encode_cursor
from chalicelib.services.registry import build_lamp, contract_warranty
from chalicelib.services.tickets import _event, _find, sees_reporter_phones, state_of, ticket_view

HISTORY_LINES = 5  # newest first: what the engineer reads before going (D-S7)
HISTORY_LAMPS = 1  # a Query each: the ticket's first lamp (a whole room's case shares its story)
MODEL_LAMPS = 3  # lamps per ticket whose models say which parts to bring (one BatchGet for the page)
UNAUDITED = {"visit_site"}  # a copy of the school's record (its contact's phone): not the ticket's change
SYNC_SETTLE = dt.timedelta(seconds=5)  # a cursor never passes the last 5 s: a write in flight is not skipped


# ---- reads ---------------------------------------------------------------------------------------


def _site_of(school: SchoolModel) -> dict[str, Any]:
    """The school as the visit needs it, kept on the ticket from acknowledge on."""
    contact = next((c for c in school.contacts if c.phone), None)
    return {
        "school_id": school.school_id,
        "name": school.name,
        "latitude": float(school.latitude),
        "longitude": float(school.longitude),
        "fence_m": int(school.geofence_m or visit.DEFAULT_FENCE_M),
        "contact_name": contact.name if contact else "",
        "contact_phone": contact.phone if contact else "",
    }


def _site_view(school: SchoolModel) -> SiteOut:
    return SiteOut(
        school_id=school.school_id,
        name=school.name,
        address=school.address,
        latitude=float(school.latitude),
        longitude=float(school.longitude),
        fence_m=int(school.geofence_m or visit.DEFAULT_FENCE_M),
        hazards=[str(h) for h in school.hazards or []],
    )


def _require_field_role(actor: Principal) -> None:
    if not actor.has_any(FIELD_ROLES):
        raise Forbidden("the work list is an engineer's or a line-2 expert's")


def list_my_work(query: WorkQuery, actor: Principal) -> MyWorkPageOut:
    """The engineer's tickets whose visit is to do, nearest on-site deadline first (one Query on the sparse
    work index), each with its school (address, GPS, fence, hazards), its lamps' latest history and the
    parts that fit its lamp models. Reads per page: the Query, a BatchGet of schools, a BatchGet of lamps,
    a Query per lamp model for its parts and a BatchGet of their names, and a Query per ticket for its first
    lamp's history: bounded by the page size (at most 20)."""
    _require_field_role(actor)
    page = access.query_work(actor.sub, query.limit, decode_cursor(query.cursor))
    tickets = page.items
    schools = access.batch_get_schools([t.school_id for t in tickets]) if tickets else {}
    lamp_ids = [str(x) for t in tickets for x in list(t.lamp_ids)[:MODEL_LAMPS]]
    lamps = access.batch_get_lamps(lamp_ids) if lamp_ids else {}
    models = sorted({lamp.model for lamp in lamps.values()})
    fits: dict[str, list[str]] = {}
    for model in models:
        fits[model] = [f.sku for f in stock.query_part_fits(model, 50, None).items]
    skus = sorted({sku for found in fits.values() for sku in found})
    parts = stock.batch_get_parts(skus) if skus else {}
    told = {str(x) for t in tickets for x in list(t.lamp_ids)[:HISTORY_LAMPS]}
    history = {lamp_id: access.recent_lamp_history(lamp_id, HISTORY_LINES) for lamp_id in sorted(told)}
    items = []
    for t in tickets:
        own = [str(x) for x in list(t.lamp_ids)[:MODEL_LAMPS] if str(x) in lamps]
        lines = [line for x in list(t.lamp_ids)[:HISTORY_LAMPS] for line in history.get(str(x), [])]
        wanted = sorted({sku for lamp_id in own for sku in fits.get(lamps[lamp_id].model, [])})
        school = schools.get(t.school_id)
        items.append(
            MyWorkItemOut(
                ticket=ticket_view(t, actor, in_list=True),
                site=_site_view(school) if school else None,
                lamp_history=[
                    HistoryLineOut(lamp_id=h.lamp_id, at=h.at, kind=h.kind, summary=h.summary, ref=h.ref) for h in lines
                ],
                parts_to_bring=[
                    PartToBringOut(sku=sku, name=parts[sku].name, fits_models=list(parts[sku].fits_models or []))
                    for sku in wanted
                    if sku in parts
                ],
            )
        )
    visits = open_visits_of(actor.sub) if query.cursor is None else []  # D-I4: beside the tickets
    return MyWorkPageOut(items=items, next_cursor=encode_cursor(page.next_key), inspection_visits=visits)


def _encode_sync(after: str) -> str:
    return base64.urlsafe_b64encode(f"v1|{after}".encode()).decode().rstrip("=")


def _decode_sync(cursor: str | None) -> str:
    if not cursor:
        return ""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidQuery(
            "the cursor is not valid", details=[FieldProblem("query.cursor", "not a cursor this API issued")]
        ) from exc
    version, _, after = text.partition("|")
    if version != "v1" or not after or len(after) > 200:
        raise InvalidQuery(
            "the cursor is not valid", details=[FieldProblem("query.cursor", "not a cursor this API issued")]
        )
    return after


def sync_changes(query: ChangesQuery, actor: Principal, now: dt.datetime | None = None) -> ChangesOut:
    """Tickets assigned to the caller that changed since the cursor, oldest change first (one Query on the
    sync index). The next cursor never passes `now - 5 s`, so a write committed late with an earlier
    server time is not skipped: a ticket may come twice, and the app keeps the highest `version`."""
    _require_field_role(actor)
    now = now or utcnow()
    after = _decode_sync(query.cursor)
    changed = access.query_changes(actor.sub, after, query.limit + 1)
    has_more = len(changed) > query.limit
    changed = changed[: query.limit]
    settle = access.sync_at(now - SYNC_SETTLE, "")
    last = str(changed[-1].sync_at) if changed else after
    if not has_more:
        last = min(last, settle) if last else settle
    return ChangesOut(
        items=[ticket_view(t, actor, in_list=True) for t in changed],
        next_cursor=_encode_sync(max(last, after) if after else last),
        has_more=has_more,
    )


def visit_messages(ticket: TicketModel, actor: Principal) -> list[VisitMessageOut]:
    reveal = sees_reporter_phones(ticket, actor)
    return [
        VisitMessageOut(
            message_key=m.message_key,
            purpose=m.purpose,  # type: ignore[arg-type]
            channel=m.channel,  # type: ignore[arg-type]
            to=m.to if reveal or not m.to else mask_phone(m.to),
            message=m.message,
            at=m.at,
            result=m.result,  # type: ignore[arg-type]
            message_id=m.message_id,
            error=m.error,
        )
        for m in access.query_visit_messages(ticket.ticket_id)
    ]


# ---- writes ----------------------------------------------------------------------------------------


def _current_state(ticket: TicketModel, actor: Principal) -> dict[str, Any]:
    """What a 409 tells the app: the ticket as it is now, to merge with what it holds offline."""
    return {
        "current_version": ticket.version,
        "current_status": ticket.status,
        "ticket": ticket_view(ticket, actor).model_dump(mode="json"),
    }


def _load(ticket_id: str, actor: Principal, version: int | None, action: str | None) -> TicketModel:
    ticket = _find(ticket_id, access)  # type: ignore[arg-type]  # the module implements the store
    state = _state(ticket)
    if action is not None:
        lifecycle.may_act(state, action, actor)  # role and assignee before anything about the ticket
    elif ticket.assignee_id != actor.sub:
        raise Forbidden("only the assigned engineer can record this visit")
    if version is not None and version != ticket.version:
        raise StaleVersion(
            f"the ticket has changed since version {version}; here is the current state",
            extra=_current_state(ticket, actor),
        )
    return ticket


def _state(ticket: TicketModel) -> lifecycle.TicketState:
    return state_of(ticket)


def _plan(ticket: TicketModel, change: Any, actor: Principal, now: dt.datetime) -> lifecycle.TransitionPlan:
    try:
        return lifecycle.plan_transition(_state(ticket), change, actor, None, now)
    except IllegalTransition as exc:
        exc.extra.update(_current_state(ticket, actor))
        raise


def _commit(
    ticket: TicketModel,
    actor: Principal,
    action: str,
    now: dt.datetime,
    guard: WriteGuard | None,
    *,
    changes: dict[str, Any],
    lamp_count_delta: int = 0,
    from_status: str,
    note: str = "",
    histories: list[LampHistoryModel] | None = None,
    extra: Callable[[Transaction], None] | None = None,
    explain: Callable[[Any], None] | None = None,
    event_after: dict[str, Any] | None = None,
) -> TicketOut:
    """Applies `changes` to the ticket with its audit event (before/after of what changed), the lamps'
    history lines, `extra` writes and the sealed guard, in one transaction; returns the answer the
    first request and every retry of it get."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in changes.items():
        old = getattr(ticket, name)
        if old != value and name not in UNAUDITED:
            before[name] = old.isoformat() if isinstance(old, dt.datetime) else old
            after[name] = value.isoformat() if isinstance(value, dt.datetime) else value
        setattr(ticket, name, value)
    after.update(event_after or {})
    ticket.updated_at = now
    seq = int(ticket.event_count) + 1
    ticket.event_count = seq
    event = _event(ticket, seq, now, actor, action, from_status, before, after, note)
    was_due = bool(ticket.next_due_at)
    answer = ticket_view(ticket, actor).model_copy(update={"version": int(ticket.version or 0) + 1})
    sealed = guard.seal(answer) if guard is not None else None
    try:
        access.apply_transition(
            ticket,
            event,
            [str(x) for x in ticket.lamp_ids],
            lamp_count_delta,
            histories or [],
            guard=sealed,
            extra=extra,
            explain=explain,
        )
    except StaleVersion as exc:  # changed between our read and write: the app gets the ticket as it is now
        exc.extra.update(_current_state(access.get_ticket(ticket.ticket_id), actor))
        raise
    sla_timers.after_change(ticket, None, was_due)
    return answer


def _lamp_lines(
    ticket: TicketModel, actor: Principal, now: dt.datetime, kind: str, summary: str, data: dict[str, Any]
) -> list[LampHistoryModel]:
    """D-A2: the visit recorded against each of the ticket's lamps."""
    return [
        access.history_entry(
            lamp_id,
            now,
            kind,
            ref=ticket.ref,
            actor=actor.sub,
            summary=summary,
            data={"ticket_id": ticket.ticket_id, **data},
        )
        for lamp_id in map(str, ticket.lamp_ids)
    ]


def acknowledge(
    ticket_id: str, body: AcknowledgeIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> TicketOut:
    """The engineer has the ticket (the SLA's response milestone). Reads the school once and keeps what
    travel and check-in need on the ticket."""
    now = now or utcnow()
    ticket = _load(ticket_id, actor, body.version, "acknowledge")
    plan = _plan(
        ticket, lifecycle.Acknowledge(action="acknowledge", version=ticket.version, note=body.note), actor, now
    )
    site = _site_of(access.get_school(ticket.school_id))
    device = visit.device_time(body.device_at, now)
    return _commit(
        ticket,
        actor,
        "acknowledge",
        now,
        guard,
        changes={**plan.changes, "visit_site": site},
        lamp_count_delta=plan.lamp_count_delta,
        from_status=plan.from_status.value,
        note=body.note,
        event_after={"device": device},
    )


def _site(ticket: TicketModel) -> dict[str, Any]:
    """The school as acknowledge kept it; read now for a ticket acknowledged another way."""
    return dict(ticket.visit_site) if ticket.visit_site else _site_of(access.get_school(ticket.school_id))


def start_travel(
    ticket_id: str, body: StartTravelIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> TicketOut:
    """Setting off (depart): the expected arrival is stored and told to the school contact by SMS (D-S7).
    The message is claimed in the ticket's transaction (so a retry never sends it twice), sent after the
    commit, and its result (SNS MessageId or the error) written then."""
    now = now or utcnow()
    ticket = _load(ticket_id, actor, body.version, "depart")
    plan = _plan(
        ticket, lifecycle.Depart(action="depart", version=ticket.version, note=body.note, eta=body.eta), actor, now
    )
    site = _site(ticket)
    seq = int(ticket.event_count) + 1
    phone = visit.e164(str(site.get("contact_phone") or ""))
    message: VisitMessageModel | None = None
    if site.get("contact_phone"):
        message = VisitMessageModel(
            ticket.ticket_id,
            f"eta#{seq}",
            purpose="eta",
            channel="sms",
            to=str(site["contact_phone"]),
            to_name=str(site.get("contact_name") or ""),
            message=visit.eta_message(str(site.get("name") or ""), ticket.ref, body.eta),
            at=now,
            result="pending",
        )
    travel = {
        "started_at": now.isoformat(),
        "eta": body.eta.isoformat(),
        **visit.device_time(body.device_at, now),
        "by": actor.sub,
        "message_key": message.message_key if message else None,
    }
    claimed = message
    answer = _commit(
        ticket,
        actor,
        "depart",
        now,
        guard,
        changes={**plan.changes, "travel": travel, "visit_site": site},
        lamp_count_delta=plan.lamp_count_delta,
        from_status=plan.from_status.value,
        note=body.note,
        extra=(lambda tx: access.add_message(tx, claimed)) if claimed is not None else None,
    )
    if message is not None:
        _send(message, phone)
    return answer


def _send(message: VisitMessageModel, phone: str | None) -> None:
    """Sends a claimed SMS and records the result; a failure to send is recorded, never raised (the
    change it announces is committed)."""
    message_id: str | None = None
    error: str | None = None
    if phone is None:
        error = "the school contact's phone is not a number SMS can reach"
    else:
        try:
            message_id = sms.send(phone, message.message)
        except Exception as exc:  # noqa: BLE001 - any refusal is the delivery result, stored for people to see
            error = str(exc)[:300]
    try:
        access.record_message_result(message, message_id, error)
    except Exception as exc:  # noqa: BLE001 - the SMS went; a lost result stays "pending", logged
        logger.warning("visit message result not stored", message_key=message.message_key, problem=str(exc)[:200])


def check_in(
    ticket_id: str, body: CheckInIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> TicketOut:
    """On site (arrive: the SLA's on-site milestone at the server's time). The position is compared with the
    school's fence; outside is accepted and flagged, never refused."""
    now = now or utcnow()
    ticket = _load(ticket_id, actor, body.version, "arrive")
    plan = _plan(ticket, lifecycle.Arrive(action="arrive", version=ticket.version, note=body.note), actor, now)
    site = _site(ticket)
    fence = visit.check_fence(
        body.lat, body.lon, body.accuracy_m, site.get("latitude"), site.get("longitude"), site.get("fence_m")
    )
    record = {
        "at": now.isoformat(),
        **visit.device_time(body.device_at, now),
        "lat": body.lat,
        "lon": body.lon,
        "accuracy_m": body.accuracy_m,
        **fence.as_json(),
        "by": actor.sub,
    }
    where = "inside the fence" if fence.inside else "OUTSIDE the fence" if fence.inside is False else "no fence"
    return _commit(
        ticket,
        actor,
        "arrive",
        now,
        guard,
        changes={**plan.changes, "check_in": record, "visit_site": site},
        lamp_count_delta=plan.lamp_count_delta,
        from_status=plan.from_status.value,
        note=body.note,
        histories=_lamp_lines(ticket, actor, now, "visit_check_in", f"engineer on site ({where})", fence.as_json()),
    )


def record_work(
    ticket_id: str, body: RecordWorkIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> TicketOut:
    """What was done (resolve): cause, category (D-O3), actions, parts taken from the engineer's van (or the
    location named) in the ticket's own transaction, and a unit swapped (the old unit keeps its history
    and the new one takes its place, D-A2, in the same transaction). A part short in stock is 409
    `insufficient_stock` naming it, and nothing is written."""
    now = now or utcnow()
    ticket = _load(ticket_id, actor, body.version, "resolve")
    summary = f"{body.category.value}: {body.actions}"[:2000]
    plan = _plan(ticket, lifecycle.Resolve(action="resolve", version=ticket.version, note=summary), actor, now)

    # One BatchGetItem for what the work needs beyond the ticket: the van, and for a swap its lamps, school,
    # contract and asset counter.
    needs_van = any(part.location_id is None for part in body.parts)
    asset_counter = f"asset#{ticket.school_id}"
    context = access.get_work_context(
        actor.sub if needs_van else None,
        [str(x) for x in ticket.lamp_ids] if body.swap is not None else (),
        ticket.school_id,
        ticket.contract_id,
        asset_counter,
    )
    lines: list[visit.PartLine] = []
    for index, part in enumerate(body.parts):
        location_id = part.location_id or context.van_id
        if location_id is None:
            raise InvalidInput(
                "you have no van: name the depot the part came from",
                details=[FieldProblem(f"parts.{index}.location_id", "required: you have no van")],
            )
        lines.append(visit.PartLine(part.sku, part.qty, location_id))
    lines = visit.merge_parts(lines)
    lamp_id = str(ticket.lamp_ids[0]) if len(ticket.lamp_ids) == 1 else None

    swap_writes: Callable[[Transaction], None] | None = None
    swap_record: dict[str, Any] | None = None
    if body.swap is not None:
        swap_writes, swap_record = _plan_swap(ticket, body, actor, now, context, asset_counter)
        lamp_id = swap_record["old_lamp_id"]
    movements = [
        stock.Movement(
            MovementKind.CONSUMED,
            line.sku,
            line.qty,
            actor.sub,
            now,
            from_location_id=line.location_id,
            ticket_id=ticket.ticket_id,
            lamp_id=lamp_id,
            device_at=body.device_at,
            note=ticket.ref,
        )
        for line in lines
    ]

    def extra(tx: Transaction) -> None:
        for location_id in dict.fromkeys(line.location_id for line in lines):
            visit_checks.add_location_check(tx, location_id, actor.sub)
        for m in movements:  # stock.add_consumption's writes: a conditional decrement and the log's leg
            stock.add_movement(tx, m)
        if swap_writes is not None:
            swap_writes(tx)

    parts_out = [
        {"sku": line.sku, "qty": line.qty, "location_id": line.location_id, "movement_id": mid}
        for line, mid in zip(lines, [m.movement_id for m in movements], strict=True)
    ]
    device = visit.device_time(body.device_at, now)
    work = {
        "cause": body.cause,
        "category": body.category.value,
        "actions": body.actions,
        "parts": parts_out,
        "swap": swap_record,
        "recorded_at": now.isoformat(),
        **device,
        "by": actor.sub,
    }
    parts_text = ", ".join(f"{p['qty']} x {p['sku']}" for p in parts_out) or "no parts"
    histories = [
        access.history_entry(
            lid,
            now,
            "ticket_resolve",
            ref=ticket.ref,
            actor=actor.sub,
            summary=f"{summary} ({parts_text})"[:500],
            data={"ticket_id": ticket.ticket_id, "status": Status.RESOLVED.value, "work": work},
        )
        for lid in map(str, ticket.lamp_ids)
    ]
    field_of = {f"{line.location_id}:{line.sku}": i for i, line in enumerate(lines)}
    location_fields = {
        part.location_id: f"parts.{i}.location_id" for i, part in enumerate(body.parts) if part.location_id
    }

    def explain(exc: Any) -> None:
        short = exc.failed_with(stock.STOCK_LABEL)
        index = field_of.get(short[0], 0) if short else 0
        stock.raise_for_stock(exc, field=f"parts.{index}.qty")
        visit_checks.raise_for_location(exc, location_fields)
        if body.swap is not None:
            access.raise_for_swap(exc, body.swap.new_serial)

    return _commit(
        ticket,
        actor,
        "resolve",
        now,
        guard,
        changes={**plan.changes, "work": work},
        lamp_count_delta=plan.lamp_count_delta,
        from_status=plan.from_status.value,
        note=summary,
        histories=histories,
        extra=extra if (movements or swap_writes) else None,
        explain=explain,
        event_after={"parts": parts_out, "swap": swap_record},
    )


def _plan_swap(
    ticket: TicketModel,
    body: RecordWorkIn,
    actor: Principal,
    now: dt.datetime,
    context: access.WorkContext,
    counter: str,
) -> tuple[Callable[[Transaction], None], dict[str, Any]]:
    """The unit swap's writes (registry's replace flow, in the work record's transaction): the old unit is
    found by serial among the ticket's lamps; the new one gets the school's next asset number, taken in the
    same transaction (a number taken meanwhile refuses it: 409, send again)."""
    assert body.swap is not None and context.lamps is not None
    assert context.school is not None and context.contract is not None
    lamps, school, contract = context.lamps, context.school, context.contract
    old_id = visit.check_swap(body.swap.old_serial, body.swap.new_serial, {i: lamp.serial for i, lamp in lamps.items()})
    old = lamps[old_id]
    if old.status != assets.LampStatus.IN_SERVICE or old.successor_id:
        raise IllegalTransition(f"lamp '{old.lamp_id}' was already replaced", extra={"successor_id": old.successor_id})
    spec = assets.LampSpec(
        room_id=old.room_id,
        position=old.position,
        model=body.swap.model or old.model,
        serial=body.swap.new_serial,
        batch="",
        configuration=old.configuration,
        installed_on=now.date(),
        accepted_on=now.date(),
    )
    new = build_lamp(spec, school, contract_warranty(contract), context.counter + 1, now)
    new.predecessor_id = old.lamp_id
    data = {"reason": "swapped on a visit (D-S2)", "ticket_id": ticket.ticket_id}
    old_history = access.history_entry(
        old.lamp_id,
        now,
        "replaced",
        ref=new.lamp_id,
        actor=actor.sub,
        summary=f"replaced by {new.asset_no} (serial {new.serial}) on {ticket.ref}",
        data=data,
    )
    new_history = access.history_entry(
        new.lamp_id,
        now,
        "installed_as_replacement",
        ref=old.lamp_id,
        actor=actor.sub,
        summary=f"took the place of {old.asset_no} (serial {old.serial}) on {ticket.ref}",
        data=data,
    )
    record = {
        "old_lamp_id": old.lamp_id,
        "old_serial": old.serial,
        "new_lamp_id": new.lamp_id,
        "new_serial": new.serial,
    }
    read = context.counter
    return (lambda tx: access.add_lamp_swap(tx, old, new, old_history, new_history, counter, read)), record


def check_out(
    ticket_id: str, body: CheckOutIn, actor: Principal, guard: WriteGuard | None, now: dt.datetime | None = None
) -> TicketOut:
    """The engineer leaves, after the school signed (D-O2); the ticket leaves the work list."""
    now = now or utcnow()
    ticket = _load(ticket_id, actor, body.version, None)
    try:
        visit.check_out_allowed(Status(ticket.status), ticket.assignee_id, actor.sub, bool(ticket.check_out))
    except IllegalTransition as exc:
        exc.extra.update(_current_state(ticket, actor))
        raise
    record = {"at": now.isoformat(), **visit.device_time(body.device_at, now), "by": actor.sub}
    milestones = {**dict(ticket.milestones), "checked_out_at": now.isoformat()}
    return _commit(
        ticket,
        actor,
        "check_out",
        now,
        guard,
        changes={"check_out": record, "milestones": milestones},
        from_status=ticket.status,
        note=body.note,
        histories=_lamp_lines(ticket, actor, now, "visit_check_out", "engineer left the site", {}),
    )
