"""SLA timers' storage (D-S3, D-S4, issue 10): the ticket's timer keys, the conditional writes every
timer entry makes, the breach and notification records, and the due index's one Query.

One definition of each write, used twice: `entry_writes` builds the DynamoDB requests of an entry;
the state machine (infra/sla_timer.asl.json) receives them in its input and sends them as they are,
and the reconciliation (services.sweeps) sends the very same requests itself. So a breach is
recorded exactly once when a timer and the reconciliation both act: whichever writes second finds
the breach recorded and its condition fails. The conditions re-check everything on the ticket at
the moment of the write: the milestone still unmet, the breach not yet recorded (or the step not
yet reached), the SLA version the entry was planned for, a status that is not final. A recorded
breach or escalation adds 1 to the ticket's `version`, so a change based on an earlier read gets
409 stale_version instead of writing over the breach.

`set_timer_keys` runs on every ticket write (access._set_list_keys): the milestones as top-level
attributes (from the ticket's `milestones`), and `next_due_at`/`sla_due`, the sparse `by_next_due`
index's key: present exactly while an entry has work left. The reconciliation Queries that index
for `next_due_at <= now`, so what it reads does not grow with the tickets that are not due.

A notification is claimed (result pending) before it is published and its result stored after. A
writer that dies in between (an execution stopped by a level change, a failed task, a Lambda
timeout) would leave it pending for ever, so the claim also sets `undelivered`, the sparse
`by_undelivered` index's key, and storing the result REMOVEs it: the reconciliation Queries that
index for claims older than a lease (`stale_claims`) and takes each over (`reclaim_notification`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.domain import sla_timer
from chalicelib.domain.lifecycle import FINAL_STATES, Status
from chalicelib.domain.sla_timer import BREACH_ATTR, MET_ATTR, Entry, TimerState
from chalicelib.models.base import bind_tables, register
from chalicelib.models.tickets import TicketModel

DUE = "due"  # the by_next_due index's one hash key: a ticket is in the index while something is due
CONDITION_FAILED = "ConditionalCheckFailedException"
UNDELIVERED = "pending"  # the by_undelivered index's one hash key: a claim is in the index until its result is stored
_DATETIME = UTCDateTimeAttribute()


@register
class SlaRecordModel(Model):
    """A breach (`kind` breach: record_key is the milestone) or an escalation (`kind` escalation:
    "<milestone>.<step>") for reports (issue 10.7). Written once per ticket and entry by the timer or
    the reconciliation (merged with if_not_exists: a retry cannot change it); `met_at` and
    `lateness_seconds` are added by the change that finally meets a breached milestone."""

    class Meta:
        table_name = "sla-breaches"

    ticket_id = UnicodeAttribute(hash_key=True)
    record_key = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    milestone = UnicodeAttribute()
    ref = UnicodeAttribute(default="")
    school_id = UnicodeAttribute(default="")
    contract_id = UnicodeAttribute(default="")
    level = NumberAttribute()
    sla_version = NumberAttribute()
    deadline = UnicodeAttribute()  # ISO UTC (sla_timer.due_text)
    due_at = UnicodeAttribute()  # when the entry fell due: the deadline, or deadline + the rung's delay
    month = UnicodeAttribute()  # "2026-11": the deadline's UTC month, for monthly reports
    escalation_step = NumberAttribute(default=0)
    tier = UnicodeAttribute(default="line_1")
    roles = ListAttribute(of=UnicodeAttribute, default=list)
    recorded_at = UnicodeAttribute(null=True)  # ISO; Step Functions' clock when the timer recorded it
    recorded_by = UnicodeAttribute(null=True)  # "timer" or "reconciliation"
    met_at = UnicodeAttribute(null=True)
    lateness_seconds = NumberAttribute(null=True)  # met_at - deadline


class NotificationsByUndelivered(GlobalSecondaryIndex["NotificationModel"]):
    """Claims whose delivery result is not stored yet, oldest claim first. Sparse: `undelivered` is set
    by the claim and REMOVEd with the result (store_delivery, the state machine's StoreDelivery and
    StoreFailure), so in normal running the index is empty but for the claims being sent right now.
    One hash key: its writes are the claims (a few per second at most); shard it if that ever grows."""

    class Meta:
        index_name = "by_undelivered"
        projection = KeysOnlyProjection()

    undelivered = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)  # the claim's time


@register
class NotificationModel(Model):
    """Every notification sent about a ticket (issue 10.6): who (role), what, when, channel and the
    delivery result. Claimed before it is sent (conditional put), so each is sent at most once per
    ticket: `open.<role>` when the ticket opens (a level change tells only roles not yet told),
    `<entry>.<role>` for a breach or escalation."""

    class Meta:
        table_name = "notifications"

    ticket_id = UnicodeAttribute(hash_key=True)
    notification_key = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute()  # opened, breach, escalation
    entry_key = UnicodeAttribute()
    role = UnicodeAttribute()
    channel = UnicodeAttribute(default="sns")
    topic_arn = UnicodeAttribute(default="")
    subject = UnicodeAttribute(default="")
    message = UnicodeAttribute(default="")
    level = NumberAttribute(default=0)
    sla_version = NumberAttribute(default=0)
    school_id = UnicodeAttribute(default="")  # for the SNS message attributes when the claim is taken over
    at = UnicodeAttribute(null=True)  # ISO, when it was claimed (or last taken over)
    result = UnicodeAttribute(default="pending")  # pending, sent, failed
    message_id = UnicodeAttribute(null=True)  # SNS MessageId when sent
    error = UnicodeAttribute(null=True)  # why it was not delivered
    undelivered = UnicodeAttribute(null=True)  # UNDELIVERED from the claim until the result is stored

    by_undelivered = NotificationsByUndelivered()


# ---- the ticket's timer keys ------------------------------------------------------------------------


def _instant(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def plan_of(ticket: TicketModel) -> list[Entry]:
    return [Entry.from_json(e) for e in (ticket.sla_plan or [])]


def timer_state(ticket: TicketModel) -> TimerState:
    return TimerState(
        sla_version=int(ticket.sla_version or 0),
        notified_version=int(ticket.notified_version or 0),
        met=frozenset(m for m, attr in MET_ATTR.items() if getattr(ticket, attr) is not None),
        breached=frozenset(m for m, attr in BREACH_ATTR.items() if getattr(ticket, attr) is not None),
        escalation_step=int(ticket.escalation_step or 0),
        final=Status(ticket.status) in FINAL_STATES,
    )


def newly_met(ticket: TicketModel) -> list[str]:
    """Milestones the ticket's `milestones` record that its top-level attributes do not have yet:
    the ones the change being written meets."""
    recorded = dict(ticket.milestones or {})
    return [m for m, attr in MET_ATTR.items() if recorded.get(attr) and getattr(ticket, attr) is None]


def set_timer_keys(ticket: TicketModel) -> None:
    """Milestones as top-level attributes (the timer's conditions read them) and the due index's key."""
    recorded = dict(ticket.milestones or {})
    for attr in MET_ATTR.values():
        setattr(ticket, attr, _instant(recorded.get(attr)))
    due = sla_timer.next_due(plan_of(ticket), timer_state(ticket)) if ticket.sla_plan else None
    ticket.next_due_at = sla_timer.due_text(due) if due else None
    ticket.sla_due = DUE if due else None


def met_record_updates(ticket: TicketModel, milestones: Sequence[str]) -> list[tuple[SlaRecordModel, list[Action]]]:
    """For each breached milestone this change meets: the breach record's `met_at` and lateness, to
    write in the change's own transaction (no condition: if the record is still being written it is
    merged, sla_timer's record write keeps what is there)."""
    recorded = dict(ticket.milestones or {})
    updates: list[tuple[SlaRecordModel, list[Action]]] = []
    for milestone in milestones:
        breached = getattr(ticket, BREACH_ATTR[milestone])  # type: ignore[index]
        met = _instant(recorded.get(MET_ATTR[milestone]))  # type: ignore[index]
        if breached is None or met is None:
            continue
        updates.append(
            (
                SlaRecordModel(ticket.ticket_id, milestone),
                [
                    SlaRecordModel.met_at.set(sla_timer.due_text(met)),
                    SlaRecordModel.lateness_seconds.set(round((met - breached).total_seconds(), 3)),
                ],
            )
        )
    return updates


# ---- the writes of one entry ------------------------------------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _milestone_open(milestone: str) -> str:
    """sla_timer.milestone_open as a condition."""
    if milestone == "onsite":
        return "attribute_not_exists(#met_onsite) AND attribute_not_exists(#met_resolution)"
    return f"attribute_not_exists(#met_{milestone})"


def _ticket_write(
    entry: Entry, sla_version: int, next_at: dt.datetime | None, *, raise_step: bool | None
) -> dict[str, Any]:
    """The entry's conditional update of the ticket. raise_step: True sets the entry's step (only if
    the ticket is below it), False records a breach without touching a step the ticket has passed,
    None: the entry has no step."""
    names = {"#sla_version": "sla_version", "#status": "status", "#next_due_at": "next_due_at", "#sla_due": "sla_due"}
    values: dict[str, Any] = {
        ":sla_version": _n(sla_version),
        ":closed": _s(Status.CLOSED.value),
        ":cancelled": _s(Status.CANCELLED.value),
        ":merged": _s(Status.MERGED.value),
    }
    conditions = ["#sla_version = :sla_version", "NOT (#status IN (:closed, :cancelled, :merged))"]
    sets: list[str] = []
    if entry.kind == "notify":
        names["#notified_version"] = "notified_version"
        conditions.append("(attribute_not_exists(#notified_version) OR #notified_version <> :sla_version)")
        sets.append("#notified_version = :sla_version")
    else:
        assert entry.milestone is not None and entry.deadline is not None
        for milestone in ("onsite", "resolution") if entry.milestone == "onsite" else (entry.milestone,):
            names[f"#met_{milestone}"] = MET_ATTR[milestone]
        conditions.append(_milestone_open(entry.milestone))
        if entry.kind == "breach":
            names["#breached_at"] = BREACH_ATTR[entry.milestone]
            values[":breached_at"] = _s(_DATETIME.serialize(entry.deadline))  # the breach happened at the deadline
            conditions.append("attribute_not_exists(#breached_at)")
            sets.append("#breached_at = :breached_at")
        if raise_step is not None:
            names["#escalation_step"] = "escalation_step"
            values[":step"] = _n(entry.step)
            if raise_step:
                conditions.append("(attribute_not_exists(#escalation_step) OR #escalation_step < :step)")
                sets.append("#escalation_step = :step")
            else:
                conditions.append("#escalation_step >= :step")
        # A change based on an earlier read must now get stale_version, not write over the breach.
        names["#version"] = "version"
        values[":one"] = _n(1)
        sets.append("#version = #version + :one")
    if next_at is not None:
        values[":next_due_at"] = _s(sla_timer.due_text(next_at))
        values[":due"] = _s(DUE)
        sets += ["#next_due_at = :next_due_at", "#sla_due = :due"]
        update = "SET " + ", ".join(sets)
    else:
        update = "SET " + ", ".join(sets) + " REMOVE #next_due_at, #sla_due"
    return {
        "UpdateExpression": update,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


@dataclass(frozen=True)
class TicketFacts:
    """What the records say about the ticket, as planned."""

    ticket_id: str
    ref: str
    school_id: str
    contract_id: str
    level: int
    sla_version: int


def _record_write(entry: Entry, facts: TicketFacts) -> dict[str, Any]:
    """The breach or escalation record, merged so that a retry or a second writer changes nothing.
    `:recorded_at` and `:recorded_by` are added by the writer (the state machine stamps its own clock)."""
    assert entry.milestone is not None and entry.deadline is not None
    fields: dict[str, dict[str, Any]] = {
        "kind": _s(entry.kind),
        "milestone": _s(entry.milestone),
        "ref": _s(facts.ref),
        "school_id": _s(facts.school_id),
        "contract_id": _s(facts.contract_id),
        "level": _n(facts.level),
        "sla_version": _n(facts.sla_version),
        "deadline": _s(sla_timer.due_text(entry.deadline)),
        "due_at": _s(sla_timer.due_text(entry.at)),
        "month": _s(entry.deadline.astimezone(dt.UTC).strftime("%Y-%m")),
        "escalation_step": _n(entry.step),
        "tier": _s(entry.tier),
        "roles": {"L": [_s(r) for r in entry.roles]},
    }
    names = {f"#{name}": name for name in fields}
    names.update({"#recorded_at": "recorded_at", "#recorded_by": "recorded_by"})
    assignments = [f"#{name} = if_not_exists(#{name}, :{name})" for name in fields]
    assignments += [
        "#recorded_at = if_not_exists(#recorded_at, :recorded_at)",
        "#recorded_by = if_not_exists(#recorded_by, :recorded_by)",
    ]
    return {
        "Key": {"ticket_id": _s(facts.ticket_id), "record_key": _s(entry.key)},
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {f":{name}": value for name, value in fields.items()},
    }


@dataclass(frozen=True)
class Note:
    role: str
    topic_arn: str
    subject: str
    message: str


def notification_key(entry: Entry, role: str) -> str:
    return f"open.{role}" if entry.kind == "notify" else f"{entry.key}.{role}"


def sns_attributes(ticket_id: str, school_id: str, role: str, reason: str, level: int) -> dict[str, Any]:
    """The SNS message attributes of a notification (subscribers filter on them)."""
    return {
        "ticket_id": {"DataType": "String", "StringValue": ticket_id},
        "school_id": {"DataType": "String", "StringValue": school_id or "-"},
        "role": {"DataType": "String", "StringValue": role},
        "reason": {"DataType": "String", "StringValue": reason},
        "level": {"DataType": "Number", "StringValue": str(level)},
    }


def _note(entry: Entry, facts: TicketFacts, note: Note) -> dict[str, Any]:
    key = {"ticket_id": _s(facts.ticket_id), "notification_key": _s(notification_key(entry, note.role))}
    reason = {"notify": "opened", "breach": "breach", "escalation": "escalation"}[entry.kind]
    item = {
        **key,
        "reason": _s(reason),
        "entry_key": _s(entry.key),
        "role": _s(note.role),
        "channel": _s("sns"),
        "topic_arn": _s(note.topic_arn),
        "subject": _s(note.subject[:99]),
        "message": _s(note.message),
        "level": _n(facts.level),
        "sla_version": _n(facts.sla_version),
        "school_id": _s(facts.school_id),
        "result": _s("pending"),
        "undelivered": _s(UNDELIVERED),  # in by_undelivered until the result is stored
    }
    return {
        "topic_arn": note.topic_arn,
        "subject": note.subject[:99],  # SNS: under 100 characters
        "message": note.message,
        "attributes": sns_attributes(facts.ticket_id, facts.school_id, note.role, reason, facts.level),
        "key": key,
        "item": item,
    }


def entry_writes(
    entry: Entry, next_at: dt.datetime | None, facts: TicketFacts, notes: Sequence[Note]
) -> dict[str, Any]:
    """Everything one entry writes, as the state machine's input holds it (and the reconciliation
    sends it): `write` on the ticket; for a breach riding a rung, `write_keeping_step` (tried when
    `write` is refused: the breach is still recorded if the ticket is already past the step, but
    nobody is told again); `record` for a breach or escalation; `notify`: one item per role."""
    has_step = entry.kind != "notify" and entry.step > 0
    return {
        "key": entry.key,
        "kind": entry.kind,
        "wait_until": sla_timer.wait_timestamp(entry.at),
        "write": _ticket_write(entry, facts.sla_version, next_at, raise_step=True if has_step else None),
        "write_keeping_step": (
            _ticket_write(entry, facts.sla_version, next_at, raise_step=False)
            if entry.kind == "breach" and has_step
            else None
        ),
        "record": _record_write(entry, facts) if entry.kind != "notify" else None,
        "notify": [_note(entry, facts, n) for n in notes],
    }


# ---- sending the writes (the reconciliation; the state machine sends the same requests) -------------


def _client() -> Any:
    bind_tables()
    return TicketModel._get_connection().connection.client


def _refused(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == CONDITION_FAILED)


def try_ticket_write(ticket_id: str, write: dict[str, Any]) -> bool:
    """Sends a ticket write; False when its condition refused it (nothing to do)."""
    try:
        _client().update_item(TableName=TicketModel.Meta.table_name, Key={"ticket_id": _s(ticket_id)}, **write)
    except ClientError as exc:
        if _refused(exc):
            return False
        raise
    return True


def write_record(record: dict[str, Any], recorded_at: dt.datetime, recorded_by: str) -> None:
    values = {
        **record["ExpressionAttributeValues"],
        ":recorded_at": _s(sla_timer.due_text(recorded_at)),
        ":recorded_by": _s(recorded_by),
    }
    _client().update_item(TableName=SlaRecordModel.Meta.table_name, **{**record, "ExpressionAttributeValues": values})


def claim_notification(item: dict[str, Any], at: dt.datetime) -> bool:
    """False when this notification was claimed (and so sent) before."""
    try:
        _client().put_item(
            TableName=NotificationModel.Meta.table_name,
            Item={**item, "at": _s(sla_timer.due_text(at))},
            ConditionExpression="attribute_not_exists(ticket_id)",
        )
    except ClientError as exc:
        if _refused(exc):
            return False
        raise
    return True


def store_delivery(key: dict[str, Any], *, message_id: str | None = None, error: str | None = None) -> None:
    """The delivery result; the claim leaves the by_undelivered index (nothing left to recover)."""
    if message_id is not None:
        update, values = "SET #result = :r, #message_id = :m", {":r": _s("sent"), ":m": _s(message_id)}
        names = {"#result": "result", "#message_id": "message_id"}
    else:
        update, values = "SET #result = :r, #error = :e", {":r": _s("failed"), ":e": _s(error or "unknown error")}
        names = {"#result": "result", "#error": "error"}
    update += " REMOVE #undelivered"
    names["#undelivered"] = "undelivered"
    _client().update_item(
        TableName=NotificationModel.Meta.table_name,
        Key=key,
        UpdateExpression=update,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def reclaim_notification(ticket_id: str, key: str, claimed_at: str, at: dt.datetime) -> bool:
    """Takes over a claim whose writer has not stored a result: only if it is still pending with the
    claim time read (`claimed_at`), so of several reconciliations one wins and a claim taken over is
    not taken again before its new lease runs out. False when refused (delivered or taken meanwhile)."""
    try:
        _client().update_item(
            TableName=NotificationModel.Meta.table_name,
            Key={"ticket_id": _s(ticket_id), "notification_key": _s(key)},
            UpdateExpression="SET #at = :at",
            ConditionExpression="#result = :pending AND #at = :claimed_at AND attribute_exists(#undelivered)",
            ExpressionAttributeNames={"#at": "at", "#result": "result", "#undelivered": "undelivered"},
            ExpressionAttributeValues={
                ":at": _s(sla_timer.due_text(at)),
                ":pending": _s("pending"),
                ":claimed_at": _s(claimed_at),
            },
        )
    except ClientError as exc:
        if _refused(exc):
            return False
        raise
    return True


def repair_next_due(ticket: TicketModel, expected: str | None) -> bool:
    """Puts the due index's key right when an entry's write set it from the plan and a later change
    made that stale (e.g. a milestone met meanwhile). Only if the ticket is still as it was read (its
    version and due key): a ticket written meanwhile has its keys recomputed by that write. No version
    change: it corrects bookkeeping, not the ticket."""
    names = {"#version": "version", "#next_due_at": "next_due_at", "#sla_due": "sla_due"}
    values: dict[str, Any] = {":version": _n(int(ticket.version or 0))}
    condition = "#version = :version AND " + (
        "#next_due_at = :expected" if expected else "attribute_not_exists(#next_due_at)"
    )
    if expected:
        values[":expected"] = _s(expected)
    if ticket.next_due_at:
        values.update({":next_due_at": _s(ticket.next_due_at), ":due": _s(DUE)})
        update = "SET #next_due_at = :next_due_at, #sla_due = :due"
    else:
        update = "REMOVE #next_due_at, #sla_due"
    return try_ticket_write(
        ticket.ticket_id,
        {
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        },
    )


# ---- reads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuePage:
    ticket_ids: list[str]  # earliest due first, at most the page size
    more: bool  # further tickets are due beyond this page: the next run sees them


def due_tickets(now: dt.datetime, *, limit: int) -> DuePage:
    """Tickets with an entry due by `now`: one Query on the sparse by_next_due index (keys only), so
    tickets not due are never read. Asks for one more than `limit` to tell whether more are waiting."""
    bind_tables()
    found = list(
        TicketModel.by_next_due.query(
            DUE, TicketModel.next_due_at <= sla_timer.due_text(now), limit=limit + 1, page_size=limit + 1
        )
    )
    return DuePage([t.ticket_id for t in found[:limit]], len(found) > limit)


def tickets_with_timers(*, page_size: int = 500) -> list[str]:
    """Every ticket with an entry still to do, due or not (re-arming timers after a local restart)."""
    bind_tables()
    return [t.ticket_id for t in TicketModel.by_next_due.query(DUE, page_size=page_size)]


def stale_claims(claimed_by: dt.datetime, *, limit: int) -> list[tuple[str, str]]:
    """(ticket_id, notification_key) of the claims made by `claimed_by` whose result is not stored, oldest
    first: one Query on the sparse by_undelivered index (keys only), so delivered notifications are
    never read."""
    bind_tables()
    found = NotificationModel.by_undelivered.query(
        UNDELIVERED, NotificationModel.at <= sla_timer.due_text(claimed_by), limit=limit, page_size=limit
    )
    return [(n.ticket_id, n.notification_key) for n in found]


def get_notification_consistent(ticket_id: str, key: str) -> NotificationModel | None:
    bind_tables()
    try:
        return NotificationModel.get(ticket_id, key, consistent_read=True)
    except NotificationModel.DoesNotExist:
        return None


def get_ticket_consistent(ticket_id: str) -> TicketModel | None:
    bind_tables()
    try:
        return TicketModel.get(ticket_id, consistent_read=True)
    except TicketModel.DoesNotExist:
        return None


def records_of(ticket_id: str) -> list[SlaRecordModel]:
    bind_tables()
    return list(SlaRecordModel.query(ticket_id))


def notifications_of(ticket_id: str) -> list[NotificationModel]:
    bind_tables()
    return list(NotificationModel.query(ticket_id))
