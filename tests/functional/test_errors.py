"""Every refusal through the API: one error shape, a request id, and never a 5xx (README "Errors").

The shape is `{"error": {"code", "message", "details": [{"field", "problem"}]}}` with an
`X-Request-Id` header, whichever layer refuses: Chalice itself (405, its 415), `_api.Api.route`
(401, 403, 413, 415, 400 malformed body, 422 validation, 400 bad query) or a service (404, 409,
422 invalid input). The classes share one moto world each (see TestRoleStateMatrix): they send
refused requests, and each test that writes makes its own school. The sweeps are generated from
`OPERATIONS`, so a new route is covered the day it is declared. The tests at the end use a fresh
world of their own and check that a refused request wrote nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import string
import time
from collections.abc import Iterator
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from chalicelib.handlers import health, registry, tickets  # noqa: F401 - declaring the routes fills OPERATIONS
from chalicelib.handlers._api import OPERATIONS, Operation, schema
from chalicelib.settings import get_settings
from tests.functional.factories import api_world, call, make_lamp, make_school, make_ticket, make_user, ok, transition

JSON_TYPE = "application/json"
ISSUER = AUDIENCE = "lampcare-local"
CSV_HEADER = "room_id,position,model,serial,installed_on,accepted_on\n"

# Plausible ids that were never issued (the services' own prefixes, new_id's length).
MISSING_IDS = {
    "contract_id": "c_0000000000000000",
    "school_id": "s_0000000000000000",
    "lamp_id": "l_0000000000000000",
    "ticket_id": "t_0000000000000000",
    "qr_token": "AAAAAAAAAAAAAAAAAAAAAA",
}

# A body each operation accepts, so that a refusal in a sweep can only come from what the sweep
# changed (the id, the token, the query). Operations without a JSON body are sent none (importLamps
# is sent a CSV file with one valid row).
VALID_BODIES: dict[str, dict[str, Any]] = {
    "createContract": {"code": "PX1", "name": "Eye-care lighting retrofit"},
    "createSchool": {
        "contract_id": MISSING_IDS["contract_id"],
        "code": "SCHX",
        "name": "No. 9 Primary School",
        "address": "1 Xueyuan Road",
        "latitude": 31.2,
        "longitude": 121.4,
    },
    "createLamp": {
        "school_id": MISSING_IDS["school_id"],
        "room_id": "A-101",
        "position": "1",
        "model": "EP-LED-40",
        "serial": "SNX0000001",
        "installed_on": "2025-08-20",
        "accepted_on": "2025-09-01",
    },
    "replaceLamp": {"serial": "SNX0000002", "installed_on": "2025-10-01"},
    "createTicket": {
        "source": "school_report",
        "school_id": MISSING_IDS["school_id"],
        "category": "not_lit",
        "description": "The lamp above the blackboard does not light",
    },
    "transitionTicket": {"action": "triage", "version": 1, "level": 2},
}

# Values of the wrong JSON type for nearly every field of every schema (a string where a number
# is due, an object where a string is due, ...); each body sets all of the schema's fields to one.
WRONG_TYPE_VALUES: dict[str, Any] = {
    "null": None,
    "number": 12345,
    "bool": True,
    "list": [1, "two", None],
    "object": {"nested": {"deeper": [1]}},
    "bad-string": "\u0000not-a-date-or-enum\u2603",
}


# ---- helpers ---------------------------------------------------------------------------------


def send(
    client: Any, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> SimpleNamespace:
    """One request; `body` is sent as is when str/bytes (to send broken JSON), else JSON-encoded."""
    if body is None:
        raw = b""
    elif isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = json.dumps(body).encode()
    response = client.http.request(method, path, headers=dict(headers or {}), body=raw)
    text = response.body.decode("utf-8", "replace") if isinstance(response.body, bytes) else str(response.body)
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    return SimpleNamespace(status=response.status_code, headers=response.headers, text=text, json=payload)


def header(response: SimpleNamespace, name: str) -> str | None:
    return next((v for k, v in response.headers.items() if k.lower() == name.lower()), None)


def assert_error(response: SimpleNamespace, status: int, code: str) -> dict[str, Any]:
    """The contract: status, JSON error envelope, request id, nothing of the server's insides."""
    assert response.status == status, f"expected {status} {code}, got {response.status}: {response.text[:500]}"
    assert (header(response, "Content-Type") or "").startswith(JSON_TYPE), response.headers
    assert header(response, "X-Request-Id"), f"no X-Request-Id on a {status}: {response.headers}"
    assert isinstance(response.json, dict) and set(response.json) == {"error"}, response.text[:500]
    error = response.json["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error.get("details", []), list), error
    for detail in error.get("details", []):
        assert set(detail) == {"field", "problem"}, detail
        assert isinstance(detail["field"], str) and detail["field"], detail
        assert isinstance(detail["problem"], str) and detail["problem"], detail
    assert_no_internals(response)
    return error


def assert_no_internals(response: SimpleNamespace) -> None:
    for leak in ("Traceback", 'File "', '.py"', "site-packages", "chalicelib", "botocore", "pynamodb"):
        assert leak not in response.text, f"{leak!r} leaked into a {response.status}: {response.text[:500]}"


def fields_of(error: dict[str, Any]) -> dict[str, str]:
    return {d["field"]: d["problem"] for d in error.get("details", [])}


def fill(path: str, ids: dict[str, str] | None = None) -> str:
    values = ids or MISSING_IDS
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def op_id(op: Operation) -> str:
    return op.operation_id


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "user-x",
        "cognito:groups": ["admin"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "token_use": "id",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def local_key(key_path: Any) -> Any:
    from chalicelib.auth import load_local_private_jwk

    return jwt.PyJWK.from_dict(load_local_private_jwk(str(key_path))).key


def signed(key_path: Any, **overrides: Any) -> str:
    """A token signed by the service's own key, with any claims (Cognito's names by default)."""
    return jwt.encode(claims(**overrides), local_key(key_path), algorithm="RS256", headers={"kid": "lampcare-local"})


@lru_cache(maxsize=1)
def foreign_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hs256_with_public_key(key_path: Any) -> str:
    """The algorithm-confusion attack: HMAC-signed with the verifier's public key as the secret."""
    from cryptography.hazmat.primitives import serialization

    public_pem = (
        local_key(key_path)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = (
        f"{b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64url(json.dumps(claims()).encode())}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def tampered(key_path: Any) -> str:
    """A real engineer's token whose payload was edited to claim admin; the signature is the original."""
    header_part, _, signature = signed(key_path, **{"cognito:groups": ["engineer"]}).split(".")
    payload = b64url(json.dumps(claims(**{"cognito:groups": ["admin"]})).encode())
    return f"{header_part}.{payload}.{signature}"


# Each makes a token the verifier must refuse with 401 (given the local key's path).
BAD_TOKENS = {
    "garbage": lambda k: "garbage",
    "three-garbage-segments": lambda k: "aaa.bbb.ccc",
    "expired": lambda k: signed(k, exp=int(time.time()) - 60, iat=int(time.time()) - 3600),
    "not-yet-valid": lambda k: signed(k, nbf=int(time.time()) + 3600),
    "signed-by-another-key": lambda k: jwt.encode(
        claims(), foreign_key(), algorithm="RS256", headers={"kid": "lampcare-local"}
    ),
    "wrong-audience": lambda k: signed(k, aud="another-app"),
    "wrong-issuer": lambda k: signed(k, iss="https://cognito-idp.example/another-pool"),
    "no-exp": lambda k: signed(k, exp=None),
    "no-sub": lambda k: signed(k, sub=None),
    "no-iss": lambda k: signed(k, iss=None),
    "alg-none": lambda k: jwt.encode(claims(), None, algorithm="none"),
    "hs256-with-the-public-key": hs256_with_public_key,
    "payload-tampered": tampered,
}


@pytest.fixture(scope="class")
def world(test_environment: Any) -> Iterator[SimpleNamespace]:
    """One moto world per class; tokens are signed once per (role, sub)."""
    with api_world(test_environment) as world:
        world.key_path = test_environment
        yield world


# ---- 401 -------------------------------------------------------------------------------------


class TestUnauthenticated:
    """Missing or invalid token: 401 "unauthenticated", `WWW-Authenticate: Bearer`, no internals."""

    def test_no_authorization_header_is_401(self, world):
        response = send(world.client, "GET", "/tickets?status=reported")
        error = assert_error(response, 401, "unauthenticated")
        assert error["message"] == "missing bearer token"
        assert header(response, "WWW-Authenticate") == "Bearer"

    @pytest.mark.parametrize(
        "value",
        ["Bearer", "Bearer    ", "Basic dXNlcjpwYXNzd29yZA==", "Basic x", "Token abc", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"],
    )
    def test_malformed_authorization_header_is_401(self, world, value):
        response = send(world.client, "GET", "/tickets?status=reported", {"Authorization": value})
        error = assert_error(response, 401, "unauthenticated")
        assert "Bearer <token>" in error["message"]
        assert header(response, "WWW-Authenticate") == "Bearer"

    @pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
    def test_invalid_token_is_401_without_echoing_it(self, world, kind):
        token = BAD_TOKENS[kind](world.key_path)
        for method, path, body in [
            ("GET", "/tickets?status=reported", None),
            ("POST", "/schools", VALID_BODIES["createSchool"]),
        ]:
            response = send(
                world.client, method, path, {"Authorization": f"Bearer {token}", "Content-Type": JSON_TYPE}, body
            )
            error = assert_error(response, 401, "unauthenticated")
            assert header(response, "WWW-Authenticate") == "Bearer"
            assert token not in response.text
            if kind == "expired":
                assert error["message"] == "the token has expired"

    def test_the_scheme_is_case_insensitive_and_a_valid_token_passes(self, world):
        token = world.auth("manager")["Authorization"].split(" ", 1)[1]
        assert send(world.client, "GET", "/tickets?status=reported", {"Authorization": f"bearer {token}"}).status == 200

    @pytest.mark.parametrize("groups", [5, [["admin"]]], ids=["number", "nested-list"])
    def test_a_signed_token_with_a_malformed_groups_claim_is_refused_not_a_500(self, world, groups):
        token = signed(world.key_path, **{"cognito:groups": groups})
        response = send(world.client, "GET", "/tickets?status=reported", {"Authorization": f"Bearer {token}"})
        assert_error(response, 401, "unauthenticated")


# ---- 403 -------------------------------------------------------------------------------------


class TestForbidden:
    def test_engineer_cannot_create_a_school_and_is_told_the_required_roles(self, world):
        response = send(world.client, "POST", "/schools", world.auth("engineer"), VALID_BODIES["createSchool"])
        error = assert_error(response, 403, "forbidden")
        assert error["required_roles"] == ["admin"]
        assert "admin" in error["message"]

    def test_role_is_checked_before_the_body_so_nothing_about_it_is_disclosed(self, world):
        response = send(world.client, "POST", "/contracts", world.auth("manager"), "{not json")
        error = assert_error(response, 403, "forbidden")
        assert error["details"] == []

    def test_engineer_listing_another_engineers_tickets_is_403_in_the_same_shape(self, world):
        response = send(world.client, "GET", "/tickets?assignee_id=eng-other", world.auth("engineer", "eng-1"))
        error = assert_error(response, 403, "forbidden")
        assert "assigned to them" in error["message"]


# ---- 404, unknown paths, 405 -------------------------------------------------------------------


class TestNotFound:
    @pytest.mark.parametrize(
        ("path", "what"),
        [
            ("/schools/s_0000000000000000", "school 's_0000000000000000'"),
            ("/schools/s_0000000000000000/lamps", "school 's_0000000000000000'"),
            ("/lamps/l_0000000000000000", "lamp 'l_0000000000000000'"),
            ("/lamps/l_0000000000000000/history", "lamp 'l_0000000000000000'"),
            ("/tickets/t_0000000000000000", "ticket 't_0000000000000000'"),
            ("/tickets/T-2026-999999", "ticket 'T-2026-999999'"),
            ("/tickets/t_0000000000000000/events", "ticket 't_0000000000000000'"),
            ("/contracts/c_0000000000000000", "contract 'c_0000000000000000'"),
        ],
    )
    def test_unknown_id_is_404_naming_it(self, world, path, what):
        error = assert_error(send(world.client, "GET", path, world.auth("admin")), 404, "not_found")
        assert error["message"] == f"{what} does not exist"

    def test_unknown_qr_token_is_404_without_auth(self, world):
        error = assert_error(send(world.client, "GET", "/r/AAAAAAAAAAAAAAAAAAAAAA"), 404, "not_found")
        assert "QR label" in error["message"]

    @pytest.mark.parametrize(
        ("operation_id", "what"), [("createSchool", "contract"), ("createLamp", "school"), ("createTicket", "school")]
    )
    def test_a_body_that_names_an_unknown_parent_is_404_naming_it(self, world, operation_id, what):
        op = next(op for op in OPERATIONS if op.operation_id == operation_id)
        response = send(world.client, op.method, op.path, world.auth("admin"), VALID_BODIES[operation_id])
        error = assert_error(response, 404, "not_found")
        assert error["message"] == f"{what} '{MISSING_IDS[what + '_id']}' does not exist"

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/"),
            ("GET", "/no-such-route"),
            ("GET", "/no-such-route/at-all/"),
            ("GET", "/tickets/t_0000000000000000/no-such-part"),
            ("POST", "/a/b/c/d/e/f/g/h/i/j/k/l"),
            ("DELETE", "/Lamps/l_0000000000000000"),
        ],
    )
    def test_unknown_path_is_404_in_our_shape(self, world, method, path):
        """Issue 9: Chalice's in-process gateway (the tests' client and `make run`) answered its own 403
        {"message": "Missing Authentication Token"} before our code ran; the catch-all routes of
        chalicelib/handlers/fallback.py answer 404 like a deployed stage's gateway (next test)."""
        for headers in ({}, world.auth("admin")):
            error = assert_error(send(world.client, method, path, headers), 404, "not_found")
            assert error["message"].startswith(f"no route matches {method} /")

    def test_deployed_api_gateway_answers_unknown_paths_with_404_in_our_shape(self):
        from infra.resources import gateway_responses

        body = gateway_responses()["RestAPI"]["Properties"]["DefinitionBody"]
        responses = body["x-amazon-apigateway-gateway-responses"]
        assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == 404
        for response_type, properties in responses.items():
            rendered = (
                properties["responseTemplates"][JSON_TYPE]
                .replace("$context.error.messageString", '"Missing Authentication Token"')
                .replace("$context.requestId", "req-1")
            )
            error = json.loads(rendered)["error"]
            assert {"code", "message", "details"} <= set(error), response_type
            if response_type == "MISSING_AUTHENTICATION_TOKEN":
                assert (error["code"], error["message"]) == ("not_found", "Missing Authentication Token")

    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("DELETE", "/tickets", {"GET", "POST"}),
            ("PUT", "/schools/s_0000000000000000", {"GET"}),
            ("PATCH", "/tickets/t_0000000000000000", {"GET"}),
            ("GET", "/lamps/l_0000000000000000/qr-token", {"POST"}),
            ("DELETE", "/health", {"GET"}),
        ],
    )
    def test_method_not_allowed_is_405_in_our_shape_with_allow(self, world, method, path, allowed):
        response = send(world.client, method, path, world.auth("admin"))
        error = assert_error(response, 405, "method_not_allowed")
        assert method in error["message"]
        assert {m.strip() for m in (header(response, "Allow") or "").split(",")} == allowed

    def test_each_error_carries_its_own_request_id(self, world):
        ids = {
            header(send(world.client, "GET", "/tickets/t_0000000000000000", world.auth()), "X-Request-Id")
            for _ in range(3)
        }
        assert len(ids) == 3


# ---- 400, 415, 413 ---------------------------------------------------------------------------


class TestMalformedRequests:
    @pytest.mark.parametrize(
        "body",
        [
            "{not json",
            '{"name": }',
            '{"name": "x"} trailing',
            "{'single': 'quotes'}",
            b"\xff\xfe{\x00",
            '{"a": "unterminated',
        ],
        ids=["garbage", "missing-value", "trailing-garbage", "single-quotes", "not-utf8", "unterminated-string"],
    )
    def test_malformed_json_is_400(self, world, body):
        response = send(world.client, "POST", "/contracts", world.auth("admin"), body)
        error = assert_error(response, 400, "malformed_body")
        assert fields_of(error) == {"(body)": "not valid JSON"}

    def test_empty_body_is_400(self, world):
        error = assert_error(send(world.client, "POST", "/schools", world.auth("admin"), ""), 400, "malformed_body")
        assert fields_of(error) == {"(body)": "missing"}

    @pytest.mark.parametrize("body", ["[]", '[{"code": "P1"}]', '"a string"', "42", "null", "true"])
    def test_json_that_is_not_an_object_is_422_on_the_root(self, world, body):
        # Well-formed JSON of the wrong type: a validation error (README: wrong type 422), not a syntax one.
        response = send(world.client, "POST", "/contracts", world.auth("admin"), body)
        error = assert_error(response, 422, "validation_failed")
        assert fields_of(error) == {"(root)": "Input should be an object"}

    @pytest.mark.parametrize(
        "content_type",
        ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
    )
    def test_wrong_content_type_on_a_json_route_is_415(self, world, content_type):
        headers = {**world.auth("admin"), "Content-Type": content_type}
        response = send(world.client, "POST", "/contracts", headers, VALID_BODIES["createContract"])
        error = assert_error(response, 415, "unsupported_media_type")
        assert content_type.split(";")[0] in error["message"]

    def test_missing_content_type_on_a_json_route_is_415_naming_the_header(self, world):
        headers = {"Authorization": world.auth("admin")["Authorization"]}
        response = send(world.client, "POST", "/contracts", headers, VALID_BODIES["createContract"])
        error = assert_error(response, 415, "unsupported_media_type")
        assert fields_of(error) == {"Content-Type": f"'missing' is not {JSON_TYPE}"}

    def test_json_with_a_charset_is_accepted(self, world):
        headers = {**world.auth("admin"), "Content-Type": "application/json; charset=utf-8"}
        response = send(world.client, "POST", "/contracts", headers, {**VALID_BODIES["createContract"], "code": "PCS1"})
        assert response.status == 201, response.text

    def test_json_sent_to_the_equipment_list_import_is_415_naming_the_accepted_types(self, world):
        school = make_school(world.client, world.auth)
        response = send(
            world.client, "POST", f"/schools/{school['school_id']}/lamps/import", world.auth("admin"), {"rows": []}
        )
        error = assert_error(response, 415, "unsupported_media_type")
        assert "text/csv" in fields_of(error)["Content-Type"]

    def test_body_over_the_limit_is_413(self, world):
        limit = get_settings().max_body_bytes
        body = json.dumps({"code": "P1", "name": "x", "customer": ""})
        body = body[:-2] + "y" * (limit + 1 - len(body)) + '"}'
        assert len(body.encode()) == limit + 1
        error = assert_error(
            send(world.client, "POST", "/contracts", world.auth("admin"), body), 413, "payload_too_large"
        )
        assert str(limit) in error["message"]

    def test_body_exactly_at_the_limit_is_read_and_validated(self, world):
        limit = get_settings().max_body_bytes
        body = json.dumps({"code": "P1", "name": "x", "customer": ""})
        body = body[:-2] + "y" * (limit - len(body)) + '"}'
        assert len(body.encode()) == limit
        error = assert_error(
            send(world.client, "POST", "/contracts", world.auth("admin"), body), 422, "validation_failed"
        )
        assert "customer" in fields_of(error)

    def test_upload_over_the_upload_limit_is_413(self, world):
        limit = get_settings().max_upload_bytes
        body = CSV_HEADER + "x" * (limit + 1 - len(CSV_HEADER))
        headers = {**world.auth("admin"), "Content-Type": "text/csv"}
        response = send(world.client, "POST", f"/schools/{MISSING_IDS['school_id']}/lamps/import", headers, body)
        error = assert_error(response, 413, "payload_too_large")
        assert str(limit) in error["message"]

    @pytest.mark.parametrize(
        ("query", "field", "problem"),
        [
            ("status=reported&limit=0", "query.limit", "greater than or equal to 1"),
            ("status=reported&limit=201", "query.limit", "less than or equal to 200"),
            ("status=reported&limit=abc", "query.limit", "valid integer"),
            ("status=exploded", "query.status", "Input should be"),
            ("level=9", "query.level", "less than or equal to 4"),
            ("level=red", "query.level", "valid integer"),
            ("status=reported&sort=desc", "query.sort", "unknown field"),
            ("school_id=" + "s" * 65, "query.school_id", "at most 64 characters"),
            ("school_id=has%20space", "query.school_id", "match pattern"),
        ],
    )
    def test_bad_query_parameter_is_400_naming_it_with_the_query_prefix(self, world, query, field, problem):
        response = send(world.client, "GET", f"/tickets?{query}", world.auth("dispatcher"))
        error = assert_error(response, 400, "invalid_query")
        assert problem in fields_of(error)[field], error

    @pytest.mark.parametrize(
        "cursor", ["!!!", b64url(b"[1, 2]"), b64url(b'{"x": 1}'), b64url(b'{"x": {"S": "y"}}'), b64url(b"\xff\xfe")]
    )
    def test_a_cursor_the_api_did_not_issue_is_refused_naming_query_cursor(self, world, cursor):
        response = send(world.client, "GET", f"/tickets?status=reported&cursor={cursor}", world.auth("dispatcher"))
        error = assert_error(response, 400, "invalid_query")
        assert set(fields_of(error)) == {"query.cursor"}

    def test_a_bad_cursor_is_400_invalid_query_like_any_other_bad_query_parameter(self, world):
        response = send(world.client, "GET", "/tickets?status=reported&cursor=!!!", world.auth("dispatcher"))
        assert_error(response, 400, "invalid_query")


# ---- 422 -------------------------------------------------------------------------------------


def ticket_body(school_id: str, **overrides: Any) -> dict[str, Any]:
    return {**VALID_BODIES["createTicket"], "school_id": school_id, **overrides}


class TestValidation:
    @pytest.fixture(scope="class")
    def school(self, world: SimpleNamespace) -> dict[str, Any]:
        return make_school(world.client, world.auth)

    def post_ticket(self, world: SimpleNamespace, body: Any) -> dict[str, Any]:
        return assert_error(
            send(world.client, "POST", "/tickets", world.auth("dispatcher"), body), 422, "validation_failed"
        )

    def test_string_for_an_integer_names_the_field(self, world, school):
        error = self.post_ticket(world, ticket_body(school["school_id"], level="high"))
        assert fields_of(error) == {"level": "Input should be a valid integer"}

    def test_string_for_a_number_names_the_field(self, world, school):
        body = {**VALID_BODIES["createSchool"], "contract_id": school["contract_id"], "latitude": "north"}
        error = assert_error(
            send(world.client, "POST", "/schools", world.auth("admin"), body), 422, "validation_failed"
        )
        assert fields_of(error) == {"latitude": "Input should be a valid number"}

    def test_unknown_field_is_refused_by_name(self, world, school):
        error = self.post_ticket(world, ticket_body(school["school_id"], priority="urgent"))
        assert fields_of(error) == {"priority": "unknown field"}

    def test_unknown_nested_field_is_refused_by_its_path(self, world, school):
        error = self.post_ticket(world, ticket_body(school["school_id"], reporter={"name": "Ms Li", "email": "x@y.z"}))
        assert fields_of(error) == {"reporter.email": "unknown field"}

    def test_missing_required_field_names_it(self, world, school):
        body = ticket_body(school["school_id"])
        del body["description"]
        error = self.post_ticket(world, body)
        assert fields_of(error) == {"description": "Field required"}

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("level", 5, "Input should be less than or equal to 4"),
            ("level", 0, "Input should be greater than or equal to 1"),
            ("description", "   ", "String should have at least 1 character"),
            ("description", "x" * 2001, "String should have at most 2000 characters"),
            ("source", "carrier_pigeon", "Input should be"),
            ("category", "haunted", "Input should be"),
        ],
    )
    def test_out_of_range_value_names_the_field_and_the_bound(self, world, school, field, value, problem):
        error = self.post_ticket(world, ticket_body(school["school_id"], **{field: value}))
        assert set(fields_of(error)) == {field}
        assert fields_of(error)[field].startswith(problem)

    def test_list_items_are_named_by_index(self, world, school):
        error = self.post_ticket(world, ticket_body(school["school_id"], lamp_ids=["l_1", 7, "has space"]))
        assert set(fields_of(error)) == {"lamp_ids.1", "lamp_ids.2"}

    def test_every_problem_is_reported_at_once(self, world, school):
        body = {
            **VALID_BODIES["createSchool"],
            "contract_id": school["contract_id"],
            "latitude": 91,
            "longitude": "w",
            "zzz": 1,
        }
        del body["name"]
        error = assert_error(
            send(world.client, "POST", "/schools", world.auth("admin"), body), 422, "validation_failed"
        )
        assert set(fields_of(error)) == {"latitude", "longitude", "zzz", "name"}

    def test_transition_with_a_string_version_and_an_unknown_action(self, world):
        response = send(
            world.client,
            "POST",
            "/tickets/t_0000000000000000/transitions",
            world.auth("dispatcher"),
            {"action": "explode", "version": "one"},
        )
        error = assert_error(response, 422, "validation_failed")
        assert fields_of(error)["version"].startswith("Input should be a valid integer")
        assert "must be one of: triage" in fields_of(error)["action"]

    def test_transition_eta_without_a_time_zone(self, world):
        response = send(
            world.client,
            "POST",
            "/tickets/t_0000000000000000/transitions",
            world.auth("dispatcher"),
            {"action": "depart", "version": 1, "eta": "2026-11-24T09:30:00"},  # eta belongs to depart
        )
        error = assert_error(response, 422, "validation_failed")
        assert "time zone" in fields_of(error)["eta"]

    def test_service_level_rule_is_422_invalid_input_naming_the_field(self, world, school):
        response = send(
            world.client,
            "POST",
            "/tickets",
            world.auth("dispatcher"),
            ticket_body(school["school_id"], lamp_ids=["l_0000000000000000"]),
        )
        error = assert_error(response, 422, "invalid_input")
        assert fields_of(error) == {"lamp_ids.0": "lamp 'l_0000000000000000' does not exist"}

    def test_listing_tickets_without_any_filter_is_refused_naming_the_query(self, world):
        error = assert_error(send(world.client, "GET", "/tickets", world.auth("dispatcher")), 422, "invalid_input")
        assert set(fields_of(error)) == {"query"}


# ---- cheap refusals (issue 8): bounded answers, strict JSON types -----------------------------

KEY_ALPHABET = string.ascii_letters + string.digits
SMALL_ANSWER_BYTES = 4096  # 20 details and a count: a few hundred bytes, whatever was sent


def many_keys(n: int) -> list[str]:
    """n distinct three-character field names: 131,000 of them fit a 1 MB body."""
    return ["".join(k) for k in itertools.islice(itertools.product(KEY_ALPHABET, repeat=3), n)]


class TestCheapRefusals:
    @pytest.fixture(scope="class")
    def school(self, world: SimpleNamespace) -> dict[str, Any]:
        return make_school(world.client, world.auth)

    def test_a_megabyte_of_unknown_fields_gets_a_small_422_naming_20_and_counting_the_rest(self, world):
        keys = many_keys(131_000)
        body = json.dumps(dict.fromkeys(keys, 0), separators=(",", ":"))
        assert len(body) <= get_settings().max_body_bytes  # under the size limit: it must be read
        response = send(world.client, "POST", "/contracts", world.auth("admin"), body)
        error = assert_error(response, 422, "validation_failed")
        assert len(response.text.encode()) < SMALL_ANSWER_BYTES
        assert len(error["details"]) == 20
        # the declared fields' problems first (code and name are missing), then unknown fields in sent order
        assert error["details"][:2] == [
            {"field": "code", "problem": "Field required"},
            {"field": "name", "problem": "Field required"},
        ]
        assert error["details"][2:] == [{"field": k, "problem": "unknown field"} for k in keys[:18]]
        assert error["more_details"] == 131_000 + 2 - 20

    def test_unknown_fields_inside_a_nested_object_are_counted_the_same_way(self, world, school):
        keys = many_keys(5_000)
        body = ticket_body(school["school_id"], reporter={"name": "Ms Li", **dict.fromkeys(keys, "x")})
        response = send(world.client, "POST", "/tickets", world.auth("dispatcher"), body)
        error = assert_error(response, 422, "validation_failed")
        assert len(response.text.encode()) < SMALL_ANSWER_BYTES
        assert [d["field"] for d in error["details"]] == [f"reporter.{k}" for k in keys[:20]]
        assert error["more_details"] == 5_000 - 20

    def test_unknown_fields_beside_other_problems_are_all_counted_at_once(self, world, school):
        body = {**VALID_BODIES["createSchool"], "contract_id": school["contract_id"], "latitude": 91}
        body.update(dict.fromkeys(many_keys(30), 1))
        error = assert_error(
            send(world.client, "POST", "/schools", world.auth("admin"), body), 422, "validation_failed"
        )
        assert error["details"][0]["field"] == "latitude"
        assert len(error["details"]) == 20 and error["more_details"] == 1 + 30 - 20

    def test_at_most_20_problems_are_listed_whatever_their_kind(self, world, school):
        """40 problems in declared fields (20 contacts, each without a name and with a bad email)."""
        contacts = [{"name": "", "email": "not-an-email"} for _ in range(20)]
        body = {**VALID_BODIES["createSchool"], "contract_id": school["contract_id"], "contacts": contacts}
        error = assert_error(
            send(world.client, "POST", "/schools", world.auth("admin"), body), 422, "validation_failed"
        )
        assert len(error["details"]) == 20
        assert error["more_details"] == 40 - 20
        assert error["details"][0]["field"] == "contacts.0.name"

    def test_a_refusal_with_at_most_20_problems_has_no_more_details(self, world, school):
        error = assert_error(
            send(world.client, "POST", "/tickets", world.auth("dispatcher"), ticket_body(school["school_id"], x=1)),
            422,
            "validation_failed",
        )
        assert "more_details" not in error

    @pytest.mark.parametrize(
        ("field", "value", "problem"),
        [
            ("level", True, "Input should be a valid integer"),
            ("level", "2", "Input should be a valid integer"),
            ("level", 2.5, "Input should be a valid integer"),
            ("description", 12345, "Input should be a valid string"),
            ("lamp_ids", "l_1", "Input should be a valid array"),
            ("category", 1, "Input should be"),
        ],
        ids=[
            "bool-for-int",
            "string-for-int",
            "fraction-for-int",
            "number-for-text",
            "text-for-list",
            "number-for-enum",
        ],
    )
    def test_a_json_value_of_the_wrong_type_is_422_naming_the_field_not_coerced(
        self, world, school, field, value, problem
    ):
        error = assert_error(
            send(
                world.client,
                "POST",
                "/tickets",
                world.auth("dispatcher"),
                ticket_body(school["school_id"], **{field: value}),
            ),
            422,
            "validation_failed",
        )
        assert set(fields_of(error)) == {field}
        assert fields_of(error)[field].startswith(problem)

    @pytest.mark.parametrize("value", [True, "31.2"], ids=["bool", "string"])
    def test_a_coordinate_sent_as_a_bool_or_a_string_is_422(self, world, school, value):
        body = {**VALID_BODIES["createSchool"], "contract_id": school["contract_id"], "latitude": value}
        error = assert_error(
            send(world.client, "POST", "/schools", world.auth("admin"), body), 422, "validation_failed"
        )
        assert fields_of(error) == {"latitude": "Input should be a valid number"}

    @pytest.mark.parametrize("version", ["3", True, 1.5], ids=["string", "bool", "fraction"])
    def test_a_transition_version_that_is_not_an_integer_is_422_before_the_ticket_is_read(self, world, version):
        response = send(
            world.client,
            "POST",
            "/tickets/t_0000000000000000/transitions",
            world.auth("dispatcher"),
            {"action": "triage", "version": version, "level": 2},
        )
        error = assert_error(response, 422, "validation_failed")
        assert fields_of(error) == {"version": "Input should be a valid integer"}

    def test_strict_is_not_pedantic_iso_dates_enum_values_and_whole_numbers_for_decimals_are_read(self, world, school):
        lamp = make_lamp(world.client, world.auth, school["school_id"], installed_on="2025-08-20")
        assert lamp["installed_on"] == "2025-08-20"
        other = make_school(world.client, world.auth, school["contract_id"], latitude=31, longitude=121)
        assert (other["latitude"], other["longitude"]) == (31, 121)
        ticket = make_ticket(world.client, world.auth, school["school_id"], category="flickering", level=3)
        assert (ticket["category"], ticket["level"]) == ("flickering", 3)
        response = send(
            world.client,
            "POST",
            f"/tickets/{ticket['ticket_id']}/transitions",
            world.auth("dispatcher"),
            {"action": "triage", "version": ticket["version"]},
        )
        assert response.status == 200, response.text

    def test_query_strings_stay_text_and_are_read_as_numbers_where_declared(self, world, school):
        response = send(
            world.client, "GET", f"/tickets?school_id={school['school_id']}&level=3&limit=5", world.auth("manager")
        )
        assert response.status == 200, response.text

    @pytest.mark.parametrize(
        "body",
        ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000],
        ids=["deep-array", "deep-object"],
    )
    def test_json_nested_too_deeply_to_decode_is_400_not_a_500(self, world, body):
        response = send(world.client, "POST", "/contracts", world.auth("admin"), body)
        error = assert_error(response, 400, "malformed_body")
        assert fields_of(error) == {"(body)": "not valid JSON"}


# ---- sweeps over OPERATIONS ------------------------------------------------------------------

BODY_OPERATIONS = [op for op in OPERATIONS if op.body]
ROLE_OPERATIONS = [op for op in OPERATIONS if op.roles is not None]
PUBLIC_OPERATIONS = [op for op in OPERATIONS if op.roles is None]
PATH_OPERATIONS = [op for op in OPERATIONS if "{" in op.path]
QUERY_OPERATIONS = [op for op in OPERATIONS if op.query]
POST_WITHOUT_SCHEMA = [op for op in OPERATIONS if op.method == "POST" and not op.body]


def request_for(op: Operation, headers: dict[str, str]) -> tuple[dict[str, str], Any]:
    """Headers and a body the operation would accept (but for the ids, which were never issued)."""
    if op.raw_body_types:
        return {
            **headers,
            "Content-Type": "text/csv",
        }, CSV_HEADER + "A-101,1,EP-LED-40,SNX0000009,2025-08-20,2025-09-01\n"
    if op.body:
        assert op.operation_id in VALID_BODIES, f"add a valid body for {op.operation_id} to VALID_BODIES"
        return headers, VALID_BODIES[op.operation_id]
    if op.operation_id == "getQrLabels":
        return {**headers, "Accept": "application/pdf"}, None
    return headers, None


def body_fields(op: Operation) -> list[str]:
    model = schema(op.body or "")
    if hasattr(model, "variant_for"):  # a union told apart by a field: every variant's fields
        from chalicelib.domain.lifecycle import ACTIONS

        return list(dict.fromkeys(f for spec in ACTIONS.values() for f in spec.request.model_fields))
    return list(model.model_fields)


def wrong_type_body(op: Operation, value: Any) -> dict[str, Any]:
    return dict.fromkeys(body_fields(op), value)


class TestEveryOperation:
    def test_the_sweeps_cover_every_route_of_the_app(self, world):
        from app import app
        from chalicelib.handlers.fallback import is_fallback  # local catch-alls for unknown paths: no operation

        routes = {(path, method) for path, entries in app.routes.items() for method in entries if not is_fallback(path)}
        assert routes == {(op.path, op.method) for op in OPERATIONS}, "import the new handler module at the top"
        assert {op.operation_id for op in BODY_OPERATIONS} == set(VALID_BODIES)

    @pytest.mark.parametrize("op", BODY_OPERATIONS, ids=op_id)
    def test_unknown_field_is_422_naming_it(self, world, op):
        response = send(world.client, op.method, fill(op.path), world.auth("admin"), {"definitely_unknown_field": 1})
        error = assert_error(response, 422, "validation_failed")
        assert fields_of(error)["definitely_unknown_field"] == "unknown field"

    @pytest.mark.parametrize("op", BODY_OPERATIONS, ids=op_id)
    def test_unknown_field_beside_valid_ones_is_still_422(self, world, op):
        body = {**VALID_BODIES[op.operation_id], "definitely_unknown_field": 1}
        response = send(world.client, op.method, fill(op.path), world.auth("admin"), body)
        error = assert_error(response, 422, "validation_failed")
        assert fields_of(error) == {"definitely_unknown_field": "unknown field"}

    @pytest.mark.parametrize("kind", sorted(WRONG_TYPE_VALUES))
    @pytest.mark.parametrize("op", BODY_OPERATIONS, ids=op_id)
    def test_wrong_types_everywhere_are_422_never_5xx(self, world, op, kind):
        body = wrong_type_body(op, WRONG_TYPE_VALUES[kind])
        response = send(world.client, op.method, fill(op.path), world.auth("admin"), body)
        error = assert_error(response, 422, "validation_failed")
        assert fields_of(error) and all(f.split(".")[0] in body for f in fields_of(error)), error

    @pytest.mark.parametrize("op", POST_WITHOUT_SCHEMA, ids=op_id)
    @pytest.mark.parametrize("body", ['{"definitely_unknown_field": 1}', "{not json", "[1, 2]"])
    def test_junk_json_to_a_post_without_a_schema_is_4xx_never_5xx(self, world, op, body):
        response = send(world.client, op.method, fill(op.path), world.auth("admin"), body)
        assert 400 <= response.status < 500, response.text
        assert_error(response, response.status, response.json["error"]["code"])

    @pytest.mark.parametrize("op", PATH_OPERATIONS, ids=op_id)
    def test_unknown_ids_are_404(self, world, op):
        headers, body = request_for(op, world.auth("admin"))
        assert_error(send(world.client, op.method, fill(op.path), headers, body), 404, "not_found")

    @pytest.mark.parametrize("op", ROLE_OPERATIONS, ids=op_id)
    def test_no_token_is_401(self, world, op):
        headers, body = request_for(op, {"Content-Type": JSON_TYPE})
        response = send(world.client, op.method, fill(op.path), headers, body)
        assert_error(response, 401, "unauthenticated")
        assert header(response, "WWW-Authenticate") == "Bearer"

    @pytest.mark.parametrize("op", ROLE_OPERATIONS, ids=op_id)
    def test_token_of_another_issuer_is_401(self, world, op):
        token = signed(world.key_path, iss="https://cognito-idp.example/another-pool")
        headers, body = request_for(op, {"Content-Type": JSON_TYPE, "Authorization": f"Bearer {token}"})
        assert_error(send(world.client, op.method, fill(op.path), headers, body), 401, "unauthenticated")

    @pytest.mark.parametrize("op", ROLE_OPERATIONS, ids=op_id)
    def test_a_token_without_roles_is_403_with_the_required_roles(self, world, op):
        token = signed(world.key_path, **{"cognito:groups": []})
        headers, body = request_for(op, {"Content-Type": JSON_TYPE, "Authorization": f"Bearer {token}"})
        error = assert_error(send(world.client, op.method, fill(op.path), headers, body), 403, "forbidden")
        assert error["required_roles"] == sorted(op.roles or ())

    @pytest.mark.parametrize("op", PUBLIC_OPERATIONS, ids=op_id)
    def test_public_operations_need_no_token(self, world, op):
        headers, body = request_for(op, {})
        assert send(world.client, op.method, fill(op.path), headers, body).status in (200, 404)

    @pytest.mark.parametrize("op", QUERY_OPERATIONS, ids=op_id)
    def test_unknown_query_parameter_is_400_naming_it(self, world, op):
        headers, body = request_for(op, world.auth("admin"))
        response = send(world.client, op.method, fill(op.path) + "?definitely_unknown_param=1", headers, body)
        error = assert_error(response, 400, "invalid_query")
        assert fields_of(error) == {"query.definitely_unknown_param": "unknown field"}

    @pytest.mark.parametrize(
        "op", [op for op in QUERY_OPERATIONS if "limit" in schema(op.query or "").model_fields], ids=op_id
    )
    @pytest.mark.parametrize("limit", ["0", "abc", "-1", "1e3"])
    def test_bad_limit_is_400_naming_query_limit(self, world, op, limit):
        headers, body = request_for(op, world.auth("admin"))
        response = send(world.client, op.method, f"{fill(op.path)}?limit={limit}", headers, body)
        error = assert_error(response, 400, "invalid_query")
        assert set(fields_of(error)) == {"query.limit"}


# ---- refused requests write nothing (fresh world each) -------------------------------------


def ticket_number(ticket: dict[str, Any]) -> int:
    return int(ticket["ref"].rsplit("-", 1)[1])


def test_a_422_on_create_ticket_writes_no_ticket_no_history_and_burns_no_number(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    first = make_ticket(client, auth, school["school_id"])
    refused = [
        ticket_body(school["school_id"], lamp_ids=[lamp["lamp_id"]], definitely_unknown_field=1),  # pydantic
        ticket_body(school["school_id"], lamp_ids=[lamp["lamp_id"]], level=9),  # pydantic
        ticket_body(school["school_id"], lamp_ids=[lamp["lamp_id"], "l_0000000000000000"]),  # the service
        ticket_body(school["school_id"], lamp_ids=[lamp["lamp_id"], lamp["lamp_id"]]),  # the service: listed twice
    ]
    for body in refused:
        code, payload = call(client, "POST", "/tickets", auth("dispatcher"), body)
        assert code == 422, payload

    listed = ok(call(client, "GET", f"/tickets?school_id={school['school_id']}", auth("dispatcher")))
    assert [t["ticket_id"] for t in listed["items"]] == [first["ticket_id"]]
    assert ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}", auth("manager")))["open_tickets"] == 0
    history = ok(call(client, "GET", f"/lamps/{lamp['lamp_id']}/history", auth("manager")))
    assert [h["kind"] for h in history["items"]] == ["registered"]
    second = make_ticket(client, auth, school["school_id"])
    assert ticket_number(second) == ticket_number(first) + 1


def test_a_422_on_a_new_school_leaves_list_tickets_empty(client, auth):
    school = make_school(client, auth)
    code, _ = call(client, "POST", "/tickets", auth("dispatcher"), ticket_body(school["school_id"], level="high"))
    assert code == 422
    assert ok(call(client, "GET", f"/tickets?school_id={school['school_id']}", auth("dispatcher")))["items"] == []


def test_a_duplicate_school_code_is_409_and_writes_no_second_school(client, auth):
    school = make_school(client, auth)
    body = {
        **VALID_BODIES["createSchool"],
        "contract_id": school["contract_id"],
        "code": school["code"].lower(),
        "name": "Another name",
    }
    code, payload = call(client, "POST", "/schools", auth("admin"), body)
    assert code == 409 and payload["error"]["code"] == "conflict"
    assert payload["error"]["details"] == [{"field": "code", "problem": "already used by another school"}]
    schools = ok(call(client, "GET", f"/schools?contract_id={school['contract_id']}", auth("manager")))
    assert [s["school_id"] for s in schools["items"]] == [school["school_id"]]


def test_a_duplicate_serial_is_409_and_writes_no_lamp_no_room_no_history(client, auth):
    school = make_school(client, auth)
    lamp = make_lamp(client, auth, school["school_id"])
    body = {
        **VALID_BODIES["createLamp"],
        "school_id": school["school_id"],
        "room_id": "Z-999",
        "serial": lamp["serial"],
    }
    code, payload = call(client, "POST", "/lamps", auth("admin"), body)
    assert code == 409 and payload["error"]["details"] == [{"field": "serial", "problem": "already registered"}]
    lamps = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps", auth("manager")))
    assert [x["lamp_id"] for x in lamps["items"]] == [lamp["lamp_id"]]
    rooms = ok(call(client, "GET", f"/schools/{school['school_id']}", auth("manager")))["rooms"]
    assert "Z-999" not in [r["room_id"] for r in rooms]


def test_refused_transitions_write_no_event_and_keep_the_version(client, auth):
    school = make_school(client, auth)
    make_user("disp-9", "dispatcher")
    ticket = make_ticket(client, auth, school["school_id"])
    ticket = ok(transition(client, auth, ticket, "triage", level=2))
    attempts = [
        (transition(client, auth, ticket, "assign", assignee_id="nobody"), 422),  # no such user
        (transition(client, auth, ticket, "assign", assignee_id="disp-9"), 422),  # not a field role
        (transition(client, auth, ticket, "close"), 409),  # illegal from triaged
        (transition(client, auth, {**ticket, "version": 1}, "change_level", level=3), 409),  # stale
        (transition(client, auth, ticket, "change_level", "engineer", "eng-1", level=3), 403),  # wrong role
        (
            call(
                client,
                "POST",
                f"/tickets/{ticket['ticket_id']}/transitions",
                auth("dispatcher"),
                {"action": "change_level", "version": ticket["version"], "level": 7},
            ),
            422,
        ),  # schema
    ]
    for (code, payload), expected in attempts:
        assert code == expected, payload
    now = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}", auth("manager")))
    assert (now["status"], now["version"], now["level"]) == ("triaged", ticket["version"], 2)
    events = ok(call(client, "GET", f"/tickets/{ticket['ticket_id']}/events", auth("manager")))
    assert [e["action"] for e in events["items"]] == ["create", "triage"]


def test_replacing_with_a_registered_serial_is_409_and_changes_neither_lamp(client, auth):
    school = make_school(client, auth)
    old, other = make_lamp(client, auth, school["school_id"]), make_lamp(client, auth, school["school_id"])
    history_before = ok(call(client, "GET", f"/lamps/{old['lamp_id']}/history", auth("manager")))["items"]
    code, payload = call(
        client,
        "POST",
        f"/lamps/{old['lamp_id']}/replacement",
        auth("engineer"),
        {"serial": other["serial"], "installed_on": "2025-10-01"},
    )
    assert code == 409 and payload["error"]["code"] == "conflict"
    after = ok(call(client, "GET", f"/lamps/{old['lamp_id']}", auth("manager")))
    assert (after["status"], after.get("successor_id")) == ("in_service", None)
    assert ok(call(client, "GET", f"/lamps/{old['lamp_id']}/history", auth("manager")))["items"] == history_before
    lamps = ok(call(client, "GET", f"/schools/{school['school_id']}/lamps", auth("manager")))["items"]
    assert sorted(x["lamp_id"] for x in lamps) == sorted([old["lamp_id"], other["lamp_id"]])


def test_replacing_with_a_registered_serial_names_the_serial(client, auth):
    school = make_school(client, auth)
    old, other = make_lamp(client, auth, school["school_id"]), make_lamp(client, auth, school["school_id"])
    code, payload = call(
        client,
        "POST",
        f"/lamps/{old['lamp_id']}/replacement",
        auth("engineer"),
        {"serial": other["serial"], "installed_on": "2025-10-01"},
    )
    assert code == 409
    assert payload["error"]["details"] == [{"field": "serial", "problem": "already registered"}]


def test_a_request_without_a_body_is_served_whatever_content_type_the_client_adds(client, auth):
    """Some HTTP stacks send Content-Type on every request; a GET must not be refused for it."""
    headers = {**auth("manager"), "Content-Type": "text/plain"}
    response = client.http.get("/tickets?status=reported", headers=headers)
    assert response.status_code == 200, response.body
