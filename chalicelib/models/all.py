"""Imports every model module so that MODELS lists every table."""

from chalicelib.models import (  # noqa: F401
    idempotency,
    inspection_items,
    inspections,
    open311,
    rate_limits,
    registry,
    report_aggregates,
    sign_off,
    sla,
    sla_policies,
    stock,
    tickets,
    write_guards,
)
from chalicelib.models.base import MODELS, bind_tables, create_all_tables

__all__ = ["MODELS", "bind_tables", "create_all_tables"]
