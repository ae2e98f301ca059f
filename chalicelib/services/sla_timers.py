"""A ticket's SLA timer (issue 10, D-S3, D-S4): planned with the ticket's write, started after it.

- `arm` (before a ticket write): plans the timer's entries (chalicelib.domain.sla_timer) from the
  deadlines on the ticket and the policy's ladder and notifications, as SLA version 1 for a new
  ticket and as the next version when a level change changes it (deadlines, ladder, who is told).
  The plan is written with the ticket, in the same transaction.
- `started` / `after_change` (after the write committed): starts the version's Step Functions
  execution (and stops the one it replaces; a stale timer's writes fail their conditions anyway);
  stops the timer when the change left it nothing to do. A failed start never fails the request:
  it is logged, and the reconciliation (services.sweeps) catches the entries that timer missed.
- `catch_up`: the reconciliation's work on one due ticket, through the same writes as the timer.
- `redeliver_stale`: the reconciliation's takeover of notifications claimed and never settled.

The policy's escalation data is read through one adapter, `_ladder`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from chalicelib import timers
from chalicelib.domain import sla_timer
from chalicelib.domain.policy import LEVEL_COLOURS, ServicePolicy
from chalicelib.domain.sla_timer import DUE_ATTR, MILESTONES, Entry, Milestone, Rung
from chalicelib.models import sla as store
from chalicelib.models.access import TicketModel
from chalicelib.observability import logger

RECONCILER = "reconciliation"


# ---- planning ------------------------------------------------------------------------------------------


def _deadlines(ticket: TicketModel) -> dict[Milestone, dt.datetime | None]:
    return {m: getattr(ticket, DUE_ATTR[m], None) for m in MILESTONES}


def _ladder(policy: ServicePolicy, ticket: TicketModel) -> tuple[list[Rung], tuple[str, ...]]:
    """The one adapter to the policy's escalation data (chalicelib.domain.sla): D-S4's rungs for this
    ticket and the roles told when it opens. The timer watches the deadlines on the ticket, however
    they were computed; a rung keeps its delay after its milestone's deadline."""
    from chalicelib.domain.sla import sla_plan
    from chalicelib.services.sla_policies import ticket_facts

    plan = sla_plan(
        policy, int(ticket.level), ticket.reported_at, school=ticket_facts(ticket), category=str(ticket.category)
    )
    on_ticket = _deadlines(ticket)
    rungs = []
    for rung in plan.escalations:
        planned, actual = plan.milestones.due(rung.after), on_ticket.get(rung.after)
        if planned is None or actual is None:
            continue
        rungs.append(Rung(rung.step, rung.after, rung.due_at + (actual - planned), tuple(rung.notify_roles)))
    return rungs, tuple(plan.notify_on_open)


def arm(ticket: TicketModel, policy: ServicePolicy, now: dt.datetime) -> int | None:
    """Plans the timer before the ticket is written. Returns the SLA version it replaces (0 for a new
    ticket) when it planned a new version; None when the plan is the one the ticket has (a triage that
    confirms the level: same deadlines, same ladder, same people to tell)."""
    deadlines = _deadlines(ticket)
    rungs, told = _ladder(policy, ticket)
    previous = int(ticket.sla_version or 0)
    if previous and ticket.sla_plan:
        planned = store.plan_of(ticket)
        opened = next((e.at for e in planned if e.kind == "notify"), now)
        if sla_timer.plan_entries(deadlines, rungs, told, opened) == planned:
            return None
    starts_at = ticket.reported_at if previous == 0 else now
    ticket.sla_version = previous + 1
    ticket.sla_plan = [e.to_json() for e in sla_timer.plan_entries(deadlines, rungs, told, starts_at)]
    return previous


def _facts(ticket: TicketModel) -> store.TicketFacts:
    return store.TicketFacts(
        ticket_id=ticket.ticket_id,
        ref=ticket.ref,
        school_id=ticket.school_id,
        contract_id=ticket.contract_id,
        level=int(ticket.level),
        sla_version=int(ticket.sla_version or 0),
    )


def prepared_entries(ticket: TicketModel) -> list[dict[str, Any]]:
    """Every entry's writes, as the timer's input holds them and the reconciliation sends them."""
    entries = store.plan_of(ticket)
    facts = _facts(ticket)
    colour = LEVEL_COLOURS[facts.level]
    deadlines = _deadlines(ticket)
    prepared = []
    for index, entry in enumerate(entries):
        next_at = entries[index + 1].at if index + 1 < len(entries) else None
        subject, message = sla_timer.describe(entry, ticket.ref, facts.level, colour, deadlines)
        notes = [store.Note(role, timers.topic_arn(role), subject, message) for role in entry.roles]
        prepared.append(store.entry_writes(entry, next_at, facts, notes))
    return prepared


def execution_input(ticket: TicketModel) -> dict[str, Any]:
    return {
        "ticket_id": ticket.ticket_id,
        "sla_version": int(ticket.sla_version or 0),
        "entries": prepared_entries(ticket),
    }


# ---- after the write --------------------------------------------------------------------------------------


def start(ticket: TicketModel) -> None:
    """Starts the timer of the ticket's SLA version; a failure is logged, never raised."""
    if not ticket.sla_plan or not timers.enabled():
        return
    try:
        timers.start(ticket.ticket_id, int(ticket.sla_version or 0), execution_input(ticket))
    except Exception as exc:  # noqa: BLE001 - the reconciliation catches what this timer would have done
        logger.warning(
            "sla timer not started",
            ticket_id=ticket.ticket_id,
            sla_version=ticket.sla_version,
            problem=str(exc)[:300],
        )


def started(ticket: TicketModel) -> None:
    """A new ticket was written."""
    start(ticket)


def after_change(ticket: TicketModel, replaced_version: int | None, was_due: bool) -> None:
    """A change was written. `replaced_version`: what `arm` returned; `was_due`: the ticket had work
    left before the change."""
    if replaced_version is not None:
        if replaced_version:
            timers.stop(ticket.ticket_id, replaced_version, "the deadlines moved (D-S3)")
        start(ticket)
    elif was_due and not ticket.next_due_at and ticket.sla_version:
        timers.stop(ticket.ticket_id, int(ticket.sla_version), "nothing left to watch")


def rearm_all() -> int:
    """Starts the timer of every ticket with work left (a local stack's Step Functions forget their
    executions on restart; DynamoDB does not). Returns how many were started."""
    count = 0
    for ticket_id in store.tickets_with_timers():
        ticket = store.get_ticket_consistent(ticket_id)
        if ticket is not None:
            start(ticket)
            count += 1
    return count


# ---- the reconciliation's work on one ticket ------------------------------------------------------------


@dataclass(frozen=True)
class CaughtUp:
    """One entry the reconciliation wrote because its timer had not (yet) done so."""

    ticket_id: str
    ref: str
    level: int
    entry: str
    kind: str
    milestone: str | None
    due_at: dt.datetime
    kept_step: bool = False  # a breach recorded below a step the ticket had already passed


def send(ticket_id: str, prepared: dict[str, Any], now: dt.datetime) -> str:
    """Sends one entry's writes as the state machine does: the ticket write (or the breach keeping the
    step), the record, then each notification claimed, published and its result stored.
    Returns "written", "kept" or "" (refused: nothing to do)."""
    if not store.try_ticket_write(ticket_id, prepared["write"]):
        other = prepared.get("write_keeping_step")
        if other is None or not store.try_ticket_write(ticket_id, other):
            return ""
        store.write_record(prepared["record"], now, RECONCILER)
        return "kept"
    if prepared["record"] is not None:
        store.write_record(prepared["record"], now, RECONCILER)
    for note in prepared["notify"]:
        if store.claim_notification(note["item"], now):
            _deliver(note["key"], note["topic_arn"], note["subject"], note["message"], note["attributes"])
    return "written"


def _deliver(key: dict[str, Any], topic: str, subject: str, message: str, attributes: dict[str, Any]) -> str:
    """Publishes a claimed notification and stores the result ("sent" or "failed")."""
    try:
        message_id = timers.publish(topic, subject, message, attributes)
    except Exception as exc:  # noqa: BLE001 - an undelivered notification is stored with its error
        store.store_delivery(key, error=f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    store.store_delivery(key, message_id=message_id)
    return "sent"


@dataclass(frozen=True)
class Redelivered:
    """A notification claimed by a writer that never stored its result, sent by the reconciliation."""

    ticket_id: str
    key: str
    role: str
    claimed_at: str
    result: str  # sent or failed


def redeliver_stale(claimed_by: dt.datetime, now: dt.datetime, *, limit: int) -> list[Redelivered]:
    """Sends the notifications claimed by `claimed_by` (now less the lease) whose result was never stored.

    Each is taken over first (conditional: still pending, same claim time), so it is published at most
    once per claim. The trade-off: a writer still alive after the lease (a stalled publish) may publish
    too, so a notification is delivered at least once, and twice only when its writer outlives the
    lease; without the takeover a dead writer's notification would never be delivered."""
    done = []
    for ticket_id, key in store.stale_claims(claimed_by, limit=limit):
        note = store.get_notification_consistent(ticket_id, key)
        if note is None or note.result != "pending" or note.at is None:
            continue  # settled since the index was read
        if not store.reclaim_notification(ticket_id, key, note.at, now):
            continue  # settled or taken over by another run meanwhile
        attributes = store.sns_attributes(ticket_id, note.school_id, note.role, note.reason, int(note.level))
        result = _deliver(
            {"ticket_id": {"S": ticket_id}, "notification_key": {"S": key}},
            note.topic_arn,
            note.subject,
            note.message,
            attributes,
        )
        logger.warning(
            "sla notification taken over by the reconciliation",
            ticket_id=ticket_id,
            notification=key,
            claimed_at=note.at,
            result=result,
        )
        done.append(Redelivered(ticket_id, key, note.role, note.at, result))
    return done


def catch_up(ticket_id: str, bound: dt.datetime, now: dt.datetime) -> tuple[list[CaughtUp], bool]:
    """Writes every entry of the ticket due by `bound` that still has work, through the timer's own
    writes. Returns what it wrote and whether it put the due index's key right (an entry's write had
    set it from the plan, and a change since made that early)."""
    ticket = store.get_ticket_consistent(ticket_id)
    if ticket is None:
        return [], False
    entries = store.plan_of(ticket)
    state = store.timer_state(ticket)
    due = [i for i, e in enumerate(entries) if e.at <= bound and sla_timer.pending(e, state)]
    if not due:
        expected = sla_timer.next_due(entries, state)
        stored = ticket.next_due_at
        ticket.next_due_at = sla_timer.due_text(expected) if expected else None
        return [], stored != ticket.next_due_at and store.repair_next_due(ticket, stored)
    prepared = prepared_entries(ticket)
    caught = []
    for index in due:
        entry: Entry = entries[index]
        outcome = send(ticket_id, prepared[index], now)
        if outcome:
            caught.append(
                CaughtUp(
                    ticket_id,
                    ticket.ref,
                    int(ticket.level),
                    entry.key,
                    entry.kind,
                    entry.milestone,
                    entry.at,
                    outcome == "kept",
                )
            )
    return caught, False
