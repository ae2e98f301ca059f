"""A path that is no route: 404 `not_found` in the API's error shape, where no gateway answers it first.

Deployed, API Gateway answers an unknown path itself (MISSING_AUTHENTICATION_TOKEN, mapped to our 404 in
infra/resources.py) without running the function. Chalice's local gateway, which `make run` and the
tests' `chalice.test.Client` use, answers its own 403 `{"message": "Missing Authentication Token"}`
before the app or its middleware sees the request, and it matches only declared routes (no greedy
`{proxy+}`). So where no gateway authorizer is configured (local and test stages) the app declares one
catch-all route per path depth; chalice tries literal segments first, so a declared route always wins,
and a known path with an undeclared method stays 405. These routes are no API operation: they are not
in `OPERATIONS` nor in openapi.yaml (`is_fallback` tells them apart).
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.handlers._api import error_response

blueprint = Blueprint(__name__)

MAX_DEPTH = 12  # deeper unknown paths still get chalice's own 403 locally; no route is half as deep
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
PATHS = ["/", *("/" + "/".join(f"{{p{i}}}" for i in range(1, depth + 1)) for depth in range(1, MAX_DEPTH + 1))]


def is_fallback(path: str) -> bool:
    """True for the catch-all routes: no declared route starts with a parameter."""
    return path in PATHS


def _not_found(**segments: str) -> Response:
    path = "/" + "/".join(segments[f"p{i}"] for i in range(1, len(segments) + 1))
    return error_response(404, "not_found", f"no route matches {blueprint.current_request.method} {path}")


for _path in PATHS:
    blueprint.route(_path, methods=METHODS, content_types=["*/*"])(_not_found)
