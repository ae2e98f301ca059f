"""Scheduled jobs: one EventBridge rule and one Lambda function each, registered in app.py.

A job is the non-HTTP counterpart of a route: it enters through `chalicelib.entry.events.run_entry`
(log keys, failure record), calls one service function and reports what it found. The clock it
hands the service is the schedule's tick (the event's `time`), so a delayed or retried delivery
reports as of its own minute and a test can choose the minute; an event whose time cannot be read
(a hand-made invoke) uses the real clock.

Services load on the first run (lazy_module), like the routes', so `import app` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate

from chalicelib.entry.events import Event, run_entry
from chalicelib.lazy import lazy_module
from chalicelib.observability import logger
from chalicelib.services.ids import utcnow

if TYPE_CHECKING:  # mypy checks the call against the service's signature; at run time it loads on first use
    from chalicelib.services import sweeps
else:
    sweeps = lazy_module("chalicelib.services.sweeps")

blueprint = Blueprint(__name__)

METRICS_NAMESPACE = "LampCare"
OVERDUE_METRIC = "OverdueTickets"


@blueprint.schedule(
    Rate(1, unit=Rate.MINUTES),
    name="overdue_sweep",
    description="Reports tickets past their on-site deadline that nobody has reached yet (D-S3, D-S4)",
)
def overdue_sweep(event: Any) -> Any:
    return run_entry("overdue_sweep", event, report_overdue)


def report_overdue(event: Event) -> dict[str, Any]:
    tick = event.scheduled_time()
    sweep = sweeps.sweep_overdue(clock=(lambda: tick) if tick is not None else utcnow)
    for ticket in sweep.tickets:
        # "fault_level", not "level": Powertools' log lines already use "level" for the log level.
        logger.warning(
            "ticket overdue",
            ticket_id=ticket.ticket_id,
            ref=ticket.ref,
            school_id=ticket.school_id,
            status=ticket.status,
            fault_level=ticket.level,
            assignee_id=ticket.assignee_id,
            onsite_due=ticket.onsite_due.isoformat(),
            overdue_minutes=sweep.overdue_minutes(ticket),
        )
    if sweep.more_in:
        logger.warning("overdue sweep stopped at its page size", page_size=sweep.page_size, statuses=sweep.more_in)
    _put_overdue_metrics(sweep.by_level())
    return sweep.summary()


def _put_overdue_metrics(by_level: dict[int, int]) -> None:
    """One EMF line per level, zeros included, so an alarm on a level sees a data point each
    minute. EMF is a log line that CloudWatch turns into a metric: no AWS call."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    for level, count in by_level.items():
        with single_metric(
            name=OVERDUE_METRIC, unit=MetricUnit.Count, value=count, namespace=METRICS_NAMESPACE
        ) as metric:
            metric.add_dimension(name="level", value=str(level))
