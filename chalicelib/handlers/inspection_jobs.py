"""The inspection rounds' scheduled jobs (issue 12): overdue visits escalated to the project lead (12.6),
and every plan's horizon kept generated (PLAN-6).

Like handlers/jobs.py: enters through `run_entry`, hands the service the schedule's tick as its clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate

from chalicelib.entry.events import Event, run_entry
from chalicelib.lazy import lazy_module
from chalicelib.observability import logger
from chalicelib.services.ids import utcnow

if TYPE_CHECKING:
    from chalicelib.services import inspections
else:
    inspections = lazy_module("chalicelib.services.inspections")

blueprint = Blueprint(__name__)


@blueprint.schedule(
    Rate(15, unit=Rate.MINUTES),
    name="inspection_escalation",
    description="Tells the project lead of inspection visits gone overdue, once each (issue 12.6, PLAN-7)",
)
def inspection_escalation(event: Any) -> Any:
    return run_entry("inspection_escalation", event, escalate_overdue)


def escalate_overdue(event: Event) -> dict[str, Any]:
    tick = event.scheduled_time()
    run = inspections.escalate_overdue(tick if tick is not None else utcnow())
    for key, result in run.notified.items():
        logger.warning("inspection visit overdue: project lead told", notification=key, result=result)
    if run.more:
        logger.warning("inspection escalation stopped at its page size", page_size=len(run.found))
    return run.summary()


@blueprint.schedule(
    Rate(1, unit=Rate.DAYS),
    name="inspection_planning",
    description="Generates the inspection visits that came into each plan's three-month horizon (issue 12, PLAN-6)",
)
def inspection_planning(event: Any) -> Any:
    return run_entry("inspection_planning", event, extend_plans)


def extend_plans(event: Event) -> dict[str, Any]:
    tick = event.scheduled_time()
    run = inspections.extend_plans(tick if tick is not None else utcnow())
    logger.info("inspection planning", contracts=run.contracts, visits_created=run.created)
    return run.summary()
