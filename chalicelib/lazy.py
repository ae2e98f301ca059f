"""Lazy module imports for the HTTP layer.

Lambda pays for every import at cold start. Handlers bind their service modules with
`lazy_module`, so a module (and pydantic, which the services' schemas need) loads on
the first request that uses it, not when `app.py` registers the routes.

The proxy imports through `importlib.import_module`, whose per-module lock makes a thread
that arrives while another is still importing wait for the finished module (the local
server is threaded; importlib's LazyLoader would hand it a half-initialised one).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any


class _LazyModule:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ImportError(f"no module named {name!r}")
    return _LazyModule(name)  # type: ignore[return-value]  # behaves as the module for attribute access
