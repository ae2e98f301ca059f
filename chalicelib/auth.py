"""Bearer-token verification and roles.

Deployed stages receive ID tokens of the stage's OIDC issuer (RS256, keys from its JWKS URL:
a Cognito user pool in a global region, Authing, Keycloak or another provider in AWS China; the
roles come from the token's `cognito:groups` claim, which other providers are configured to emit);
local and test stages receive tokens signed by a local RSA key with the same claims
(`sub`, `cognito:groups`, and for a school's account `custom:school_id`). Both are
verified here by the same code path; only the key source differs. Must never import
chalice or boto3.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib.errors import Unauthenticated


class Role(StrEnum):
    ENGINEER = "engineer"
    EXPERT = "expert"  # line-2 expert group
    DISPATCHER = "dispatcher"
    PARTS_MANAGER = "parts_manager"
    PROJECT_LEAD = "project_lead"
    MANAGER = "manager"
    TECHNICAL_MANAGER = "technical_manager"  # 技术经理: the top of D-S4's ladder, told of red faults
    ADMIN = "admin"
    # A school's own staff (D-A3), limited to the school named by the token's SCHOOL_CLAIM.
    # Not one of the supplier's roles: a route lists it only where a school may call it.
    SCHOOL_STAFF = "school_staff"


ALL_ROLES = frozenset(Role)
# The supplier's people: every role but a school's. Routes open to "all staff" use this, never `list(Role)`.
STAFF = ALL_ROLES - {Role.SCHOOL_STAFF}

# A Cognito custom attribute reaches the ID token as `custom:<name>`; local tokens use the same claim.
SCHOOL_CLAIM = "custom:school_id"


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[Role]
    name: str = ""
    school_id: str | None = None  # set for school staff only: the one school they may see (D-A3)

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)

    @property
    def primary_role(self) -> str:
        return sorted(r.value for r in self.roles)[0] if self.roles else ""


def _roles_from_claims(claims: dict[str, Any]) -> frozenset[Role]:
    groups = claims.get("cognito:groups") or []
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise Unauthenticated("invalid token: cognito:groups must be a list of group names")
    roles = frozenset(Role(g) for g in groups if g in Role._value2member_map_)
    # A school's account is never also a supplier's: a user put in both groups by mistake is read as
    # school staff only, so that a wrong group can narrow what a school sees but never widen it.
    return frozenset({Role.SCHOOL_STAFF}) if Role.SCHOOL_STAFF in roles else roles


def _school_from_claims(claims: dict[str, Any], roles: frozenset[Role]) -> str | None:
    """The school of a school_staff token; other tokens are not limited to a school (the claim is ignored)."""
    if Role.SCHOOL_STAFF not in roles:
        return None
    school_id = claims.get(SCHOOL_CLAIM)
    if not isinstance(school_id, str) or not school_id.strip():
        raise Unauthenticated(f"invalid token: a school_staff token must name its school in {SCHOOL_CLAIM}")
    return school_id.strip()


class TokenVerifier:
    """Verifies RS256 tokens against a local key file or a JWKS URL."""

    def __init__(self, *, issuer: str, audience: str, jwks_url: str = "", local_key_path: str = ""):
        if not jwks_url and not local_key_path:
            raise ValueError("either jwks_url or local_key_path is required")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.local_key_path = local_key_path
        self._jwk_client: Any = None
        self._local_key: Any = None

    def _signing_key(self, token: str) -> Any:
        import jwt  # deferred: cryptography costs ~80 ms of cold start

        if self.jwks_url:
            if self._jwk_client is None:
                self._jwk_client = jwt.PyJWKClient(self.jwks_url, cache_keys=True)
            return self._jwk_client.get_signing_key_from_jwt(token).key
        if self._local_key is None:
            self._local_key = jwt.PyJWK.from_dict(public_jwk(load_local_private_jwk(self.local_key_path))).key
        return self._local_key

    def verify(self, authorization_header: str | None) -> Principal:
        import jwt

        if not authorization_header:
            raise Unauthenticated("missing bearer token")
        scheme, _, token = authorization_header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        try:
            claims = jwt.decode(
                token.strip(),
                self._signing_key(token.strip()),
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub", "exp", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        if not isinstance(claims["sub"], str) or not claims["sub"].strip():
            raise Unauthenticated("invalid token: sub must name the user")
        roles = _roles_from_claims(claims)
        return Principal(
            sub=claims["sub"],
            roles=roles,
            name=claims.get("name", ""),
            school_id=_school_from_claims(claims, roles),
        )


def gateway_context(principal: Principal) -> dict[str, str]:
    """What the gateway's authorizer hands on to the request ($context.authorizer.*: strings only).
    For logs and access logs; the function still derives the caller from the token itself."""
    return {
        "sub": principal.sub,
        "roles": ",".join(sorted(r.value for r in principal.roles)),
        "school_id": principal.school_id or "",
    }


@lru_cache(maxsize=4)
def load_local_private_jwk(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


def public_jwk(private_jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: private_jwk[k] for k in ("kty", "n", "e", "kid", "alg", "use") if k in private_jwk}


def create_local_key(path: str) -> None:
    """Writes a new RSA signing key as a private JWK (local and test stages only)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    jwk.update({"kid": "lampcare-local", "alg": "RS256", "use": "sig"})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(jwk))
    target.chmod(0o600)
    load_local_private_jwk.cache_clear()


def issue_local_token(
    *,
    key_path: str,
    issuer: str,
    audience: str,
    sub: str,
    roles: list[str],
    name: str = "",
    school_id: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """Mints a token with Cognito's claim names, signed by the local key; `school_id` for school staff."""
    import jwt

    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "cognito:groups": roles,
        "name": name,
        "iss": issuer,
        "aud": audience,
        "token_use": "id",
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if school_id is not None:
        claims[SCHOOL_CLAIM] = school_id
    key = jwt.PyJWK.from_dict(load_local_private_jwk(key_path)).key
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "lampcare-local"})
