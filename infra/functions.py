"""Per-function settings added to the packaged template (devtools/package.py), where chalice has put the
functions: the API's handler, its JWT authorizer and one function per scheduled job.

For each function: a dead-letter queue for its asynchronous invocations (the schedules; a synchronous
API call has none), reserved concurrency (the API's from a parameter; a job runs one at a time), its
log group with a retention (Lambda would create one that keeps logs forever), and alarms on errors,
throttles and duration to the operators' topic. For the API: 5xx answers.
"""

from __future__ import annotations

import copy
from typing import Any

from infra.operations import LOG_RETENTION_DAYS, alarm

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
API_HANDLER = "APIHandler"  # chalice's logical id for the function behind every route
JOB_CONCURRENCY = 1  # a scheduled job never overlaps itself; a late tick is retried, then dead-lettered
AUTHORIZER_CONCURRENCY = 10  # one call per token per cache TTL
DURATION_ALARM_SHARE = 0.8  # of the function's timeout
API_5XX_PER_5_MINUTES = 5


def _concurrency(logical: str, properties: dict[str, Any]) -> Any:
    if logical == API_HANDLER:
        return {"Ref": "ApiReservedConcurrency"}
    if "Events" in properties:  # a schedule
        return JOB_CONCURRENCY
    return AUTHORIZER_CONCURRENCY


def finish(template: dict[str, Any]) -> dict[str, Any]:
    """The packaged SAM template with every function's DLQ, concurrency, log group and alarms."""
    done = copy.deepcopy(template)
    resources: dict[str, Any] = done["Resources"]
    functions = {k: v for k, v in resources.items() if v.get("Type") == SERVERLESS_FUNCTION}
    for logical, function in functions.items():
        properties = function["Properties"]
        properties["DeadLetterQueue"] = {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["FunctionDeadLetterQueue", "Arn"]}}
        properties["ReservedConcurrentExecutions"] = _concurrency(logical, properties)
        resources[f"{logical}Logs"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{logical}}}"},
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        }
        dimensions = [{"Name": "FunctionName", "Value": {"Ref": logical}}]
        resources[f"{logical}ErrorsAlarm"] = alarm(
            f"{logical}: invocations that failed (an unhandled exception, a timeout or out of memory)",
            metric={"Namespace": "AWS/Lambda", "MetricName": "Errors", "Dimensions": dimensions},
        )
        resources[f"{logical}ThrottlesAlarm"] = alarm(
            f"{logical}: invocations refused at its reserved concurrency",
            metric={"Namespace": "AWS/Lambda", "MetricName": "Throttles", "Dimensions": dimensions},
        )
        timeout_ms = int(properties.get("Timeout", 3)) * 1000
        duration: dict[str, Any] = {"Namespace": "AWS/Lambda", "MetricName": "Duration", "Dimensions": dimensions}
        if logical == API_HANDLER:  # one slow PDF is no incident; the slowest 1% near the timeout is
            duration["ExtendedStatistic"] = "p99"
        else:
            duration["Statistic"] = "Maximum"
        duration_alarm = alarm(
            f"{logical}: duration near its timeout ({int(DURATION_ALARM_SHARE * 100)}% of {timeout_ms} ms)",
            metric=duration,
            threshold=int(timeout_ms * DURATION_ALARM_SHARE),
        )
        if "ExtendedStatistic" in duration:
            duration_alarm["Properties"].pop("Statistic")
        resources[f"{logical}DurationAlarm"] = duration_alarm
    api = resources.get("RestAPI")
    if api is not None:
        resources["Api5xxAlarm"] = alarm(
            f"The API answered 5xx {API_5XX_PER_5_MINUTES} times or more in 5 minutes",
            metric={
                "Namespace": "AWS/ApiGateway",
                "MetricName": "5XXError",
                "Dimensions": [
                    {"Name": "ApiName", "Value": api["Properties"]["Name"]},
                    {"Name": "Stage", "Value": api["Properties"]["StageName"]},
                ],
            },
            threshold=API_5XX_PER_5_MINUTES,
        )
    return done
