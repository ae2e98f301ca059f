"""Who is calling, and may they: a bearer token to a `Principal`, then the role check.

Routes pass the Authorization header; a Step Functions task or a queue message that carries a
user's token passes the same string. One verifier per process (it caches the signing keys);
`reset_caches` is for tests that change the environment. Must never import chalice; jwt loads
on the first verification (chalicelib.auth).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from chalicelib.auth import Principal, Role, TokenVerifier
from chalicelib.errors import Forbidden
from chalicelib.settings import get_settings


@lru_cache(maxsize=1)
def verifier() -> TokenVerifier:
    s = get_settings()
    return TokenVerifier(
        issuer=s.auth_issuer, audience=s.auth_audience, jwks_url=s.auth_jwks_url, local_key_path=s.auth_local_key_path
    )


def reset_caches() -> None:
    """Tests call this after changing the environment."""
    verifier.cache_clear()
    get_settings.cache_clear()


def authenticate(authorization: str | None) -> Principal:
    """`Bearer <token>` to the caller; Unauthenticated (401) when missing, malformed or not ours."""
    return verifier().verify(authorization)


def authorize(principal: Principal, roles: Iterable[Role]) -> Principal:
    """Forbidden (403) naming the roles that would do, unless the caller holds one of them."""
    allowed = frozenset(roles)
    if not principal.has_any(allowed):
        raise Forbidden(
            f"this action needs one of the roles: {', '.join(sorted(allowed))}",
            extra={"required_roles": sorted(allowed)},
        )
    return principal


def require(authorization: str | None, roles: Iterable[Role]) -> Principal:
    """Both steps, in the order that discloses nothing: the token, then the role (then the input)."""
    return authorize(authenticate(authorization), roles)
