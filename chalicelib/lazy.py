"""Lazy module imports for the HTTP layer.

Lambda pays for every import at cold start. Handlers bind their service modules with
`lazy_module`, so a module (and pydantic, which the services' schemas need) loads on
the first request that uses it, not when `app.py` registers the routes.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
