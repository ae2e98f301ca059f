"""The deployed gateway's Lambda authorizer (handlers/gateway_auth): a token of the stage's OIDC issuer,
verified against the issuer's JWKS URL by the function's own code, allows the API; anything else is 401.

The issuer here is a JWKS document served over HTTP, as Keycloak, Authing or a Cognito user pool serve
theirs: nothing local-key specific is on this path."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.entry import auth

ISSUER = "https://id.example.cn/realms/lampcare"
AUDIENCE = "lampcare-app"
METHOD_ARN = "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/api/GET/tickets/t-1"


def _jwk(key: Any, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "alg": "RS256", "use": "sig"}


@pytest.fixture
def issuer(test_environment, monkeypatch) -> Iterator[Any]:
    """An OIDC issuer's JWKS on http://127.0.0.1:<port>/jwks.json and a function that signs its tokens."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = json.dumps({"keys": [_jwk(key, "issuer-key-1")]}).encode()
    fetched = []

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("LAMPCARE_AUTH_LOCAL_KEY_PATH")
    monkeypatch.setenv("LAMPCARE_AUTH_JWKS_URL", f"http://127.0.0.1:{server.server_port}/jwks.json")
    monkeypatch.setenv("LAMPCARE_AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("LAMPCARE_AUTH_AUDIENCE", AUDIENCE)
    auth.reset_caches()

    def sign(signing_key: Any = key, kid: str = "issuer-key-1", **claims: Any) -> str:
        now = int(time.time())
        base = {"sub": "eng-7", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
        base.update({"cognito:groups": ["engineer"]} | claims)
        return "Bearer " + jwt.encode(base, signing_key, algorithm="RS256", headers={"kid": kid})

    sign.fetched = fetched  # type: ignore[attr-defined]
    yield sign
    server.shutdown()
    auth.reset_caches()


def _invoke(header: str) -> dict[str, Any]:
    from chalicelib.handlers import gateway_auth

    event = {"type": "TOKEN", "authorizationToken": header, "methodArn": METHOD_ARN}
    result: dict[str, Any] = gateway_auth.jwt_authorizer(event, None)
    return result


def test_a_valid_token_allows_the_whole_api_and_names_the_caller(issuer):
    result = _invoke(issuer(sub="school-9", **{"cognito:groups": ["school_staff"], "custom:school_id": "sch-1"}))
    assert result["principalId"] == "school-9"
    [statement] = result["policyDocument"]["Statement"]
    # The answer is cached per token for every route, so it allows all of them: the function checks the role.
    # The partition, region, account, API and stage come from the request's ARN (aws-cn here).
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": ["arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/api/*/*"],
    }
    assert result["context"] == {"sub": "school-9", "roles": "school_staff", "school_id": "sch-1"}
    assert issuer.fetched == ["/jwks.json"]


def test_the_issuer_keys_are_fetched_once_per_container(issuer):
    for sub in ("a", "b", "c"):
        assert _invoke(issuer(sub=sub))["principalId"] == sub
    assert issuer.fetched == ["/jwks.json"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda sign: sign(exp=int(time.time()) - 60), id="expired"),
        pytest.param(lambda sign: sign(aud="another-app"), id="another-audience"),
        pytest.param(lambda sign: sign(iss="https://cognito-idp.example/another-pool"), id="another-issuer"),
        pytest.param(
            lambda sign: sign(signing_key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            id="signed-by-another-key",
        ),
        pytest.param(lambda sign: sign(**{"cognito:groups": ["school_staff"]}), id="school-staff-without-school"),
        pytest.param(lambda sign: sign().replace("Bearer ", "Basic "), id="not-bearer"),
        pytest.param(lambda sign: "", id="missing"),
    ],
)
def test_a_bad_or_expired_token_is_unauthorized(issuer, make):
    """API Gateway turns exactly this error into its 401 (our UNAUTHORIZED gateway response)."""
    with pytest.raises(Exception, match="^Unauthorized$"):
        _invoke(make(issuer))


def test_a_token_in_none_of_our_groups_is_denied(issuer):
    result = _invoke(issuer(**{"cognito:groups": ["some-other-app"]}))
    assert result["principalId"] == "eng-7"
    assert result["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": METHOD_ARN}
    ]
