"""Records every AWS API call made through botocore in this process.

Used by the test-wide No-Scan guard and by the benchmark's calls-per-request column.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient


@dataclass(eq=False)  # logs are told apart by identity: two empty logs must not be "equal"
class CallLog:
    calls: list[tuple[str, str]] = field(default_factory=list)

    def dynamodb(self) -> list[str]:
        return [op for service, op in self.calls if service == "dynamodb"]

    def scans(self) -> list[str]:
        return [op for op in self.dynamodb() if op in ("Scan", "ParallelScan")]


_lock = threading.Lock()
_active: list[CallLog] = []
_botocore_call = BaseClient._make_api_call
_original = _botocore_call  # what the recorder forwards to
_allow_scan = threading.local()


class ScanForbidden(AssertionError):
    pass


def _recording_call(self: BaseClient, operation_name: str, api_params: Any) -> Any:
    service = self.meta.service_model.service_name
    with _lock:
        for log in _active:
            log.calls.append((service, operation_name))
    return _original(self, operation_name, api_params)


@contextmanager
def record_calls() -> Iterator[CallLog]:
    log = CallLog()
    with _lock:
        _active.append(log)
        BaseClient._make_api_call = _recording_call  # type: ignore[method-assign]
    try:
        yield log
    finally:
        with _lock:
            _active.remove(log)
            if not _active:
                BaseClient._make_api_call = _original  # type: ignore[method-assign]


def _scan_refusing_call(self: BaseClient, operation_name: str, api_params: Any) -> Any:
    if operation_name == "Scan" and not getattr(_allow_scan, "on", False):
        raise ScanForbidden(f"DynamoDB Scan on {api_params.get('TableName')} inside a request path")
    return _botocore_call(self, operation_name, api_params)


def forbid_scans_in_process() -> None:
    """Server mode: any Scan outside `allow_scans()` raises (so the request fails loudly)."""
    global _original
    _original = _scan_refusing_call  # type: ignore[assignment]
    BaseClient._make_api_call = _scan_refusing_call  # type: ignore[method-assign]


@contextmanager
def allow_scans() -> Iterator[None]:
    """For tooling that legitimately reads whole tables (the local snapshot)."""
    _allow_scan.on = True
    try:
        yield
    finally:
        _allow_scan.on = False
