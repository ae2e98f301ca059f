"""mobile_api_docs/openapi.yaml against the app: same routes, stable operationIds, documented refusals.

Response bodies are checked against the document by every functional test (tests/contract.py).
The document holds no hand-written response schema: each is generated from the `*Out` model the
route names.
"""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from devtools import openapi
from tests.contract import spec

# Promised to the mobile app and to the issues that named them; renaming one breaks clients.
STABLE_OPERATION_IDS = {
    "getHealth",
    "createContract",
    "getContract",
    "createSchool",
    "getSchool",
    "listSchools",
    "listSchoolLamps",
    "createLamp",
    "importLamps",
    "getLamp",
    "getLampHistory",
    "rotateLampQrToken",
    "replaceLamp",
    "getQrLabels",
    "resolveQrToken",
    "createTicket",
    "getTicket",
    "listTickets",
    "transitionTicket",
    "listTicketEvents",
    # Open311 GeoReport v2 (issue 9): .json and .xml are separate paths
    "getOpen311DiscoveryJson",
    "getOpen311DiscoveryXml",
    "listOpen311ServicesJson",
    "listOpen311ServicesXml",
    "createOpen311RequestJson",
    "createOpen311RequestXml",
    "listOpen311RequestsJson",
    "listOpen311RequestsXml",
    "getOpen311Request",
}


def _documented_operations() -> dict[tuple[str, str], dict]:
    return {(path, method.upper()): op for path, methods in spec()["paths"].items() for method, op in methods.items()}


def _app_routes() -> set[tuple[str, str]]:
    from app import app
    from chalicelib.handlers.fallback import is_fallback  # local catch-alls for unknown paths: no operation

    return {(path, method) for path, methods in app.routes.items() for method in methods if not is_fallback(path)}


def test_the_document_is_valid_openapi_3_1():
    assert spec()["openapi"].startswith("3.1")
    validate(spec())


def test_every_route_of_the_app_is_documented_and_nothing_else():
    documented = set(_documented_operations())
    routes = _app_routes()
    assert routes - documented == set(), "routes missing from openapi.yaml: run `make openapi`"
    assert documented - routes == set(), "openapi.yaml documents routes the app does not have"


def test_operation_ids_are_unique_and_the_promised_ones_exist():
    ids = [op["operationId"] for op in _documented_operations().values()]
    assert len(ids) == len(set(ids))
    assert STABLE_OPERATION_IDS <= set(ids), f"missing: {STABLE_OPERATION_IDS - set(ids)}"


def test_the_committed_document_is_what_the_code_renders():
    assert openapi.SPEC_PATH.read_text(encoding="utf-8") == openapi.render(), (
        "mobile_api_docs/openapi.yaml is stale: run `make openapi` and commit it"
    )


def test_each_operation_documents_its_roles_and_the_refusals_it_can_give():
    from app import app  # noqa: F401 - registers the routes
    from chalicelib.handlers._api import OPERATIONS

    documented = _documented_operations()
    for op in OPERATIONS:
        doc = documented[(op.path, op.method)]
        codes = set(doc["responses"])
        if op.dialect is not None:  # a standard's own refusals (Open311: 403 is a bad api_key, not a role)
            assert codes == {str(op.status), *(str(s) for s in op.dialect.refusal_statuses)}, op.operation_id
            continue
        if op.roles is None:
            assert doc["security"] == [] and doc["x-roles"] == ["public"], op.operation_id
            assert not {"401", "403"} & codes, op.operation_id
        else:
            assert doc["x-roles"] == sorted(r.value for r in op.roles), op.operation_id
            assert {"401", "403"} <= codes, op.operation_id
        if op.body:
            assert {"400", "413", "415", "422"} <= codes, op.operation_id
        if op.query:
            assert {"400", "422"} <= codes, op.operation_id
        if "{" in op.path:
            assert "404" in codes, op.operation_id


@pytest.mark.parametrize("name", ["ErrorOut", "TicketOut", "LampOut", "SchoolOut", "TicketPageOut"])
def test_response_schemas_refuse_unknown_fields_so_drift_shows(name):
    """The functional suite validates every answer; a new field must be documented to pass."""
    schemas = spec()["components"]["schemas"]
    schema = schemas[name]
    assert schema.get("additionalProperties") is False
    if name == "ErrorOut":
        detail = schemas[schema["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
        assert detail["required"] == ["code", "message", "details"]
        assert detail.get("additionalProperties") is True  # each refusal may add what explains it


def test_every_operation_names_a_response_model_and_the_document_uses_it():
    """Response shapes are defined once, in code: the route's `*Out` model is the documented body."""
    from app import app  # noqa: F401 - registers the routes
    from chalicelib.handlers._api import OPERATIONS

    documented = _documented_operations()
    for op in OPERATIONS:
        assert op.response, f"{op.operation_id} names no response model"
        content = documented[(op.path, op.method)]["responses"][str(op.status)]["content"]
        if "/" in op.response:
            assert op.response in content, op.operation_id
        else:
            for media_type in op.dialect.response_types if op.dialect else ("application/json",):
                assert content[media_type]["schema"] == {"$ref": f"#/components/schemas/{op.response}"}


def test_the_generator_holds_no_hand_written_response_schema():
    import inspect

    source = inspect.getsource(openapi)
    assert "RESPONSE_SCHEMAS" not in source and '"type": "object"' not in source
