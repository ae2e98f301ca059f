"""Structured JSON logs with a request id; X-Ray tracing only inside Lambda.

Powertools' Logger writes one JSON object per line. The tracer patches botocore (and
so pynamodb's calls) only when running in Lambda: locally and in tests X-Ray stays
silent and costs nothing at import.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

logger = Logger(service="lampcare")
_tracing_started = False


def start_tracing_in_lambda() -> None:
    global _tracing_started
    if _tracing_started:
        return
    _tracing_started = True
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("AWS_XRAY_SDK_ENABLED", "true") != "false":
        from aws_xray_sdk.core import patch

        patch(["botocore"])
