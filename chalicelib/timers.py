"""The AWS side of SLA timers (issue 10): Step Functions executions and SNS topics.

One Standard execution per ticket and SLA version, named `sla-<ticket_id>-v<sla_version>`: a start
retried with the same input is answered with the same execution, and a name is never reused for
another input, so a timer cannot be started twice for one version. Stopping one only saves its
cost: its writes are conditional on the ticket's SLA version and milestones
(chalicelib/models/sla.py), so a stopped or stale timer changes nothing either way.

Clients are made on first use (never at import: moto starts first, and `import app` stays cheap).
With no state machine configured (LAMPCARE_SLA_STATE_MACHINE_ARN empty: unit and most functional
tests), starting and stopping do nothing. Services call this module, never boto3.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from chalicelib.observability import logger
from chalicelib.settings import get_settings

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def _client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            import boto3

            _clients[service] = boto3.client(service)
        return _clients[service]


def reset_clients() -> None:
    """Tests: the next call makes clients for the current environment (a new moto)."""
    with _lock:
        _clients.clear()


def execution_name(ticket_id: str, sla_version: int) -> str:
    """At most 80 characters of [A-Za-z0-9-_] (ticket ids are "t_" + hex)."""
    return f"sla-{ticket_id}-v{sla_version}"[:80]


def enabled() -> bool:
    return bool(get_settings().sla_state_machine_arn)


def execution_arn(ticket_id: str, sla_version: int) -> str:
    machine = get_settings().sla_state_machine_arn
    return machine.replace(":stateMachine:", ":execution:", 1) + ":" + execution_name(ticket_id, sla_version)


def start(ticket_id: str, sla_version: int, payload: dict[str, Any]) -> str | None:
    """Starts the ticket's timer for this version; returns its execution ARN (None: timers are off).
    A timer already running with this input is the same execution; one that ran already is
    reported by AWS as ExecutionAlreadyExists and counts as started (its name is its version)."""
    machine = get_settings().sla_state_machine_arn
    if not machine:
        return None
    from botocore.exceptions import ClientError

    try:
        answer = _client("stepfunctions").start_execution(
            stateMachineArn=machine, name=execution_name(ticket_id, sla_version), input=json.dumps(payload)
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return execution_arn(ticket_id, sla_version)
        raise
    return str(answer["executionArn"])


def stop(ticket_id: str, sla_version: int, cause: str) -> None:
    """Stops a timer that has nothing left to do. Errors are logged and ignored: it may have ended, or
    (on moto) have just started; either way its conditional writes keep it harmless."""
    if not enabled():
        return
    try:
        _client("stepfunctions").stop_execution(executionArn=execution_arn(ticket_id, sla_version), cause=cause)
    except Exception as exc:  # noqa: BLE001 - a saving, never a failure of the change that asked for it
        logger.info("sla timer not stopped", ticket_id=ticket_id, sla_version=sla_version, problem=str(exc)[:200])


def topic_arn(role: str) -> str:
    """The SNS topic of a role's people ("" when no topics are configured)."""
    prefix = get_settings().role_topic_arn_prefix
    return f"{prefix}{role}" if prefix else ""


def publish(topic: str, subject: str, message: str, attributes: dict[str, Any]) -> str:
    """Publishes to a role's topic; returns the SNS MessageId (raises when it cannot be delivered)."""
    if not topic:
        raise RuntimeError("no SNS topic is configured for this role (LAMPCARE_ROLE_TOPIC_ARN_PREFIX)")
    answer = _client("sns").publish(
        TopicArn=topic, Subject=subject[:100], Message=message, MessageAttributes=attributes
    )
    return str(answer["MessageId"])
