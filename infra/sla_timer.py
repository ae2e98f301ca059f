"""The SLA timer's state machine (issue 10): one ASL file, `sla_timer.asl.json`, the single source.

Deployed, CloudFormation substitutes its `${...}` placeholders (DefinitionSubstitutions) with the
stage's table names; locally (`make run`, the tests, the benchmark) `definition` does the same and
`create_local` creates the machine through the Step Functions API (moto's interpreter does not see
machines created through its CloudFormation), with one SNS topic per supplier role.

moto runs the definition for real with two precautions (../shared/PLATFORM-NOTES.md): its
configuration must say `execute_state_machine` (MOTO_CONFIG), and it compares the UTC deadline with
the process's local time, so the process that hosts moto runs with TZ=UTC (`use_utc`).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

DEFINITION_PATH = Path(__file__).with_name("sla_timer.asl.json")
# placeholder -> the table's base name (chalicelib/models: Meta.table_name before the stage prefix)
TABLES = {"TicketsTable": "tickets", "SlaBreachesTable": "sla-breaches", "NotificationsTable": "notifications"}
MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
ROLE = "arn:aws:iam::123456789012:role/lampcare-sla-timer"  # moto does not check it
MACHINE_NAME = "lampcare-{stage}-sla-timer"
TOPIC_NAME = "lampcare-{stage}-{role}"


def placeholders() -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", DEFINITION_PATH.read_text()))


def definition(table_prefix: str) -> str:
    """The ASL with the stage's table names in place of its placeholders."""
    text = DEFINITION_PATH.read_text()
    for placeholder, base in TABLES.items():
        text = text.replace("${" + placeholder + "}", f"{table_prefix}{base}")
    json.loads(text)  # still JSON
    return text


def use_utc() -> None:
    """moto's Wait compares the deadline (UTC) with the local clock: make the local clock UTC."""
    os.environ["TZ"] = "UTC"
    if hasattr(time, "tzset"):
        time.tzset()


def supplier_roles() -> list[str]:
    from chalicelib.auth import STAFF

    return sorted(role.value for role in STAFF)


def create_local(table_prefix: str, stage: str) -> dict[str, str]:
    """Creates the per-role topics and the state machine on the moto the current environment points at;
    returns the app's settings for them (environment variables)."""
    import boto3

    sns = boto3.client("sns")
    arns = [sns.create_topic(Name=TOPIC_NAME.format(stage=stage, role=role))["TopicArn"] for role in supplier_roles()]
    prefix = arns[0][: arns[0].rindex(":") + 1] + TOPIC_NAME.format(stage=stage, role="")
    machine = boto3.client("stepfunctions").create_state_machine(
        name=MACHINE_NAME.format(stage=stage), definition=definition(table_prefix), roleArn=ROLE, type="STANDARD"
    )["stateMachineArn"]
    return {"LAMPCARE_SLA_STATE_MACHINE_ARN": machine, "LAMPCARE_ROLE_TOPIC_ARN_PREFIX": prefix}


def stop_all(machine_arn: str) -> int:
    """Stops every running timer of the machine (a test's end: nothing may wake up after its moto)."""
    import boto3

    sfn = boto3.client("stepfunctions")
    stopped = 0
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn, statusFilter="RUNNING"):
        for execution in page["executions"]:
            try:
                sfn.stop_execution(executionArn=execution["executionArn"], cause="test over")
                stopped += 1
            except Exception:  # noqa: BLE001, S112 - one that ended meanwhile
                continue
    return stopped
