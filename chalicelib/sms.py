"""Text messages to a phone number through SNS (issue 11: the school's sign-off code).

The client is made on first use (never at import: moto starts first). Services call this module,
never boto3. Never log a message's text: it may carry a one-time code.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


class SmsRefused(Exception):
    """SNS did not accept the message (a number it cannot send to, a spending limit, throttling)."""


def _sns() -> Any:
    with _lock:
        if "sns" not in _clients:
            import boto3

            _clients["sns"] = boto3.client("sns")
        return _clients["sns"]


def reset_clients() -> None:
    """Tests: the next call makes a client for the current environment (a new moto)."""
    with _lock:
        _clients.clear()


def send(phone_e164: str, message: str) -> str:
    """Sends one transactional SMS; returns its SNS MessageId."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = _sns().publish(
            PhoneNumber=phone_e164,
            Message=message,
            MessageAttributes={
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
            },
        )
    except (ClientError, BotoCoreError) as exc:
        raise SmsRefused(type(exc).__name__) from exc
    return str(answer["MessageId"])
