"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) under /open311/v2, for partner platforms.

The spec's wire format, not this API's: the format is the path's extension (`.json` or `.xml`, XML as
`text/xml`), a POST is form-encoded, success is 200, and a refusal is the spec's array of
`{code, description}` (in XML `<errors><error>...`) with 403 for a missing or bad api_key, 404 for what
does not exist and 400 for anything else. API Gateway takes a path parameter only as a whole segment, so
`.json` and `.xml` are two routes each, and one request is `/requests/{service_request_file}`
("T-2026-000123.xml"). Every route is public except that POST requests needs an api_key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from chalice import Response

from chalicelib import errors
from chalicelib.handlers._api import FORM, Api, Dialect, RequestContext
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.services import open311
else:
    open311 = lazy_module("chalicelib.services.open311")

api = Api(__name__)
BASE = "/open311/v2"
XML = "text/xml"  # the spec's XML media type
JSON = "application/json"
MEDIA = {"json": JSON, "xml": XML}
REFUSALS = (400, 403, 404)


def answer(model: BaseModel, fmt: str, status: int = 200) -> Response:
    """The model in the asked format, UTF-8 as the spec requires (and says in the Content-Type)."""
    if fmt == "xml":
        from chalicelib.handlers import _xml

        body = _xml.render(model)
    else:
        body = json.dumps(model.model_dump(mode="json"), ensure_ascii=False)
    return Response(body=body, status_code=status, headers={"Content-Type": f"{MEDIA[fmt]}; charset=utf-8"})


def refusal_status(exc: errors.DomainError) -> int:
    """The spec: 404 for what does not exist, 403 for a missing or wrong api_key, 400 for anything else."""
    if isinstance(exc, errors.NotFound):
        return 404
    if isinstance(exc, errors.Forbidden | errors.Unauthenticated):
        return 403
    return 400


def refuse(exc: errors.DomainError, fmt: str) -> Response:
    """One error per problem the refusal lists (the spec's errors are an array), else its message."""
    from chalicelib.schemas_open311 import Open311ErrorOut, Open311ErrorsOut

    status = refusal_status(exc)
    described = [f"{d.field}: {d.problem}" for d in exc.details] or [exc.message]
    return answer(Open311ErrorsOut([Open311ErrorOut(code=status, description=d) for d in described]), fmt, status)


def _split_file(name: str) -> tuple[str, str]:
    """ "T-2026-000123.json" -> ("T-2026-000123", "json"); an unknown extension is answered in XML, the
    format every GeoReport v2 endpoint must speak."""
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot and ext in MEDIA else (name, "")


def _dialect(fmt: str | None, *, form: str | None = None) -> Dialect:
    """`fmt` fixed by the path, or None: read from the `{service_request_file}` parameter."""

    def render(exc: errors.DomainError, params: Mapping[str, str]) -> Response:
        return refuse(exc, fmt or _split_file(params.get("service_request_file", ""))[1] or "xml")

    return Dialect(
        response_types=(MEDIA[fmt],) if fmt else (JSON, XML),
        refusal="Open311ErrorsOut",
        refusal_statuses=REFUSALS if form else tuple(s for s in REFUSALS if s != 403),
        render_refusal=render,
        form=form,
    )


def _both(
    name: str, method: str, operation_id: str, response: str, *, query: str | None = None, form: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares `{name}.json` and `{name}.xml` (operationIds suffixed Json and Xml) for one view, which is
    called with the format as `fmt`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        for fmt in MEDIA:

            def bound(ctx: RequestContext, _fmt: str = fmt) -> Any:
                return view(ctx, _fmt)

            bound.__name__ = f"{view.__name__}_{fmt}"
            bound.__doc__ = view.__doc__
            api.route(
                f"{BASE}/{name}.{fmt}",
                method,
                operation_id=f"{operation_id}{fmt.capitalize()}",
                roles=None,
                query=query,
                response=response,
                dialect=_dialect(fmt, form=form),
            )(bound)
        return view

    return decorate


@_both("discovery", "GET", "getOpen311Discovery", "Open311DiscoveryOut")
def get_discovery(ctx: RequestContext, fmt: str) -> Response:
    """Open311 Service Discovery: this endpoint, its formats, how to get an api_key.

    A partner platform's client starts here (wiki.open311.org/Service_Discovery).
    """
    return answer(open311.discovery(), fmt)


@_both("services", "GET", "listOpen311Services", "Open311ServicesOut")
def list_services(ctx: RequestContext, fmt: str) -> Response:
    """Open311 GET Service List: one service per fault a teacher can report.

    `metadata` is false for every service: no service definition to fetch, no attributes to send.
    """
    return answer(open311.services(), fmt)


@_both("requests", "POST", "createOpen311Request", "Open311CreatedListOut", form="Open311RequestIn")
def create_request(ctx: RequestContext, fmt: str) -> Response:
    """Open311 POST Service Request: files a fault on the lamp whose asset number is `address_id`.

    Form-encoded (`application/x-www-form-urlencoded`), with the `api_key` issued to your platform. The
    request becomes a ticket under the rules of a scan of the lamp's label: if the lamp already has an
    open case (or its room has one from the last 30 minutes), the request joins it and the answer is that
    case's `service_request_id`.
    """
    media = str(ctx.headers.get("content-type", "")).split(";")[0].strip().lower()
    if media != FORM:
        raise errors.UnsupportedMediaType(
            f"send the request as {FORM}",
            details=[errors.FieldProblem("Content-Type", f"'{media or 'missing'}' is not {FORM}")],
        )
    try:
        fields = dict(parse_qsl(ctx.raw_body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise errors.MalformedInput("the form is not UTF-8") from exc
    return answer(open311.create_request(fields), fmt)


@_both("requests", "GET", "listOpen311Requests", "Open311RequestsOut", query="Open311RequestsQuery")
def list_requests(ctx: RequestContext, fmt: str) -> Response:
    """Open311 GET Service Requests: newest first, at most 1000, of at most 90 days (the last 90 by default).

    Filters: `service_request_id` (comma delimited; overrides the others), `service_code`, `status` (open,
    closed; comma delimited), `start_date` and `end_date` (W3C date-times) on `requested_datetime`.
    A duplicate merged into another case is listed under that case only.
    """
    return answer(open311.list_requests(ctx.query), fmt)


@api.route(
    f"{BASE}/requests/{{service_request_file}}",
    "GET",
    operation_id="getOpen311Request",
    roles=None,
    response="Open311RequestsOut",
    dialect=_dialect(None),
)
def get_request(ctx: RequestContext, service_request_file: str) -> Response:
    """Open311 GET Service Request: one request, by its id and the format, e.g. T-2026-000123.json.

    A duplicate merged into another case answers with that case's status and notes.
    """
    service_request_id, fmt = _split_file(service_request_file)
    if not fmt:
        raise errors.NotFound("unknown format: end the path in .json or .xml")
    return answer(open311.get_request(service_request_id), fmt)
