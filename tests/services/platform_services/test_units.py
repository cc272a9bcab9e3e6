"""The small pieces of platform-services on their own: tokens, password hashing, configuration."""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest
from argon2 import PasswordHasher

from airscope.services.common import ConfigError
from airscope.services.platform_services.auth import UNKNOWN_CLIENT, client_key
from airscope.services.platform_services.config import sqlalchemy_url
from airscope.services.platform_services.passwords import Passwords
from airscope.services.platform_services.tokens import (
    AccessTokens,
    TokenExpired,
    TokenInvalid,
    hash_refresh_token,
    new_refresh_token,
)

SECRET = "unit-test-secret-of-32-bytes-at-least"


def cheap_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_access_token_carries_the_contract_claims() -> None:
    tokens = AccessTokens(SECRET, ttl_seconds=900)
    token = tokens.issue("user-1", now=1_000_000_000)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert claims["iss"] == "platform-services" and claims["aud"] == "airscope"
    assert claims["sub"] == "user-1"
    assert claims["exp"] - claims["iat"] == 900
    assert len(claims["jti"]) == 32
    assert tokens.issue("user-1", now=1_000_000_000) != token  # a fresh jti each time


def test_access_token_round_trip_and_refusals() -> None:
    tokens = AccessTokens(SECRET, ttl_seconds=60)
    assert tokens.verify(tokens.issue("user-2"))["sub"] == "user-2"
    with pytest.raises(TokenExpired):
        tokens.verify(tokens.issue("user-2", now=time.time() - 3600))
    with pytest.raises(TokenInvalid):
        AccessTokens("another-secret-of-32-bytes-at-least!", 60).verify(tokens.issue("user-2"))
    foreign = jwt.encode(
        {"iss": "platform-services", "aud": "elsewhere", "sub": "u", "iat": 0, "exp": 2**31, "jti": "x"},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenInvalid):
        tokens.verify(foreign)
    with pytest.raises(TokenInvalid):
        tokens.verify("not.a.jwt")


def test_refresh_tokens_are_random_and_stored_as_sha256() -> None:
    first, second = new_refresh_token(), new_refresh_token()
    assert first != second and len(first) >= 43
    assert hash_refresh_token(first) == hashlib.sha256(first.encode()).hexdigest()


@pytest.mark.anyio
async def test_passwords_verify_and_unknown_users_never_match() -> None:
    passwords = Passwords(cheap_hasher())
    stored = await passwords.hash("correct horse")
    assert "correct horse" not in stored
    assert await passwords.verify(stored, "correct horse")
    assert not await passwords.verify(stored, "wrong horse")
    # No account: checked against the dummy hash, and never a match, even for its own text.
    assert not await passwords.verify(None, "correct horse")
    assert not await passwords.verify("not-a-hash", "correct horse")


@pytest.mark.anyio
async def test_hashes_made_with_other_parameters_need_rehashing() -> None:
    old = await Passwords(cheap_hasher()).hash("pw-12345678")
    current = Passwords(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert current.needs_rehash(old)
    assert not current.needs_rehash(await current.hash("pw-12345678"))
    assert await current.verify(old, "pw-12345678")  # old hashes still verify


def test_database_url_gets_the_asyncpg_driver() -> None:
    assert sqlalchemy_url("postgresql://u:p%40ss@127.0.0.1:5432/db") == (
        "postgresql+asyncpg://u:p%40ss@127.0.0.1:5432/db"
    )
    assert sqlalchemy_url("postgres://u@h/db").startswith("postgresql+asyncpg://")
    with pytest.raises(ConfigError):
        sqlalchemy_url("mysql://u@h/db")


@pytest.mark.parametrize(
    ("forwarded_for", "peer", "client"),
    [
        ([], "10.0.0.5", "10.0.0.5"),  # no proxy in front: the peer
        (["203.0.113.7"], "10.0.0.5", "203.0.113.7"),  # what the gateway wrote
        (["198.51.100.1, 203.0.113.7"], "10.0.0.5", "203.0.113.7"),  # a forged hop to the left
        (["198.51.100.1", "203.0.113.7"], "10.0.0.5", "203.0.113.7"),  # two headers: the last
        (["not-an-address"], "10.0.0.5", "10.0.0.5"),  # garbage names no new client
        (["not-an-address"], None, UNKNOWN_CLIENT),
        (["2001:db8:1:2:aaaa::1"], None, "2001:db8:1:2::/64"),  # IPv6 by its /64
        (["[2001:db8:1:2::ffff]"], None, "2001:db8:1:2::/64"),
        (["::ffff:203.0.113.7"], None, "203.0.113.7"),  # IPv4-mapped is the IPv4 address
    ],
)
def test_the_client_of_a_login_is_the_right_most_forwarded_hop(
    forwarded_for: list[str], peer: str | None, client: str
) -> None:
    assert client_key(forwarded_for, peer) == client
