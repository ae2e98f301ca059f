"""Write guards for the app's writes (issue 11.10): the `Idempotency-Key` of a mobile write is stored in
the SAME DynamoDB transaction as the change it protects, with the answer the first request got. So
there is no window in which a crash between the change and its key could let a retry do it twice
(unlike the Powertools store used by creates, whose record is written apart from the change).

A guarded route's spine builds a `WriteGuard`; the service seals it with its answer (`seal`) and hands
the sealed guard to the model write that commits the change. A retry fails the guard's condition (or
a rule, since the change already happened) and the spine answers with the stored answer instead.
Plain Python: never imports chalice, boto3 or pynamodb.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chalicelib.entry.jsonable import dumps

REMEMBER_SECONDS = 7 * 24 * 3600  # a phone may stay offline for days in a school without signal


@dataclass(frozen=True)
class WriteGuard:
    operation: str  # the route's operationId
    caller: str  # the token's subject: keys are per user
    key: str  # the client's Idempotency-Key
    request_hash: str  # sha256 of the canonical request (path parameters included)
    status: int  # the status a first success answers with

    @property
    def guard_id(self) -> str:
        return f"{self.operation}#{self.caller}#{self.key}"

    def seal(self, answer: Any) -> SealedGuard:
        """The guard with the answer the first request gets, to be written with the change."""
        return SealedGuard(self, dumps(answer))


@dataclass(frozen=True)
class SealedGuard:
    guard: WriteGuard
    answer_json: str


def request_hash(operation: str, params: dict[str, str], canonical_body: bytes) -> str:
    digest = hashlib.sha256(operation.encode())
    for name in sorted(params):
        digest.update(f"\0{name}={params[name]}".encode())
    digest.update(b"\0" + canonical_body)
    return digest.hexdigest()
