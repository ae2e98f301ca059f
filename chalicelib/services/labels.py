"""Printable QR label sheets (placeholder until the label helper lands)."""

from __future__ import annotations


def label_sheet(school_id: str, room_id: str | None) -> tuple[bytes, str]:
    raise NotImplementedError
