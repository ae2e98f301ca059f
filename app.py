"""Wiring only: the Chalice app, its middleware and blueprints."""

from __future__ import annotations

import time
import uuid
from typing import Any

from chalice import Chalice, Response

from chalicelib.handlers import fallback, health, inspection_jobs, jobs, open311, public, registry, sla, tickets
from chalicelib.handlers import inspection_items as inspection_item_handlers
from chalicelib.handlers import inspections as inspection_handlers
from chalicelib.handlers import parts as parts_handlers
from chalicelib.handlers import reports as report_handlers
from chalicelib.handlers import sign_off as sign_off_handlers
from chalicelib.handlers import visit as visit_handlers
from chalicelib.handlers import visit_reports as visit_report_handlers
from chalicelib.handlers._api import error_body, gateway_authorizer, json_response
from chalicelib.media_types import PDF, XLSX_TYPE
from chalicelib.observability import logger, start_tracing_in_lambda

app = Chalice(app_name="lampcare")
app.api.binary_types.extend([PDF, XLSX_TYPE, "application/octet-stream"])

_CHALICE_CODES = {
    "BadRequestError": "bad_request",
    "UnauthorizedError": "unauthenticated",
    "ForbiddenError": "forbidden",
    "NotFoundError": "not_found",
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "RequestTimeoutError": "request_timeout",
    "TooManyRequestsError": "throttled",
    "InternalServerError": "internal_error",
}


@app.middleware("http")
def request_envelope(event: Any, get_response: Any) -> Response:
    """Request id in every log line and response; Chalice's own errors in our error shape."""
    start_tracing_in_lambda()
    request_id = (event.context or {}).get("requestId") or uuid.uuid4().hex
    logger.append_keys(request_id=request_id)
    started = time.perf_counter()
    response: Response = get_response(event)
    if response.status_code >= 400 and isinstance(response.body, dict) and "Code" in response.body:
        code = _CHALICE_CODES.get(response.body["Code"], "error")
        message = "an internal error occurred" if response.status_code >= 500 else response.body.get("Message", "")
        response = json_response(
            error_body(code, message),
            response.status_code,
            {k: v for k, v in response.headers.items() if k.lower() != "content-type"},
        )
    response.headers["X-Request-Id"] = request_id
    logger.info(
        "request",
        method=event.method,
        path=event.context.get("resourcePath"),
        status=response.status_code,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    logger.remove_keys(["request_id"])
    return response


for module in (health, registry, sla, tickets, public, open311):
    app.register_blueprint(module.api.blueprint)
app.register_blueprint(parts_handlers.api.blueprint)  # spare parts and stock (issue 11.6)
app.register_blueprint(visit_handlers.api.blueprint)  # the engineer's visit (issue 11)
app.register_blueprint(visit_report_handlers.api.blueprint)  # a visit's reports (issue 11.7)
app.register_blueprint(sign_off_handlers.api.blueprint)  # visit photos and the school's sign-off (issue 11.4, 11.8)
app.register_blueprint(inspection_handlers.api.blueprint)  # inspection rounds: plans, calendars, visits (issue 12)
app.register_blueprint(inspection_jobs.blueprint)  # overdue inspection visits escalated (issue 12.6)
app.register_blueprint(inspection_item_handlers.api.blueprint)  # inspection checklists, readings, reports (issue 12)
app.register_blueprint(report_handlers.api.blueprint)  # reports (issue 13)
app.register_blueprint(jobs.blueprint)  # scheduled jobs: EventBridge rules, not routes
if gateway_authorizer() is None:  # no API Gateway in front (local, test): unknown paths 404 here
    app.register_blueprint(fallback.blueprint)
else:  # deployed: the gateway's JWT authorizer (its own Lambda, caching its answer per token)
    from chalicelib.handlers import gateway_auth

    app.register_blueprint(gateway_auth.blueprint)
