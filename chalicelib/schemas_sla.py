"""The ticket's SLA view (issue 10, `getTicketSla`): deadlines and milestones, breaches and escalations
as recorded for reports, the escalation step (D-S4) and every notification with its delivery result.

Re-exported by `chalicelib.schemas`, so routes name them like every other schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.lifecycle import Status
from chalicelib.domain.policy import Colour
from chalicelib.domain.types import Level

MilestoneName = Literal["response", "onsite", "resolution"]
Tier = Literal["line_1", "line_2", "project_lead", "technical_manager"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, from_attributes=True)


class SlaMilestoneOut(_Out):
    milestone: MilestoneName = Field(description="response: acknowledged; onsite: checked in on site; resolution.")
    deadline: dt.datetime | None = Field(description="None: the contract sets no target for it.")
    met_at: dt.datetime | None = Field(description="When the change that meets it was made.")
    met_in_time: bool | None = Field(description="None while it is not met.")
    breached: bool = Field(description="A breach is recorded (the deadline passed unmet).")
    lateness_seconds: float | None = Field(
        description="How late it was met, or is so far when unmet and past its deadline; None when not late."
    )


class SlaRecordOut(_Out):
    key: str = Field(description="The milestone for a breach, '<milestone>.<step>' for a later escalation.")
    kind: Literal["breach", "escalation"]
    milestone: MilestoneName
    level: Level = Field(description="The ticket's level when the timer was planned.")
    deadline: dt.datetime
    due_at: dt.datetime = Field(description="When it fell due: the deadline, or the escalation's delay after it.")
    recorded_at: dt.datetime | None = Field(description="When the timer (or the reconciliation) recorded it.")
    recorded_by: Literal["timer", "reconciliation"] | None
    escalation_step: int = Field(ge=0, le=3, description="The step it raised the ticket to; 0 for none.")
    tier: Tier
    roles: list[str] = Field(description="The roles told.")
    sla_version: int
    met_at: dt.datetime | None = Field(description="When the milestone was finally met (breaches).")
    lateness_seconds: float | None = Field(description="met_at - deadline, once met.")


class SlaNotificationOut(_Out):
    key: str = Field(description="'open.<role>' when the ticket opened, '<entry>.<role>' for a breach or escalation.")
    reason: Literal["opened", "breach", "escalation"]
    role: str
    channel: str = Field(description="sns: the role's topic.")
    subject: str
    message: str
    at: dt.datetime | None
    result: Literal["pending", "sent", "failed"]
    message_id: str | None = Field(description="The SNS MessageId when sent.")
    error: str | None = Field(description="Why it was not delivered.")


class TicketSlaViewOut(_Out):
    ticket_id: str
    ref: str
    status: Status
    level: Level
    colour: Colour
    checked_at: dt.datetime = Field(description="The time lateness so far is measured to.")
    sla_version: int = Field(description="+1 each time a level change moved the deadlines (D-S3); 0: no timer.")
    escalation_step: int = Field(
        ge=0, le=3, description="D-S4: 0 line 1, 1 line-2 experts, 2 project lead, 3 technical manager."
    )
    tier: Tier
    next_due_at: dt.datetime | None = Field(description="When the timer next acts; None: nothing left to watch.")
    milestones: list[SlaMilestoneOut]
    breaches: list[SlaRecordOut] = Field(description="Breaches and escalations, oldest first.")
    notifications: list[SlaNotificationOut] = Field(description="Oldest first.")
