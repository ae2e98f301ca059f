"""Safe retries for creating things (Powertools idempotency, stored in the idempotency table).

A client that sends an idempotency key with a create can resend it after a timeout: the first
success is stored for a day and replayed to every retry with the same key, instead of creating
a second ticket. Keys are per user and per operation; reusing one for a different body is
refused (422), and a retry that arrives while the first attempt still runs gets 409.
Entry points reach it through `chalicelib.entry.idempotency`, which checks the key and gives
the request its canonical form; this module knows nothing of headers or events.

Known window (Powertools' design): if the function dies after the ticket is written but before
the record is marked complete, a retry after the Lambda timeout creates again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from chalicelib.errors import Conflict, FieldProblem, InvalidInput
from chalicelib.models.idempotency import idempotency_table_name

REMEMBER_SECONDS = 24 * 3600  # a phone offline overnight can still resend


@lru_cache(maxsize=4)
def _store(table_name: str) -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=table_name)


def once(
    operation: str,
    user: str,
    key: str,
    body: bytes,
    run: Callable[[], Any],
    *,
    key_name: str = "Idempotency-Key",
    lambda_context: Any = None,
) -> tuple[Any, bool]:
    """Runs `run` once per (operation, user, key); returns (its JSON-ready result, replayed?).
    `body` is the request in a canonical form: the same request must give the same bytes."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    replayed = False

    def mark_replay(response: Any, idempotent_data: Any) -> Any:  # Powertools' hook protocol names both
        nonlocal replayed
        replayed = True
        return response

    config = IdempotencyConfig(
        event_key_jmespath="[user, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=REMEMBER_SECONDS,
        response_hook=mark_replay,
    )
    if hasattr(lambda_context, "get_remaining_time_in_millis"):
        # An attempt that dies mid-way then blocks its key only until its Lambda's timeout, not for a day.
        config.register_lambda_context(lambda_context)

    @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
        data_keyword_argument="request",
        persistence_store=_store(idempotency_table_name()),
        config=config,
        key_prefix=operation,
    )
    def execute(request: dict[str, str]) -> Any:
        return run()

    request = {"user": user, "key": key, "body": hashlib.sha256(body).hexdigest()}
    try:
        return execute(request=request), replayed
    except IdempotencyValidationError as exc:
        raise InvalidInput(
            f"this {key_name} was already used for a different request",
            details=[FieldProblem(key_name, "already used with another body; send a new key")],
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(f"a request with this {key_name} is still being processed; retry in a few seconds") from exc
