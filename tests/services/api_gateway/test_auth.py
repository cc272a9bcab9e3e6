"""Unit tests of credential checking: each refusal with its reason, and API-key matching."""

from __future__ import annotations

import hashlib
import hmac
import time

import jwt
import pytest

from airscope.services.api_gateway import auth
from airscope.services.api_gateway.auth import Authenticator
from airscope.services.common import ServiceError

SECRET = "a-test-secret-long-enough-even-for-hs512-" + "0123456789" * 3
KEYS = ("first-key-0123456789", "second-key-abcdefghij")


def authenticator(secret: str | None = SECRET) -> Authenticator:
    return Authenticator(KEYS, jwt_secret=secret, issuer="platform-services", audience="airscope")


def token(secret: str = SECRET, algorithm: str = "HS256", **overrides: object) -> str:
    claims = {"sub": "user-42", "iss": "platform-services", "aud": "airscope", "exp": int(time.time()) + 60}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm=algorithm)


def refusal_reason(headers: dict[str, str], secret: str | None = SECRET) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        authenticator(secret).authenticate(headers)
    error = caught.value
    assert error.status == 401
    assert error.headers["WWW-Authenticate"].startswith('Bearer realm="airscope"')
    return error


def test_a_valid_token_identifies_its_subject() -> None:
    assert authenticator().authenticate({"authorization": f"Bearer {token()}"}) == "user:user-42"


@pytest.mark.parametrize(
    ("make_bearer", "reason"),
    [
        (lambda: jwt.encode({"sub": "u", "iss": "platform-services", "aud": "airscope", "exp": 2**40}, None, algorithm="none"), "token_not_accepted"),
        (lambda: token(secret=SECRET[::-1]), "invalid_token"),
        (lambda: token(exp=int(time.time()) - 10), "expired_token"),
        (lambda: token(aud="someone-else"), "token_not_accepted"),
        (lambda: token(iss="somebody"), "token_not_accepted"),
        (lambda: token(algorithm="HS512"), "token_not_accepted"),
        (lambda: token(exp=None), "invalid_token"),
        (lambda: "not-a-jwt", "invalid_token"),
    ],
    ids=["alg-none", "wrong-signature", "expired", "wrong-audience", "wrong-issuer", "hs512", "no-exp", "garbage"],
)  # fmt: skip
def test_each_bad_token_is_refused_with_its_reason(make_bearer, reason: str) -> None:
    # Signed when the test runs: a token signed at collection time could expire before it runs.
    bearer = make_bearer()
    error = refusal_reason({"authorization": f"Bearer {bearer}"})
    assert error.code == reason
    assert bearer not in error.message


def test_tokens_are_refused_with_a_reason_when_no_secret_is_configured() -> None:
    error = refusal_reason({"authorization": f"Bearer {token()}"}, secret=None)
    assert error.code == "token_not_accepted"
    assert "AIRSCOPE_JWT_SECRET" in error.message


def test_another_authorization_scheme_is_an_invalid_token() -> None:
    assert refusal_reason({"authorization": "Basic dXNlcjpwYXNz"}).code == "invalid_token"


def test_no_credentials_is_its_own_reason() -> None:
    assert refusal_reason({}).code == "missing_credentials"


@pytest.mark.parametrize("key", KEYS)
def test_every_configured_key_is_accepted_and_identified_by_its_digest(key: str) -> None:
    expected = "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    assert authenticator().authenticate({"x-api-key": key}) == expected


def test_a_wrong_key_is_refused_without_naming_any_key() -> None:
    error = refusal_reason({"x-api-key": KEYS[0] + "x"})
    assert error.code == "invalid_api_key"
    assert not any(key in error.message for key in KEYS)


@pytest.mark.parametrize(
    "presented", [*KEYS, "wrong-key", "x" * 500], ids=["first", "second", "wrong", "long"]
)
def test_the_key_check_is_constant_time_in_construction(
    monkeypatch: pytest.MonkeyPatch, presented: str
) -> None:
    """No early exit and nothing length-dependent: whichever key matches, or none, every configured
    key is compared once, with compare_digest, on two digests of one length. (A timing
    measurement would be noise on a shared machine; the construction is what holds.)"""
    compared: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording)
    try:
        authenticator().authenticate({"x-api-key": presented})
    except ServiceError:
        assert presented not in KEYS
    assert [known for _, known in compared] == [hashlib.sha256(key.encode()).digest() for key in KEYS]
    assert {len(a) for a, _ in compared} | {len(b) for _, b in compared} == {32}
