"""Renders mobile_api_docs/openapi.yaml from the code: `python -m devtools.openapi [--check]`.

Paths, methods, operationIds, roles, request bodies, query parameters and response bodies
come from the routes themselves (handlers._api.OPERATIONS and the pydantic schemas they
name: `*In`/`*Query` for requests, `*Out` for responses, `ErrorOut` for every refusal), so
they cannot drift; the functional suite validates every response it receives against them.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path
from typing import Any

import yaml

from chalicelib.guards import REMEMBER_SECONDS as GUARD_REMEMBER_SECONDS
from chalicelib.handlers._api import FORM, IDEMPOTENCY_KEY, JSON
from chalicelib.media_types import DOWNLOADS, OCTET_STREAM
from chalicelib.services.idempotency import REMEMBER_SECONDS

SPEC_PATH = Path(__file__).resolve().parent.parent / "mobile_api_docs" / "openapi.yaml"
REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


# Response bodies are the `*Out` models that services return, named by each route
# (`Api.route(response=...)`); nothing about a response's shape is written here.

# Refusals particular to an operation, beyond those every operation of its kind has.
CONFLICTS: dict[str, str] = {
    "createContract": "A contract with this code exists.",
    "createSchool": "A school with this code exists.",
    "createLamp": "A lamp with this serial is registered.",
    "replaceLamp": "The lamp was already replaced, or the new serial is registered.",
    "createTicket": "A lamp of the ticket was replaced meanwhile, or a request with the same Idempotency-Key "
    "is still being processed.",
    "submitPublicReport": "Many reports on this case arrived at the same moment; send the report again.",
    "putSlaPolicy": "`stale_version`: the policy was revised since the `revision` sent (`current_version` names "
    "the current one); reload it and apply the change again.",
    "transitionTicket": "`stale_version` (send `current_version` after reloading) or `illegal_transition` "
    "(the body names `current_status` and `allowed_actions`), or a merge into a closed ticket.",
    "getFaultHandlingReport": "The ticket is a blue (level 1) fault: D-S1 gives a fault handling report to yellow, "
    "orange and red faults only (the fault technical report exists for every level).",
    # parts and stock (issue 11.6)
    "createPart": "A part with this SKU is in the catalogue.",
    "createLocation": "The engineer already has a van.",
    "updatePart": "`stale_version`: the part was edited since the `version` sent (`current_version` names the "
    "current one); reload it and apply the change again.",
    # inspection rounds (issue 12)
    "assignInspectionVisit": "`illegal_transition`: the visit is started, completed or cancelled (`current_status`); "
    "or `stale_version` when the `version` sent is not the current one.",
    "startInspectionVisit": "`illegal_transition`: the visit is not `assigned` (e.g. already started with another "
    "Idempotency-Key; `current_status`), or `stale_version`; a retry with the same key gets the first answer.",
    "moveStock": "`insufficient_stock`: the source holds less than `qty` (the body names `sku`, `location_id` and "
    "`available`; nothing changed).",
    # the engineer's visit (issue 11): every 409 carries the current state (`current_version`, `current_status`, `ticket`)
    "acknowledgeTicket": "`stale_version` (the `version` sent is not the current one) or `illegal_transition` (not "
    "assigned): the body holds `current_version`, `current_status` and the `ticket` as it is now.",
    "startTravel": "`stale_version` or `illegal_transition` (not acknowledged): the body holds `current_version`, "
    "`current_status` and the `ticket` as it is now.",
    "checkIn": "`stale_version` or `illegal_transition` (not en route): the body holds `current_version`, "
    "`current_status` and the `ticket` as it is now.",
    "recordWork": "`insufficient_stock`: a part is short where it was taken from (the body names `sku`, "
    "`location_id` and `available`; `details` name `parts.<i>.qty`; nothing was written); the swap's new serial "
    "is registered already (`swap.new_serial`) or the old unit was replaced meanwhile; `stale_version` or "
    "`illegal_transition` with `current_version`, `current_status` and the `ticket`.",
    "checkOut": "`illegal_transition`: the school has not signed yet (D-O2), or the visit is checked out already; "
    "`stale_version`; the body holds `current_version`, `current_status` and the `ticket` as it is now.",
    # the visit's photos and the school's sign-off (issue 11.4, 11.8)
    "createTicketPhotoUpload": "The ticket is not being worked (not yet assigned, or closed, cancelled or merged).",
    "attachTicketPhoto": "The photo is already attached, or the ticket is not being worked (`current_status`); or "
    "`stale_version`/`write_conflict` when many changes land at once: send it again with the same key.",
    "requestSignOff": "`illegal_transition`: only a resolved ticket is signed off (the body names `current_status` "
    "and `allowed_actions`); `sms_not_sent`: the SMS could not be sent, try again or use `signature`.",
    "signOff": "`sign_off_locked`: 5 wrong codes, request a new code; `sign_off_not_requested`: request a sign-off "
    "first (or it was replaced by a newer request); `illegal_transition` (already signed off, the body names "
    "`current_status`); the code or signature was already used.",
    # inspection checklists, readings and reports (issue 12.3-12.5, 12.7)
    "recordInspectionItem": "`illegal_transition`: the visit is not in progress (start it first, or it is completed; "
    "the body names `current_status`).",
    "requestInspectionSignOff": "`illegal_transition`: the visit is not in progress (`current_status`); "
    "`sms_not_sent`: the SMS could not be sent, try again or use `signature`.",
    "completeInspectionVisit": "`illegal_transition`: the visit is not in progress (`current_status`); "
    "`sign_off_locked` / `sign_off_not_requested` as for signOff; `stale_version` or `write_conflict` when the "
    "visit changed meanwhile: send it again with the same key.",
    "putLightTargets": "`stale_version`: the targets were changed since the `version` sent (`current_version` "
    "names the current one); reload them and apply the change again.",
    "createInspectionPhotoUpload": "`illegal_transition`: the visit is not in progress (`current_status`).",
    "attachInspectionPhoto": "The photo is already attached, or the visit is not in progress (`current_status`); or "
    "`stale_version` when the visit changed meanwhile: send it again with the same key.",
}

# Routes that answer JSON by default and a file on request (`Accept`, or `?format=pdf`): their success lists both.
ALSO_DOWNLOADS: dict[str, str] = {
    "getFaultTechnicalReport": "application/pdf",
    "getFaultHandlingReport": "application/pdf",
    "getInspectionReport": "application/pdf",
}
# Reports (issue 13): JSON by default, a CSV file or an SVG chart on request (`Accept`, or `?format=`).
ALSO_FORMATS: dict[str, tuple[str, ...]] = {
    "getSlaReport": ("text/csv", "image/svg+xml"),
    "getFaultTrends": ("text/csv", "image/svg+xml"),
    "getEngineerReport": ("text/csv", "image/svg+xml"),
    "getPartsReport": ("text/csv", "image/svg+xml"),
    "getSchoolMonthlyReport": ("application/pdf", OCTET_STREAM),
}

ERROR_TEXT = {
    400: "Malformed JSON body, invalid query string or header (`malformed_body`, `invalid_query`, `invalid_header`); "
    "`details` name the field.",
    401: "Missing, expired or invalid bearer token (`unauthenticated`).",
    403: "The caller's role may not do this, or the ticket is someone else's (`forbidden`).",
    404: "The resource in the path, or one the body refers to, does not exist, or to a school's staff belongs to "
    "another school (`not_found`).",
    413: "The body is larger than allowed (`payload_too_large`).",
    415: "Wrong Content-Type (`unsupported_media_type`).",
    422: "The body is well-formed but invalid (`validation_failed`, `invalid_input`, `import_rejected`); "
    "`details` list every field and problem.",
    429: "Throttled by the gateway (`throttled`); retry with exponential backoff and jitter.",
}
ERROR_NAMES = {
    400: "BadRequest",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "NotFound",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "Unprocessable",
    429: "Throttled",
}

INFO_DESCRIPTION = """\
The LampCare API: eye-protection LED lamps in classrooms, their QR labels, and every fault as one
audited case from the teacher's report to the school's sign-off. Read `mobile_api_docs/README.md`
first: authentication, errors, retries, optimistic locking and cursors are explained there.

Every operation lists the roles allowed to call it under `x-roles` (Cognito groups in the token's
`cognito:groups` claim). Rule ids (D-S3, D-O2 ...) refer to the domain requirements.
"""


# ---- assembly ----------------------------------------------------------------------------


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Query parameters are absent rather than null; document the non-null branch."""
    options = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    if len(options) == 1:
        merged = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        merged.update(options[0])
        return merged
    return {k: v for k, v in schema.items() if not (k == "default" and v is None)}


def _lifecycle_table() -> str:
    from chalicelib.domain.lifecycle import ACTIONS

    lines = ["| action | from | to | roles | needs | |", "|---|---|---|---|---|---|"]
    for name, spec in ACTIONS.items():
        sources = ", ".join(sorted(s.value for s in spec.sources))
        target = spec.target.value if spec.target else "(unchanged)"
        roles = ", ".join(sorted(r.value for r in spec.roles)) + (
            " (assignee only for field roles)" if spec.assignee_only else ""
        )
        lines.append(f"| `{name}` | {sources} | {target} | {roles} | {', '.join(spec.requires)} | {spec.summary} |")
    return "\n".join(lines)


def _components(operations: list[Any]) -> dict[str, Any]:
    """Every request and response schema the routes name, in one pass so shared models get one name."""
    from pydantic.json_schema import models_json_schema

    from chalicelib.handlers._api import schema

    dialects = [op.dialect for op in operations if op.dialect]
    requests = sorted({op.body for op in operations if op.body} | {d.form for d in dialects if d.form})
    responses = sorted(
        {op.response for op in operations if op.response and "/" not in op.response}
        | {"ErrorOut"}
        | {d.refusal for d in dialects}
    )
    models = [(schema(n), "validation") for n in requests] + [(schema(n), "serialization") for n in responses]
    _, top = models_json_schema(models, ref_template=REF)
    return _strip_titles(top["$defs"])


def _query_parameters(name: str) -> list[dict[str, Any]]:
    from chalicelib.handlers._api import schema

    model_schema = _strip_titles(schema(name).model_json_schema(ref_template=REF))
    required = set(model_schema.get("required", []))
    return [
        {"name": field, "in": "query", "required": field in required, "schema": _without_null(prop)}
        for field, prop in model_schema["properties"].items()
    ]


def _error_response(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": _ref("ErrorOut")}},
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
    }


def _error(status: int) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{ERROR_NAMES[status]}"}


def _operation(op: Any) -> dict[str, Any]:
    from chalicelib.handlers._api import schema

    operation: dict[str, Any] = {"operationId": op.operation_id, "tags": [op.path.strip("/").split("/")[0]]}
    doc = inspect.cleandoc(_views()[op.operation_id].__doc__ or "")
    summary, _, description = doc.partition("\n")
    operation["summary"] = summary or op.operation_id
    if description.strip():
        operation["description"] = description.strip()
    if op.roles is None:
        operation["security"] = []
        operation["x-roles"] = ["public"]
    else:
        operation["x-roles"] = sorted(r.value for r in op.roles)
    params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in _path_params(op.path)]
    if op.query:
        params += _query_parameters(op.query)
    if op.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": f"Makes a retry safe: the first answer is replayed for {REMEMBER_SECONDS // 3600} h "
                "to every request with the same key from the same user, instead of creating again.",
                "schema": {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
            }
        )
    if op.guarded:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "Required on every write the app makes: a new key (a UUID) per change, the same key on "
                f"every retry of it. The key is stored with the change in one transaction and kept "
                f"{GUARD_REMEMBER_SECONDS // 86400} days; a retry gets the first answer (with `Idempotent-Replayed: "
                "true`) and changes nothing; the key with another request is refused (422).",
                "schema": {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
            }
        )
    if params:
        operation["parameters"] = params
    if op.dialect is not None:
        return _dialect_operation(op, operation)
    if op.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(schema(op.body).__name__)}},
        }
    elif op.raw_body_types:
        # A raw-body route also accepts JSON only to answer it with our own 415. A file is a binary string,
        # so that generated clients (openapi-python-client) take bytes for it.
        operation["requestBody"] = {"required": True, "content": {t: _file(t) for t in op.raw_body_types if t != JSON}}

    status, body = op.status, op.response
    if body is None:
        raise SystemExit(f"{op.operation_id}: its route names no response schema (Api.route(response=...))")
    ok_content = (
        {body: _file(body), **({OCTET_STREAM: _file(OCTET_STREAM)} if body in DOWNLOADS else {})}
        if "/" in body
        else {"application/json": {"schema": _ref(body)}}
    )
    if op.operation_id in ALSO_DOWNLOADS:
        ok_content.update({t: _file(t) for t in (ALSO_DOWNLOADS[op.operation_id], OCTET_STREAM)})
    ok_content.update({t: _file(t) for t in ALSO_FORMATS.get(op.operation_id, ())})
    ok_headers = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    if op.idempotent or op.guarded:
        ok_headers["Idempotent-Replayed"] = {
            "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key.",
            "schema": {"type": "string", "enum": ["true"]},
        }
    responses: dict[str, Any] = {str(status): {"description": "Success.", "content": ok_content, "headers": ok_headers}}
    if op.operation_id == "getHealth":
        responses["503"] = {
            "description": "The tables do not answer.",
            "content": {"application/json": {"schema": _ref("HealthOut")}},
        }
    if op.query or op.body:
        responses["400"] = _error(400)
    if op.roles is not None:
        responses["401"] = _error(401)
        responses["403"] = _error(403)
    refers = op.body and any(f.endswith("_id") for f in schema(op.body).model_fields)
    if _path_params(op.path) or refers or op.operation_id in ALSO_FORMATS:  # a report's scope may not exist
        responses["404"] = _error(404)
    if op.operation_id in CONFLICTS:
        responses["409"] = _error_response(CONFLICTS[op.operation_id])
    if op.body or op.raw_body_types:
        responses["413"] = _error(413)
        responses["415"] = _error(415)
    if op.body or op.raw_body_types or op.query:
        responses["422"] = _error(422)
    responses["429"] = _error(429)
    operation["responses"] = responses
    if op.html:
        _with_pages(op, operation, {ERROR_NAMES[s]: _error_response(ERROR_TEXT[s]) for s in ERROR_NAMES})
    return operation


# Routes declared with `Api.route(..., html=True)` answer a browser (Accept: text/html) with a page.
HTML = "text/html"
PAGE_STATUSES = ("200", "404", "422", "429")  # a page, or a friendly page saying what went wrong


def _with_pages(op: Any, operation: dict[str, Any], components: dict[str, Any]) -> None:
    """Adds what browsers get: text/html beside JSON, and for a body, the plain form post (no script)
    answered by a 303 to the page that follows it."""
    responses = operation["responses"]
    for code in PAGE_STATUSES:
        if code in responses:
            response = responses[code]
            if "$ref" in response:
                response = dict(components[response["$ref"].rsplit("/", 1)[1]])
            page = {"schema": {"type": "string", "contentMediaType": HTML}}
            responses[code] = {**response, "content": {**response["content"], HTML: page}}
    if op.body:
        operation["requestBody"]["content"][FORM] = {"schema": _ref(op.body)}
        responses["303"] = {
            "description": f"A browser's plain form post (`{FORM}`, sent when the page runs no script): "
            "the page that follows the report is at `Location`.",
            "headers": {
                "Location": {"schema": {"type": "string"}},
                "X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"},
            },
        }
    operation["responses"] = dict(sorted(responses.items()))


# Refusals of a route in another standard's format (Api.route(dialect=...)): the statuses GeoReport v2 uses.
DIALECT_REFUSALS = {
    400: "The request cannot be fulfilled: an argument is missing or invalid (one error per problem), or the "
    "service failed.",
    403: "The api_key is missing or invalid.",
    404: "What the path or an argument names does not exist.",
}


def _dialect_operation(op: Any, operation: dict[str, Any]) -> dict[str, Any]:
    """A route in another standard's wire format (Open311): its body is a form, and its answers come in its
    media types, each with the same schema (OpenAPI's `xml` annotations describe the XML), refusals too."""
    dialect = op.dialect

    def answer(description: str, schema_name: str) -> dict[str, Any]:
        content = {t: {"schema": _ref(schema_name)} for t in dialect.response_types}
        headers = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
        return {"description": description, "content": content, "headers": headers}

    if dialect.form:
        operation["requestBody"] = {"required": True, "content": {FORM: {"schema": _ref(dialect.form)}}}
    responses = {str(op.status): answer("Success.", op.response)}
    for status in dialect.refusal_statuses:
        responses[str(status)] = answer(DIALECT_REFUSALS[status], dialect.refusal)
    operation["responses"] = responses
    return operation


def _file(media_type: str) -> dict[str, Any]:
    return {"schema": {"type": "string", "format": "binary", "contentMediaType": media_type}}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _views() -> dict[str, Any]:
    """operationId -> the view function, whose docstring is the operation's summary and description."""
    import app
    from chalicelib.handlers._api import OPERATIONS

    by_route = {
        (path, method): entry.view_function
        for path, methods in app.app.routes.items()
        for method, entry in methods.items()
    }
    return {op.operation_id: by_route[(op.path, op.method)] for op in OPERATIONS}


def build() -> dict[str, Any]:
    import app  # noqa: F401 - registers every route in OPERATIONS
    from chalicelib.handlers._api import OPERATIONS

    components = _components(OPERATIONS)
    paths: dict[str, Any] = {}
    for op in sorted(OPERATIONS, key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LampCare API",
            "version": "1.0.0",
            "description": INFO_DESCRIPTION + "\n## Ticket lifecycle\n\n" + _lifecycle_table() + "\n",
        },
        "servers": [
            {"url": "http://127.0.0.1:8000", "description": "`make run` (embedded AWS, demo data)"},
            {
                "url": "https://{api_id}.execute-api.{region}.{suffix}/api",
                "description": "Deployed stage",
                "variables": {
                    "api_id": {"default": "example"},
                    "region": {"default": "cn-north-1"},
                    "suffix": {"default": "amazonaws.com.cn", "enum": ["amazonaws.com.cn", "amazonaws.com"]},
                },
            },
        ],
        "security": [{"bearer": []}],
        "tags": [{"name": t} for t in sorted({op.path.strip("/").split("/")[0] for op in OPERATIONS})],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito ID token in deployed stages; `make token ROLE=engineer` locally. "
                    "Roles come from the `cognito:groups` claim.",
                }
            },
            "schemas": dict(sorted(components.items())),
            "responses": {ERROR_NAMES[s]: _error_response(ERROR_TEXT[s]) for s in sorted(ERROR_NAMES)},
            "headers": {
                "X-Request-Id": {
                    "description": "Quote it when reporting a problem; it is in every log line of the request.",
                    "schema": {"type": "string"},
                }
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line text as literal blocks, so the document reads like the Markdown it holds."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render() -> str:
    header = "# Generated by `make openapi` (devtools/openapi.py) from the routes and schemas. Do not edit.\n"
    return header + yaml.dump(build(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed document is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not SPEC_PATH.exists() or SPEC_PATH.read_text(encoding="utf-8") != text:
            print(f"{SPEC_PATH} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    SPEC_PATH.parent.mkdir(parents=True, exist_ok=True)
    SPEC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SPEC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
