"""The one place where HTTP meets the service: auth, validation, error mapping, JSON.

Every route is declared through `Api.route`, which records its operationId so the
OpenAPI document can be checked against the code, checks the bearer token and role,
validates the body and query string with pydantic, and maps domain errors to the
single error shape `{"error": {"code", "message", "details": [{"field", "problem"}]}}`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache, wraps
from importlib import import_module
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, CognitoUserPoolAuthorizer, Response

from chalicelib import errors
from chalicelib.auth import Principal, Role, TokenVerifier
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

JSON = "application/json"
# Request schemas are named, not imported: pydantic loads on the first request that validates.
SCHEMA_MODULE = "chalicelib.schemas"


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
    response: str | None = None  # the success body: an `*Out` schema name in chalicelib.schemas, or a media type
    status: int = 200


# Deployed stages also put a Cognito authorizer in front of every non-public route, so API Gateway
# turns away bad tokens before a Lambda runs. Read when routes are declared (not through settings):
# `chalice package` builds the API from them with the stage's environment.
GATEWAY_USER_POOL_ARN_ENV = "LAMPCARE_GATEWAY_USER_POOL_ARN"


@lru_cache(maxsize=1)
def gateway_authorizer() -> CognitoUserPoolAuthorizer | None:
    arn = os.environ.get(GATEWAY_USER_POOL_ARN_ENV, "")
    return CognitoUserPoolAuthorizer("lampcare-users", provider_arns=[arn]) if arn else None


def schema(name: str) -> type[BaseModel]:
    cls: type[BaseModel] = getattr(import_module(SCHEMA_MODULE), name)
    return cls


OPERATIONS: list[Operation] = []


@dataclass
class RequestContext:
    principal: Principal | None
    params: dict[str, str]
    query: Any = None
    body: Any = None
    raw_body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """An HTTP-level refusal raised inside this layer (content type, size, syntax)."""

    def __init__(self, status: int, code: str, message: str, details: list[errors.FieldProblem] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


_DOMAIN_STATUS: list[tuple[type[errors.DomainError], int]] = [
    (errors.InvalidQuery, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.UnsupportedMediaType, 415),
    (errors.PayloadTooLarge, 413),
    (errors.ImportRejected, 422),
    (errors.InvalidInput, 422),
]


def error_body(code: str, message: str, details: Iterable[errors.FieldProblem] = (), **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "details": [{"field": d.field, "problem": d.problem} for d in details],
    }
    body.update(extra)
    return {"error": body}


def json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_unset=True)  # `*Out` fields with a default: only when set
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, default=json_default, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def error_response(
    status: int, code: str, message: str, details: Iterable[errors.FieldProblem] = (), **extra: Any
) -> Response:
    return json_response(error_body(code, message, details, **extra), status)


def _domain_error_response(exc: errors.DomainError) -> Response:
    status = next((s for cls, s in _DOMAIN_STATUS if isinstance(exc, cls)), 400)
    extra = dict(exc.extra)
    if isinstance(exc, errors.ImportRejected):
        extra["rows"] = [{"row": r.row, "column": r.column, "problem": r.problem} for r in exc.rows]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response(error_body(exc.code, exc.message, exc.details, **extra), status, headers)


def validation_problems(exc: ValidationError, prefix: str = "") -> list[errors.FieldProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        location = ".".join(str(p) for p in err["loc"]) or "(root)"
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(errors.FieldProblem(field=f"{prefix}{location}", problem=message))
    return problems


@lru_cache(maxsize=1)
def _verifier() -> TokenVerifier:
    s = get_settings()
    return TokenVerifier(
        issuer=s.auth_issuer, audience=s.auth_audience, jwks_url=s.auth_jwks_url, local_key_path=s.auth_local_key_path
    )


def reset_caches() -> None:
    """Tests call this after changing the environment."""
    _verifier.cache_clear()
    get_settings.cache_clear()


def _parse_json(raw: bytes, model: type[BaseModel]) -> BaseModel:
    from pydantic import ValidationError

    if not raw.strip():
        raise ApiError(
            400,
            "malformed_body",
            "the request body is empty; a JSON object is expected",
            [errors.FieldProblem("(body)", "missing")],
        )
    try:
        variant_for = getattr(model, "variant_for", None)
        if variant_for is None:
            return model.model_validate_json(raw)
        # A union told apart by a field (a ticket change by `action`): validate the chosen variant
        # alone, so problems name plain fields; then wrap it in the union's model.
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        variant = variant_for(decoded)
        try:
            parsed = variant.model_validate_json(raw)
        except ValidationError as exc:
            problems = validation_problems(exc)
            missing = getattr(variant, "missing_problem", None)  # e.g. "required for assign"
            if missing is not None:
                problems = [
                    errors.FieldProblem(p.field, missing()) if p.problem == "Field required" else p for p in problems
                ]
            raise ApiError(422, "validation_failed", "the request body is invalid", problems) from exc
        return model.from_variant(parsed)  # type: ignore[attr-defined, no-any-return]
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(
                400,
                "malformed_body",
                "the request body is not valid JSON",
                [errors.FieldProblem("(body)", "not valid JSON")],
            ) from exc
        raise ApiError(422, "validation_failed", "the request body is invalid", validation_problems(exc)) from exc


def _parse_query(params: dict[str, str] | None, model: type[BaseModel]) -> BaseModel:
    from pydantic import ValidationError

    try:
        return model.model_validate(params or {})
    except ValidationError as exc:
        raise ApiError(400, "invalid_query", "the query string is invalid", validation_problems(exc, "query.")) from exc


IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,128}")


def _once(
    operation_id: str, ctx: RequestContext, key: str, lambda_context: Any, run: Callable[[], Any]
) -> tuple[Any, bool]:
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            400,
            "invalid_header",
            f"the {IDEMPOTENCY_HEADER} header is not a valid key",
            [errors.FieldProblem(IDEMPOTENCY_HEADER, "8 to 128 letters, digits or _.:- (a UUID is ideal)")],
        )
    # The parsed body, re-serialised: a retry with other whitespace or key order is the same request.
    canonical = ctx.body.model_dump_json().encode() if ctx.body is not None else ctx.raw_body
    idempotency = import_module("chalicelib.services.idempotency")  # Powertools loads only when a key is sent
    # Stored as JSON, so the replay is what the first answer was.
    return idempotency.once(
        operation_id,
        ctx.principal.sub if ctx.principal else "public",
        key,
        canonical,
        lambda: json.loads(json.dumps(run(), default=json_default)),
        key_name=IDEMPOTENCY_HEADER,
        lambda_context=lambda_context,
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
        response: str | None = None,
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
                response,
                status,
            )
        )
        blueprint = self.blueprint
        # A route without a body does not care what Content-Type a client sends with it.
        accepted_types = content_types or ([JSON] if body is not None else ["*/*"])

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(view)
            def handler(**params: str) -> Response:
                request = blueprint.current_request
                try:
                    principal = None
                    if allowed is not None:
                        principal = _verifier().verify(request.headers.get("authorization"))
                        if not principal.has_any(allowed):
                            raise errors.Forbidden(
                                f"this action needs one of the roles: {', '.join(sorted(allowed))}",
                                extra={"required_roles": sorted(allowed)},
                            )
                    raw = request.raw_body or b""
                    limit = get_settings().max_upload_bytes if raw_body else get_settings().max_body_bytes
                    if len(raw) > limit:
                        raise ApiError(413, "payload_too_large", f"the request body is larger than {limit} bytes")
                    ctx = RequestContext(
                        principal=principal, params=params, raw_body=raw, headers=dict(request.headers)
                    )
                    if query is not None:
                        ctx.query = _parse_query(request.query_params, schema(query))
                    if body is not None:
                        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
                        if ctype != JSON:
                            raise ApiError(
                                415,
                                "unsupported_media_type",
                                f"send the body as {JSON}",
                                [errors.FieldProblem("Content-Type", f"'{ctype or 'missing'}' is not {JSON}")],
                            )
                        ctx.body = _parse_json(raw, schema(body))
                    key = request.headers.get(IDEMPOTENCY_HEADER) if idempotent else None
                    if key is None:
                        result = view(ctx, **params)
                    else:
                        result, replayed = _once(
                            operation_id, ctx, key, request.lambda_context, lambda: view(ctx, **params)
                        )
                        return json_response(result, status, {"Idempotent-Replayed": "true"} if replayed else None)
                except ApiError as exc:
                    return error_response(exc.status, exc.code, exc.message, exc.details)
                except errors.DomainError as exc:
                    return _domain_error_response(exc)
                if isinstance(result, Response):
                    return result
                return json_response(result, status)

            authorizer = gateway_authorizer() if allowed is not None else None
            options = {"authorizer": authorizer} if authorizer else {}
            blueprint.route(path, methods=[method], content_types=accepted_types, **options)(handler)
            return handler

        return decorate
