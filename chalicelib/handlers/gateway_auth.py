"""The deployed gateway's Lambda authorizer: API Gateway asks it about a bearer token before a route runs.

It verifies the token with the same code the function uses (`chalicelib.entry.auth.authenticate`: the
stage's OIDC issuer, audience and JWKS URL), so any standard OIDC provider works in any partition
(Cognito user pools where the region has them; Authing, Keycloak and the like in AWS China). The
answer is cached by API Gateway per token for `TTL_SECONDS`, so it allows the whole API (`*`): the role
of each route is checked again in the function, which also refuses a token that expired while cached.

Registered only where `LAMPCARE_GATEWAY_AUTHORIZER=jwt` (handlers/_api.gateway_authorizer); its Lambda
imports this module, not app.py.
"""

from __future__ import annotations

from typing import Any

from chalice import AuthResponse, Blueprint
from chalice.app import AuthRequest

from chalicelib.auth import gateway_context
from chalicelib.entry import auth
from chalicelib.errors import Unauthenticated

blueprint = Blueprint(__name__)

NAME = "jwt_authorizer"
TTL_SECONDS = 300  # a token's decision is reused this long; the function still verifies every request


@blueprint.authorizer(ttl_seconds=TTL_SECONDS, name=NAME)
def jwt_authorizer(auth_request: AuthRequest) -> AuthResponse | dict[str, Any]:
    try:
        principal = auth.authenticate(auth_request.token)
    except Unauthenticated:
        # This exact message is API Gateway's 401 (its UNAUTHORIZED response, in our error shape).
        raise Exception("Unauthorized") from None  # noqa: TRY002 - the contract of a Lambda authorizer
    if not principal.roles:  # signed by our issuer but in none of our groups: nothing here is theirs (403)
        return {
            "principalId": principal.sub,
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": auth_request.method_arn}],
            },
        }
    return AuthResponse(routes=["*"], principal_id=principal.sub, context=gateway_context(principal))
