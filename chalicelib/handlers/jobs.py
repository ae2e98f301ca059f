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
RECONCILED_METRIC = "SlaEntriesReconciled"  # should stay 0: each is a timer that did not do its work


@blueprint.schedule(
    Rate(1, unit=Rate.MINUTES),
    name="sla_reconciliation",
    description="Records the SLA breaches and escalations no timer recorded (issue 10, D-S3, D-S4)",
)
def sla_reconciliation(event: Any) -> Any:
    return run_entry("sla_reconciliation", event, reconcile_sla)


def reconcile_sla(event: Event) -> dict[str, Any]:
    tick = event.scheduled_time()
    run = sweeps.reconcile(clock=(lambda: tick) if tick is not None else utcnow)
    for caught in run.caught:
        # "fault_level", not "level": Powertools' log lines already use "level" for the log level.
        logger.warning(
            "sla entry written by the reconciliation",
            ticket_id=caught.ticket_id,
            ref=caught.ref,
            entry=caught.entry,
            kind=caught.kind,
            milestone=caught.milestone,
            fault_level=caught.level,
            due_at=caught.due_at.isoformat(),
            late_seconds=round((run.checked_at - caught.due_at).total_seconds()),
        )
    if run.more:
        logger.warning("sla reconciliation stopped at its page size", page_size=run.page_size)
    logger.info(
        "sla reconciliation",
        due_by=run.bound.isoformat(),
        tickets_due=len(run.tickets_due),
        written=len(run.caught),
        repaired=len(run.repaired),
    )
    _put_metrics(run.by_level())
    return run.summary()


def _put_metrics(by_level: dict[int, int]) -> None:
    """One EMF line per level, zeros included, so an alarm on a level sees a data point each
    minute. EMF is a log line that CloudWatch turns into a metric: no AWS call."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED (make run's console), which single_metric ignores
        return
    for level, count in by_level.items():
        with single_metric(
            name=RECONCILED_METRIC, unit=MetricUnit.Count, value=count, namespace=METRICS_NAMESPACE
        ) as metric:
            metric.add_dimension(name="level", value=str(level))
