"""What a ticket is made of: sources (D-S6), categories (D-O3 plus lamp faults), references."""

from __future__ import annotations

import secrets
from enum import StrEnum


class Source(StrEnum):
    SCHOOL_REPORT = "school_report"
    INSPECTION = "inspection"
    FOLLOW_UP_CALL = "follow_up_call"
    DISPATCHER = "dispatcher"


class Category(StrEnum):
    # D-O3
    OPERATION_ERROR = "operation_error"
    SOFTWARE_ERROR = "software_error"
    CONFIGURATION_ERROR = "configuration_error"
    HARDWARE_FAULT = "hardware_fault"
    # what a teacher sees on a lamp
    NOT_LIT = "not_lit"
    FLICKERING = "flickering"
    DIM = "dim"
    NOISE = "noise"
    PHYSICAL_DAMAGE = "physical_damage"
    CONTROLLER_FAULT = "controller_fault"
    OTHER = "other"


MAX_LAMPS_PER_TICKET = 20  # keeps a ticket's transaction (ticket, event, 2 per lamp) under DynamoDB's 100 items


def ticket_ref(year: int, number: int) -> str:
    """Human reference, read out over the phone: T-2026-000123."""
    return f"T-{year}-{number:06d}"


def new_public_ref() -> str:
    """The reporter's unguessable handle on their ticket (128 random bits)."""
    return secrets.token_urlsafe(16)
