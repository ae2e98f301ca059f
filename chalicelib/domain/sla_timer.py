"""What a ticket's SLA timer does, and when (D-S3, D-S4, issue 10): plain rules, no I/O, no clock.

A ticket's timer is a list of entries in time order, planned when the ticket opens and planned
again, as a new SLA version, when a level change moves its deadlines:

- `notify`: at the start, tell the roles DOMAIN's table names for the level (parts manager for
  yellow and worse, project lead for orange and worse, technical manager for red);
- `breach`: at a milestone's deadline, if the milestone is still unmet, record the breach; when a
  rung of D-S4's ladder falls due at that same moment, the entry also raises the escalation step
  and tells the rung's roles;
- `escalation`: a later rung (a delay after a deadline), if the milestone is still unmet.

Whether an entry still has work to do is a function of the ticket alone (`pending`), so the
timer's conditional writes, the reconciliation and every ticket write agree on it. The earliest
pending entry's time is the ticket's `next_due_at`, the key the reconciliation reads (an index of
what is due, never the table).

Milestones are met in order (a ticket is acknowledged before anyone departs, and resolved only
once acknowledged), and a ticket resolved by phone needs nobody on site: an on-site entry is
pending only while the ticket is neither on site nor resolved.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Milestone = Literal["response", "onsite", "resolution"]
Kind = Literal["notify", "breach", "escalation"]

MILESTONES: tuple[Milestone, ...] = ("response", "onsite", "resolution")
# Ticket attributes: the deadline, the moment it was met (top-level, written with the change that meets
# it: chalicelib.domain.lifecycle.MILESTONE_OF names the action) and the recorded breach.
DUE_ATTR: dict[Milestone, str] = {"response": "response_due", "onsite": "onsite_due", "resolution": "resolution_due"}
MET_ATTR: dict[Milestone, str] = {"response": "acknowledged_at", "onsite": "on_site_at", "resolution": "resolved_at"}
BREACH_ATTR: dict[Milestone, str] = {
    "response": "response_breached_at",
    "onsite": "onsite_breached_at",
    "resolution": "resolution_breached_at",
}
# D-S4's ladder: a ticket starts at line 1 (step 0); each rung raises it.
TIERS: tuple[str, ...] = ("line_1", "line_2", "project_lead", "technical_manager")
MILESTONE_WORDS: dict[Milestone, str] = {"response": "response", "onsite": "on-site", "resolution": "resolution"}


@dataclass(frozen=True)
class Rung:
    """One rung of the ladder for one ticket: due at `due_at` unless `milestone` is met."""

    step: int  # 1 line-2 expert group, 2 project lead, 3 technical manager
    milestone: Milestone
    due_at: dt.datetime
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    key: str  # "notify", a milestone ("onsite"), or "<milestone>.<step>" for a later rung
    kind: Kind
    at: dt.datetime  # when it falls due (UTC)
    milestone: Milestone | None = None
    deadline: dt.datetime | None = None  # the milestone's deadline
    step: int = 0  # the escalation step this entry raises the ticket to; 0: none
    roles: tuple[str, ...] = ()

    @property
    def tier(self) -> str:
        return TIERS[self.step]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "milestone": self.milestone,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "step": self.step,
            "roles": list(self.roles),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            key=data["key"],
            kind=data["kind"],
            at=dt.datetime.fromisoformat(data["at"]),
            milestone=data.get("milestone"),
            deadline=dt.datetime.fromisoformat(data["deadline"]) if data.get("deadline") else None,
            step=int(data.get("step") or 0),
            roles=tuple(data.get("roles") or ()),
        )


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return moment.astimezone(dt.UTC)


def plan_entries(
    deadlines: dict[Milestone, dt.datetime | None],
    rungs: Iterable[Rung],
    open_roles: Sequence[str],
    starts_at: dt.datetime,
) -> list[Entry]:
    """The timer's entries in time order. A rung due at its milestone's deadline rides on the breach
    entry (one write: breach, step and notification at once); several such rungs merge into the
    highest step with all their roles. A rung after a milestone without a deadline never falls due."""
    breach_rungs: dict[Milestone, list[Rung]] = {}
    later: list[Rung] = []
    for rung in rungs:
        deadline = deadlines.get(rung.milestone)
        if deadline is None:
            continue
        (breach_rungs.setdefault(rung.milestone, []) if rung.due_at <= deadline else later).append(rung)
    told = tuple(dict.fromkeys(open_roles))
    entries = [Entry("notify", "notify", _utc(starts_at), roles=told)] if told else []  # blue: nobody to tell
    for milestone in MILESTONES:
        deadline = deadlines.get(milestone)
        if deadline is None:
            continue
        riding = breach_rungs.get(milestone, [])
        entries.append(
            Entry(
                milestone,
                "breach",
                _utc(deadline),
                milestone,
                _utc(deadline),
                max((r.step for r in riding), default=0),
                tuple(dict.fromkeys(role for r in riding for role in r.roles)),
            )
        )
    for rung in later:
        deadline = deadlines[rung.milestone]
        assert deadline is not None
        entries.append(
            Entry(
                f"{rung.milestone}.{rung.step}",
                "escalation",
                _utc(rung.due_at),
                rung.milestone,
                _utc(deadline),
                rung.step,
                tuple(dict.fromkeys(rung.roles)),
            )
        )
    order = {m: i for i, m in enumerate(MILESTONES)}
    return sorted(entries, key=lambda e: (e.at, e.kind != "notify", order.get(e.milestone or "response", 0), e.step))


@dataclass(frozen=True)
class TimerState:
    """What the entries' conditions look at on the ticket."""

    sla_version: int
    notified_version: int = 0
    met: frozenset[str] = frozenset()  # milestones met
    breached: frozenset[str] = frozenset()  # milestones whose breach is recorded
    escalation_step: int = 0
    final: bool = False  # closed, cancelled or merged


def milestone_open(milestone: Milestone, state: TimerState) -> bool:
    """The milestone can still be missed."""
    if milestone == "onsite":
        return "onsite" not in state.met and "resolution" not in state.met  # resolved by phone: nobody need go
    return milestone not in state.met


def pending(entry: Entry, state: TimerState) -> bool:
    """The entry still has something to do (the conditions of its write, chalicelib.models.sla)."""
    if state.final:
        return False
    if entry.kind == "notify":
        return state.notified_version != state.sla_version
    assert entry.milestone is not None
    if not milestone_open(entry.milestone, state):
        return False
    if entry.kind == "breach":
        return entry.milestone not in state.breached
    return state.escalation_step < entry.step


def next_due(entries: Iterable[Entry], state: TimerState) -> dt.datetime | None:
    """When the earliest entry with work left falls due; None when nothing is left."""
    return min((e.at for e in entries if pending(e, state)), default=None)


def due_entries(entries: Iterable[Entry], state: TimerState, now: dt.datetime) -> list[Entry]:
    """The entries due by `now` that still have work, in the timer's order."""
    return [e for e in entries if e.at <= now and pending(e, state)]


def wait_timestamp(moment: dt.datetime) -> str:
    """The time a Step Functions Wait is given: UTC ending in Z, rounded up to the next whole second
    plus one. moto truncates both the timestamp and the wait to whole seconds (so a timer handed the
    exact time fires up to 2 s early) and rejects '+00:00'; on AWS the extra second costs at most a
    second of lateness and guarantees the condition is never checked before the deadline."""
    epoch = math.ceil(_utc(moment).timestamp()) + 1
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_text(moment: dt.datetime) -> str:
    """The fixed-width UTC text `next_due_at` is stored and queried as: it sorts as time does."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


TIER_WORDS: dict[str, str] = {
    "line_1": "line-1 engineers",
    "line_2": "line-2 expert group",
    "project_lead": "project lead",
    "technical_manager": "technical manager",
}


def _clock(moment: dt.datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(
    entry: Entry, ref: str, level: int, colour: str, deadlines: dict[Milestone, dt.datetime | None]
) -> tuple[str, str]:
    """(subject, message) of a notification, in plain words (the subject is SNS-safe ASCII)."""
    if entry.kind == "notify":
        due = "; ".join(
            f"{MILESTONE_WORDS[m]} due {_clock(d)}" for m in MILESTONES if (d := deadlines.get(m)) is not None
        )
        return f"New {colour} ticket {ref}", f"Ticket {ref} was opened as a {colour} fault (level {level}): {due}."
    assert entry.milestone is not None and entry.deadline is not None
    words = MILESTONE_WORDS[entry.milestone]
    what = f"The {words} deadline of ticket {ref} ({colour}, level {level}) passed at {_clock(entry.deadline)}"
    if entry.kind == "breach":
        subject, message = f"SLA breach: {ref} missed its {words} deadline", f"{what} unmet."
    else:
        subject, message = f"SLA escalation: {ref} to the {TIER_WORDS[entry.tier]}", f"{what} and is still unmet."
    if entry.step:
        message += f" Escalated to the {TIER_WORDS[entry.tier]} (D-S4)."
    return subject, message
