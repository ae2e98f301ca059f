"""The ticket's SLA view (`getTicketSla`, issue 10.7): deadlines, milestones met and whether in time,
breaches and escalations with their lateness, the escalation step, every notification.

Three reads: the ticket, its SLA records (one Query) and its notifications (one Query).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.auth import Principal
from chalicelib.domain.lifecycle import Status
from chalicelib.domain.policy import LEVEL_COLOURS
from chalicelib.domain.sla_timer import BREACH_ATTR, DUE_ATTR, MET_ATTR, MILESTONES, TIERS
from chalicelib.models import sla as store
from chalicelib.schemas_sla import SlaMilestoneOut, SlaNotificationOut, SlaRecordOut, TicketSlaViewOut
from chalicelib.services.ids import utcnow
from chalicelib.services.tickets import STORE, TicketStore, _can_read, _find


def _when(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _seconds(delta: dt.timedelta) -> float:
    return round(delta.total_seconds(), 3)


def ticket_sla(
    ticket_id: str, actor: Principal, now: dt.datetime | None = None, store_: TicketStore = STORE
) -> TicketSlaViewOut:
    now = now or utcnow()
    ticket = _find(ticket_id, store_)
    _can_read(ticket, actor, ticket_id)
    milestones = []
    recorded = dict(ticket.milestones or {})
    for milestone in MILESTONES:
        deadline = getattr(ticket, DUE_ATTR[milestone], None)
        met_at = _when(recorded.get(MET_ATTR[milestone]))
        late: float | None = None
        if deadline is not None:
            reference = met_at or now
            late = _seconds(reference - deadline) if reference > deadline else None
        milestones.append(
            SlaMilestoneOut(
                milestone=milestone,
                deadline=deadline,
                met_at=met_at,
                met_in_time=None if met_at is None or deadline is None else met_at <= deadline,
                breached=getattr(ticket, BREACH_ATTR[milestone], None) is not None,
                lateness_seconds=late,
            )
        )
    records = sorted(store.records_of(ticket.ticket_id), key=lambda r: (r.due_at, r.record_key))
    notes = sorted(store.notifications_of(ticket.ticket_id), key=lambda n: (n.at or "", n.notification_key))
    step = int(ticket.escalation_step or 0)
    level = int(ticket.level)
    return TicketSlaViewOut(
        ticket_id=ticket.ticket_id,
        ref=ticket.ref,
        status=Status(ticket.status),
        level=level,
        colour=LEVEL_COLOURS[level],
        checked_at=now,
        sla_version=int(ticket.sla_version or 0),
        escalation_step=step,
        tier=TIERS[step],  # type: ignore[arg-type]
        next_due_at=_when(ticket.next_due_at),
        milestones=milestones,
        breaches=[
            SlaRecordOut(
                key=r.record_key,
                kind=r.kind,  # type: ignore[arg-type]
                milestone=r.milestone,  # type: ignore[arg-type]
                level=int(r.level),
                deadline=_when(r.deadline),  # type: ignore[arg-type]
                due_at=_when(r.due_at),  # type: ignore[arg-type]
                recorded_at=_when(r.recorded_at),
                recorded_by=r.recorded_by,  # type: ignore[arg-type]
                escalation_step=int(r.escalation_step or 0),
                tier=r.tier,  # type: ignore[arg-type]
                roles=[str(x) for x in r.roles or []],
                sla_version=int(r.sla_version),
                met_at=_when(r.met_at),
                lateness_seconds=None if r.lateness_seconds is None else float(r.lateness_seconds),
            )
            for r in records
        ],
        notifications=[
            SlaNotificationOut(
                key=n.notification_key,
                reason=n.reason,  # type: ignore[arg-type]
                role=n.role,
                channel=n.channel,
                subject=n.subject,
                message=n.message,
                at=_when(n.at),
                result=n.result,  # type: ignore[arg-type]
                message_id=n.message_id,
                error=n.error,
            )
            for n in notes
        ],
    )
