"""Renders mobile_api_docs/openapi.yaml from the code: `python -m devtools.openapi [--check]`.

Paths, methods, operationIds, roles, request bodies and query parameters come from the
routes themselves (handlers._api.OPERATIONS and the pydantic schemas they name), so they
cannot drift. Response bodies are written out below, next to the views they describe, and
the functional suite validates every response it receives against them.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import sys
from pathlib import Path
from typing import Any

import yaml

from chalicelib.domain.assets import LampStatus
from chalicelib.domain.lifecycle import Status
from chalicelib.domain.policy import LEVEL_COLOURS
from chalicelib.handlers._api import IDEMPOTENCY_KEY, JSON
from chalicelib.services.idempotency import REMEMBER_SECONDS

SPEC_PATH = Path(__file__).resolve().parent.parent / "mobile_api_docs" / "openapi.yaml"
REF = "#/components/schemas/{model}"

# ---- response bodies ---------------------------------------------------------------------


def _obj(
    props: dict[str, Any], required: list[str] | None = None, extra: bool = False, optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An object schema; every listed property is required unless `required` or `optional` say otherwise."""
    needed = [p for p in props if p not in optional] if required is None else required
    return {"type": "object", "properties": props, "required": needed, "additionalProperties": extra}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    nullable = dict(schema)
    nullable["type"] = [schema["type"], "null"]
    return nullable


def _page(item: str, **more: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        {
            "items": {"type": "array", "items": _ref(item)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Opaque. Pass it back as `cursor` for the next page; null on the last page.",
            },
            **more,
        }
    )


STR, INT, BOOL, NUM = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}, {"type": "number"}
TIME = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}
ANY_OBJECT = {"type": "object"}
STATUS_ENUM = [s.value for s in Status]
LAMP_STATUSES = [v for k, v in vars(LampStatus).items() if k.isupper()]

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj(
        {
            "error": _obj(
                {
                    "code": {
                        "type": "string",
                        "description": "Stable, machine-readable: branch on this, not on the message.",
                        "examples": ["validation_failed", "stale_version", "illegal_transition"],
                    },
                    "message": {"type": "string", "description": "For people; may change wording."},
                    "details": {"type": "array", "items": _obj({"field": STR, "problem": STR})},
                    "current_version": {"type": "integer", "description": "stale_version: the version to reload."},
                    "current_status": {"type": "string", "description": "illegal_transition: the ticket's state now."},
                    "allowed_actions": {
                        "type": "array",
                        "items": STR,
                        "description": "illegal_transition: what this user may do from the current state.",
                    },
                    "required_roles": {
                        "type": "array",
                        "items": STR,
                        "description": "forbidden: one of these roles is needed.",
                    },
                    "rows": {
                        "type": "array",
                        "items": _ref("ImportRowError"),
                        "description": "import_rejected: every bad row.",
                    },
                },
                required=["code", "message", "details"],
                extra=True,
            )
        }
    ),
    "Health": _obj(
        {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "version": STR,
            "stage": STR,
            "tables": _obj({"reachable": BOOL, "problem": STR}, required=["reachable"]),
        }
    ),
    "Contract": _obj(
        {
            "contract_id": STR,
            "code": STR,
            "name": STR,
            "customer": STR,
            "policy": _ref("ServicePolicy"),
            "warranty": _ref("WarrantyTerms"),
            "created_at": TIME,
        }
    ),
    "School": _obj(
        {
            "school_id": STR,
            "contract_id": STR,
            "code": STR,
            "name": STR,
            "address": STR,
            "latitude": NUM,
            "longitude": NUM,
            "contacts": {"type": "array", "items": _ref("Contact")},
            "hazards": {"type": "array", "items": STR, "description": "Site hazard notes shown to engineers (D-O5)."},
            "created_at": TIME,
        }
    ),
    "Room": _obj({"room_id": STR, "building": STR, "floor": STR, "name": STR}),
    "Lamp": _obj(
        {
            "lamp_id": STR,
            "asset_no": {"type": "string", "description": "Printed on the label, e.g. SCH01-0007 (D-A1)."},
            "school_id": STR,
            "room_id": STR,
            "position": STR,
            "model": STR,
            "serial": STR,
            "batch": STR,
            "configuration": STR,
            "installed_on": DATE,
            "accepted_on": DATE,
            "warranty": _obj({"years": NUM, "extension_days": INT, "ends_on": DATE, "in_warranty": BOOL}),
            "status": {"type": "string", "enum": LAMP_STATUSES},
            "has_open_fault": BOOL,
            "open_tickets": INT,
            "qr_token": {
                "type": "string",
                "description": "128 random bits; rotating it invalidates the printed label.",
            },
            "report_url": {"type": "string", "format": "uri"},
            "predecessor_id": {"type": ["string", "null"]},
            "successor_id": {"type": ["string", "null"]},
            "created_at": TIME,
        }
    ),
    "LampHistoryEntry": _obj(
        {
            "at": TIME,
            "kind": {
                "type": "string",
                "examples": [
                    "registered",
                    "ticket_opened",
                    "ticket_resolve",
                    "qr_rotated",
                    "replaced",
                    "installed_as_replacement",
                ],
            },
            "ref": {"type": "string", "description": "The ticket reference or the other lamp's id, if any."},
            "actor": STR,
            "summary": STR,
            "data": ANY_OBJECT,
        }
    ),
    "LampReplacement": _obj({"replaced": _ref("Lamp"), "successor": _ref("Lamp")}),
    "QrResolution": _obj(
        {
            "lamp": _obj({"asset_no": STR, "room_id": STR, "position": STR, "model": STR, "has_open_fault": BOOL}),
            "school": _obj({"name": STR}),
            "report_url": {"type": "string", "format": "uri"},
        }
    ),
    "ImportRowError": _obj(
        {
            "row": {"type": "integer", "description": "1 is the header row; data starts at 2."},
            "column": STR,
            "problem": STR,
        }
    ),
    "ImportReport": _obj(
        {
            "mode": {"type": "string", "enum": ["partial", "all_or_nothing"]},
            "rows": {"type": "integer", "description": "Non-empty data rows read."},
            "created": INT,
            "unchanged": {
                "type": "integer",
                "description": "Serials already registered at this school (idempotent re-import).",
            },
            "failed": {"type": "integer", "description": "Rows with at least one error; not imported."},
            "errors": {"type": "array", "items": _ref("ImportRowError")},
        }
    ),
    "Ticket": _obj(
        {
            "ticket_id": STR,
            "ref": {
                "type": "string",
                "pattern": r"^T-\d{4}-\d{6}$",
                "description": "Human-friendly, sequential per year.",
            },
            "public_ref": {"type": "string", "description": "Unguessable; given to the reporter to follow the case."},
            "version": {"type": "integer", "description": "Send it back with every transition (optimistic locking)."},
            "status": {"type": "string", "enum": STATUS_ENUM},
            "source": _ref("Source"),
            "category": _ref("Category"),
            "level": {"type": "integer", "minimum": 1, "maximum": 4},
            "colour": {"type": "string", "enum": [LEVEL_COLOURS[level] for level in sorted(LEVEL_COLOURS)]},
            "level_confirmed": {
                "type": "boolean",
                "description": "False until a dispatcher triages the reported level.",
            },
            "school_id": STR,
            "room_id": {"type": ["string", "null"]},
            "lamp_ids": {"type": "array", "items": STR},
            "description": STR,
            "photos": {"type": "array", "items": STR},
            "reporter": ANY_OBJECT,
            "assignee_id": {"type": ["string", "null"]},
            "owner_id": {"type": ["string", "null"]},
            "merged_into": {"type": ["string", "null"]},
            "reported_at": TIME,
            "response_due": TIME,
            "onsite_due": TIME,
            "eta": _nullable(TIME),
            "milestones": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "e.g. acknowledged_at, on_site_at, resolved_at, signed_off_at.",
            },
            "resolution": {"type": ["object", "null"]},
            "sign_off": {"type": ["object", "null"]},
            "sla": _obj({"response_met": {"type": ["boolean", "null"]}, "onsite_met": {"type": ["boolean", "null"]}}),
            "updated_at": TIME,
            "allowed_actions": {"type": "array", "items": STR, "description": "What the caller may do next."},
        },
        optional=("allowed_actions",),
    ),
    "TicketEvent": _obj(
        {
            "seq": INT,
            "at": TIME,
            "actor": STR,
            "actor_role": STR,
            "action": STR,
            "from_status": {"type": ["string", "null"]},
            "to_status": STR,
            "before": ANY_OBJECT,
            "after": ANY_OBJECT,
            "note": STR,
        }
    ),
    "SchoolPage": _page("School"),
    "LampPage": _page("Lamp"),
    "LampHistoryPage": _page(
        "LampHistoryEntry",
        lamp=_obj(
            {
                "lamp_id": STR,
                "asset_no": STR,
                "status": STR,
                "predecessor_id": {"type": ["string", "null"], "description": "The unit this one replaced."},
                "successor_id": {"type": ["string", "null"], "description": "The unit that replaced this one."},
            }
        ),
    ),
    "TicketPage": _page("Ticket"),
    "TicketEventPage": _page("TicketEvent"),
}
RESPONSE_SCHEMAS["SchoolWithRooms"] = _obj(
    {**RESPONSE_SCHEMAS["School"]["properties"], "rooms": {"type": "array", "items": _ref("Room")}}
)

# operationId -> (success status, schema name or media type)
RESPONSES: dict[str, tuple[int, str]] = {
    "getHealth": (200, "Health"),
    "createContract": (201, "Contract"),
    "getContract": (200, "Contract"),
    "createSchool": (201, "School"),
    "listSchools": (200, "SchoolPage"),
    "getSchool": (200, "SchoolWithRooms"),
    "listSchoolLamps": (200, "LampPage"),
    "importLamps": (200, "ImportReport"),
    "getQrLabels": (200, "application/pdf"),
    "createLamp": (201, "Lamp"),
    "getLamp": (200, "Lamp"),
    "getLampHistory": (200, "LampHistoryPage"),
    "rotateLampQrToken": (200, "Lamp"),
    "replaceLamp": (201, "LampReplacement"),
    "resolveQrToken": (200, "QrResolution"),
    "createTicket": (201, "Ticket"),
    "listTickets": (200, "TicketPage"),
    "getTicket": (200, "Ticket"),
    "transitionTicket": (200, "Ticket"),
    "listTicketEvents": (200, "TicketEventPage"),
}

# Refusals particular to an operation, beyond those every operation of its kind has.
CONFLICTS: dict[str, str] = {
    "createContract": "A contract with this code exists.",
    "createSchool": "A school with this code exists.",
    "createLamp": "A lamp with this serial is registered.",
    "replaceLamp": "The lamp was already replaced, or the new serial is registered.",
    "createTicket": "A lamp of the ticket was replaced meanwhile, or a request with the same Idempotency-Key "
    "is still being processed.",
    "transitionTicket": "`stale_version` (send `current_version` after reloading) or `illegal_transition` "
    "(the body names `current_status` and `allowed_actions`), or a merge into a closed ticket.",
}

ERROR_TEXT = {
    400: "Malformed JSON body, invalid query string or header (`malformed_body`, `invalid_query`, `invalid_header`); "
    "`details` name the field.",
    401: "Missing, expired or invalid bearer token (`unauthenticated`).",
    403: "The caller's role may not do this, or the ticket is someone else's (`forbidden`).",
    404: "The resource in the path, or one the body refers to, does not exist (`not_found`).",
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


def _request_components(operations: list[Any]) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    from chalicelib.handlers._api import schema
    from chalicelib.schemas import Contact

    names = sorted({op.body for op in operations if op.body})
    models = [(schema(n), "validation") for n in names] + [(Contact, "serialization")]
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
        "content": {"application/json": {"schema": _ref("Error")}},
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
    if params:
        operation["parameters"] = params
    if op.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(schema(op.body).__name__)}},
        }
    elif op.raw_body_types:
        # A raw-body route also accepts JSON only to answer it with our own 415.
        operation["requestBody"] = {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "contentMediaType": t}} for t in op.raw_body_types if t != JSON
            },
        }

    status, body = RESPONSES[op.operation_id]
    ok_content = (
        {body: {"schema": {"type": "string", "contentMediaType": body}}}
        if "/" in body
        else {"application/json": {"schema": _ref(body)}}
    )
    ok_headers = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    if op.idempotent:
        ok_headers["Idempotent-Replayed"] = {
            "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key.",
            "schema": {"type": "string", "enum": ["true"]},
        }
    responses: dict[str, Any] = {str(status): {"description": "Success.", "content": ok_content, "headers": ok_headers}}
    if op.operation_id == "getHealth":
        responses["503"] = {
            "description": "The tables do not answer.",
            "content": {"application/json": {"schema": _ref("Health")}},
        }
    if op.query or op.body:
        responses["400"] = _error(400)
    if op.roles is not None:
        responses["401"] = _error(401)
        responses["403"] = _error(403)
    refers = op.body and any(f.endswith("_id") for f in schema(op.body).model_fields)
    if _path_params(op.path) or refers:
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
    return operation


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

    components = _request_components(OPERATIONS)
    components.update(copy.deepcopy(RESPONSE_SCHEMAS))
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
