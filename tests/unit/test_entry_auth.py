"""chalicelib.entry.auth: a bearer token to a Principal, then the role check (no HTTP needed)."""

from __future__ import annotations

import pytest

from chalicelib.auth import Role, issue_local_token
from chalicelib.entry import auth
from chalicelib.errors import Forbidden, Unauthenticated


@pytest.fixture
def bearer(test_environment):
    auth.reset_caches()

    def make(*roles: str, sub: str = "user-1") -> str:
        token = issue_local_token(
            key_path=str(test_environment),
            issuer="lampcare-local",
            audience="lampcare-local",
            sub=sub,
            roles=list(roles),
        )
        return f"Bearer {token}"

    yield make
    auth.reset_caches()


def test_a_valid_token_gives_the_caller_and_their_roles(bearer):
    principal = auth.authenticate(bearer("dispatcher", sub="disp-1"))
    assert (principal.sub, principal.roles) == ("disp-1", frozenset({Role.DISPATCHER}))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer not-a-token"])
def test_a_missing_or_bad_token_is_unauthenticated(bearer, header):
    with pytest.raises(Unauthenticated):
        auth.authenticate(header)


def test_a_caller_without_the_role_is_told_which_roles_would_do(bearer):
    with pytest.raises(Forbidden) as caught:
        auth.require(bearer("engineer"), [Role.ADMIN, Role.DISPATCHER])
    assert caught.value.extra == {"required_roles": ["admin", "dispatcher"]}


def test_the_token_is_checked_before_the_role(bearer):
    with pytest.raises(Unauthenticated):
        auth.require(None, [])


def test_a_caller_with_one_of_the_roles_passes(bearer):
    assert auth.require(bearer("expert", "engineer"), [Role.ENGINEER]).sub == "user-1"
