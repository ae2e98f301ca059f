"""GET /health: no auth, for load balancers and the mobile app's connectivity check."""

from __future__ import annotations

from typing import Any

from chalicelib.handlers._api import Api, RequestContext, json_response
from chalicelib.services.health import check_health

api = Api(__name__)


@api.route("/health", "GET", operation_id="getHealth", response="HealthOut", roles=None)
def get_health(ctx: RequestContext) -> Any:
    """Version and whether the tables answer. No auth."""
    reachable, body = check_health()
    return json_response(body, 200 if reachable else 503)
