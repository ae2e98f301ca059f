"""Service health: version and whether the tables answer."""

from __future__ import annotations

from typing import Any

from chalicelib.models import health_probe
from chalicelib.settings import get_settings


def check_health() -> tuple[bool, dict[str, Any]]:
    settings = get_settings()
    reachable, problem = health_probe.tables_reachable()
    body: dict[str, Any] = {
        "status": "ok" if reachable else "degraded",
        "version": settings.version,
        "stage": settings.stage,
        "tables": {"reachable": reachable},
    }
    if problem:
        body["tables"]["problem"] = problem
    return reachable, body
