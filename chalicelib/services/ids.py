"""Opaque ids: a type prefix and 64 random bits. Never meaningful, never sequential."""

import datetime as dt
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
