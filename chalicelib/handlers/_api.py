"""Where HTTP meets the service: every route is declared through `Api.route`.

`Api.route` records the operation (operationId, roles, body, query and response schemas, status)
so the OpenAPI document is generated from the code and checked against it, and wraps the view in
the request spine: token and role (`chalicelib.entry.auth`), body size and Content-Type (HTTP
only, here), body and query validation (`chalicelib.entry.validation`), an Idempotency-Key
(`chalicelib.entry.idempotency`), and the one mapping of domain errors to a status and the error
shape `{"error": {"code", "message", "details": [{"field", "problem"}]}}` (`chalicelib.entry.failures`).

The steps live in `chalicelib/entry/` so that non-HTTP entry points (handlers/jobs.py, and the
Step Functions tasks, S3 events and stream records to come) reuse them without Chalice's request;
what stays here is what only HTTP has: headers, Content-Type, status codes, Response objects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from importlib import import_module
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response
from chalice.app import ChaliceAuthorizer

from chalicelib import errors
from chalicelib.auth import Principal, Role
from chalicelib.entry import auth, failures, guards, idempotency, validation
from chalicelib.entry.failures import error_body
from chalicelib.entry.jsonable import dumps, json_default
from chalicelib.guards import WriteGuard
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "IDEMPOTENCY_HEADER",
    "IDEMPOTENCY_KEY",
    "FORM",
    "JSON",
    "OPERATIONS",
    "Api",
    "Dialect",
    "Operation",
    "RequestContext",
    "error_body",
    "error_response",
    "json_default",
    "json_response",
    "reset_caches",
    "schema",
]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"  # a browser's plain form post (a page route with JavaScript off)
# Request schemas are named, not imported: pydantic loads on the first request that validates.
SCHEMA_MODULE = "chalicelib.schemas"
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = idempotency.KEY_PATTERN


@dataclass(frozen=True)
class Dialect:
    """A route that speaks another standard's wire format (Open311 GeoReport v2) instead of this API's JSON:
    the media types of its success body (one schema for all: XML is described by OpenAPI `xml` annotations),
    the schema and statuses of its refusals, which it words itself (`render_refusal(error, path params)`),
    and the schema of a form-encoded body its view parses itself."""

    response_types: tuple[str, ...]
    refusal: str  # the refusal body's schema name in chalicelib.schemas
    refusal_statuses: tuple[int, ...]
    render_refusal: Callable[[errors.DomainError, Mapping[str, str]], Response]
    form: str | None = None


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    roles: frozenset[Role] | None  # None: public
    body: str | None = None  # schema name in chalicelib.schemas
    query: str | None = None
    raw_body_types: tuple[str, ...] = ()
    idempotent: bool = False  # takes an Idempotency-Key header: a retried create is answered, not repeated
    guarded: bool = False  # an app's write: Idempotency-Key required, kept in the change's own transaction
    response: str | None = None  # the success body: an `*Out` schema name in chalicelib.schemas, or a media type
    status: int = 200
    html: bool = False  # also answers browsers with a page (Accept: text/html); a body may come as a plain form
    dialect: Dialect | None = None  # another standard's formats and refusals (Open311)


OPERATIONS: list[Operation] = []

# Deployed stages also put a Lambda authorizer in front of every non-public route (handlers/gateway_auth:
# the stage's OIDC issuer by its JWKS, the same verification as the function's), so API Gateway turns
# away bad tokens before a route's Lambda runs. Read when routes are declared (not through settings):
# `chalice package` builds the API from them with the stage's environment.
GATEWAY_AUTHORIZER_ENV = "LAMPCARE_GATEWAY_AUTHORIZER"
GATEWAY_AUTHORIZER_KINDS = ("", "jwt")  # "": none (local, test: no gateway in front)


@lru_cache(maxsize=1)
def gateway_authorizer() -> ChaliceAuthorizer | None:
    kind = os.environ.get(GATEWAY_AUTHORIZER_ENV, "")
    if kind not in GATEWAY_AUTHORIZER_KINDS:
        raise ValueError(f"{GATEWAY_AUTHORIZER_ENV} must be one of {GATEWAY_AUTHORIZER_KINDS}, got {kind!r}")
    if not kind:
        return None
    from chalicelib.handlers import gateway_auth

    authorizer: ChaliceAuthorizer = gateway_auth.jwt_authorizer
    return authorizer


def schema(name: str) -> type[BaseModel]:
    cls: type[BaseModel] = getattr(import_module(SCHEMA_MODULE), name)
    return cls


# The caller of a public route: no roles, so a service that checks roles refuses it everything.
ANONYMOUS = Principal(sub="public", roles=frozenset())


@dataclass
class RequestContext:
    principal: Principal  # ANONYMOUS on a public route
    params: dict[str, str]
    query: Any = None
    body: Any = None
    raw_body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)  # as sent, e.g. a page's `?lang=en`
    form: bool = False  # the body is a plain form post (html routes only): the view reads `raw_body`
    client: str = ""  # the caller's address as the gateway saw it: abuse limits count per address
    guard: WriteGuard | None = None  # a guarded route's Idempotency-Key: the service writes it with the change


def reset_caches() -> None:
    """Tests call this after changing the environment."""
    auth.reset_caches()


def json_response(body: Any, status: int = 200, headers: Mapping[str, str | list[str]] | None = None) -> Response:
    return Response(body=dumps(body), status_code=status, headers={"Content-Type": JSON, **(headers or {})})


def error_response(
    status: int, code: str, message: str, details: Iterable[errors.FieldProblem] = (), **extra: Any
) -> Response:
    return json_response(error_body(code, message, details, **extra), status)


def domain_error_response(exc: errors.DomainError) -> Response:
    status = failures.http_status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, errors.Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
    return json_response(failures.failure_body(exc), status, headers)


def _client_address(context: Mapping[str, Any] | None) -> str:
    identity = (context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


def _media_type(headers: Any) -> str:
    return str(headers.get("content-type") or "").split(";")[0].strip().lower()


def _json_content_type(headers: Any) -> None:
    ctype = _media_type(headers)
    if ctype != JSON:
        raise errors.UnsupportedMediaType(
            f"send the body as {JSON}",
            details=[errors.FieldProblem("Content-Type", f"'{ctype or 'missing'}' is not {JSON}")],
        )


class Api:
    """A Chalice Blueprint whose routes share auth, validation and error handling."""

    def __init__(self, import_name: str):
        self.blueprint = Blueprint(import_name)

    def route(
        self,
        path: str,
        method: str,
        *,
        operation_id: str,
        roles: Iterable[Role] | None,
        body: str | None = None,
        query: str | None = None,
        status: int = 200,
        content_types: list[str] | None = None,
        raw_body: bool = False,
        idempotent: bool = False,
        guarded: bool = False,
        response: str | None = None,
        html: bool = False,
        dialect: Dialect | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        allowed = frozenset(roles) if roles is not None else None
        OPERATIONS.append(
            Operation(
                method,
                path,
                operation_id,
                allowed,
                body,
                query,
                tuple(content_types or ()) if raw_body else (),
                idempotent,
                guarded,
                response,
                status,
                html,
                dialect=dialect,
            )
        )
        blueprint = self.blueprint
        # A route without a body does not care what Content-Type a client sends with it.
        accepted_types = content_types or ([JSON] if body is not None else ["*/*"])
        if html and body is not None:
            accepted_types = [*accepted_types, FORM]

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(view)
            def handler(**params: str) -> Response:
                request = blueprint.current_request
                guard: WriteGuard | None = None
                try:
                    # Token and role before anything about the input is read or disclosed.
                    principal = (
                        auth.require(request.headers.get("authorization"), allowed)
                        if allowed is not None
                        else ANONYMOUS
                    )
                    validation.check_path(params)
                    raw = request.raw_body or b""
                    raw = raw.encode() if isinstance(raw, str) else raw  # chalice types it str | bytes
                    settings = get_settings()
                    validation.check_size(raw, settings.max_upload_bytes if raw_body else settings.max_body_bytes)
                    ctx = RequestContext(
                        principal=principal,
                        params=params,
                        raw_body=raw,
                        headers=dict(request.headers),
                        query_params=dict(request.query_params or {}),
                        client=_client_address(request.context),
                    )
                    if query is not None:
                        ctx.query = validation.parse_query(request.query_params, schema(query))
                    if body is not None and html and _media_type(request.headers) == FORM:
                        ctx.form = True  # answered with a page, so the view reads and checks the form itself
                    elif body is not None:
                        _json_content_type(request.headers)
                        ctx.body = validation.parse_json(raw, schema(body))
                    if guarded:
                        guard = ctx.guard = guards.guard_for(
                            operation_id,
                            principal.sub,
                            request.headers.get(IDEMPOTENCY_HEADER),
                            params,
                            idempotency.canonical(ctx.body, raw),
                            status,
                            IDEMPOTENCY_HEADER,
                        )
                    key = request.headers.get(IDEMPOTENCY_HEADER) if idempotent else None
                    if key is None:
                        result = view(ctx, **params)
                    else:
                        result, replayed = idempotency.run_once(
                            operation_id,
                            principal.sub,
                            key,
                            idempotency.canonical(ctx.body, raw),
                            lambda: view(ctx, **params),
                            key_name=IDEMPOTENCY_HEADER,
                            lambda_context=request.lambda_context,
                        )
                        return json_response(result, status, {"Idempotent-Replayed": "true"} if replayed else None)
                except errors.DomainError as exc:
                    if guard is not None:
                        try:
                            retried = guards.answer_for_retry(guard, exc, IDEMPOTENCY_HEADER)
                        except errors.DomainError as refusal:
                            return domain_error_response(refusal)
                        if retried is not None:
                            return json_response(retried[0], retried[1], {"Idempotent-Replayed": "true"})
                    if dialect is not None:
                        return dialect.render_refusal(exc, params)
                    return domain_error_response(exc)
                if isinstance(result, Response):
                    return result
                return json_response(result, status)

            authorizer = gateway_authorizer() if allowed is not None else None
            options = {"authorizer": authorizer} if authorizer else {}
            blueprint.route(path, methods=[method], content_types=accepted_types, **options)(handler)
            return handler

        return decorate
