"""Who is calling: an API key (``X-API-Key``) or a bearer JWT issued by platform-services.

The answer is the client id the rate limiter and the upstreams see: ``key:<sha256(key)[:16]>`` or
``user:<sub>``. Neither the key nor the token is logged, traced or put into an error message.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

import jwt

from airscope.services.api_gateway.metrics import AUTH_FAILURES
from airscope.services.common import ServiceError

REALM = 'Bearer realm="airscope"'


def refusal(reason: str, message: str) -> ServiceError:
    """A 401 naming ``reason`` (one of metrics.AUTH_FAILURE_REASONS), counted once here."""
    AUTH_FAILURES.labels(reason).inc()
    challenge = (
        REALM if reason in ("missing_credentials", "invalid_api_key") else f'{REALM}, error="invalid_token"'
    )
    return ServiceError(401, reason, message, headers={"WWW-Authenticate": challenge})


class Authenticator:
    def __init__(
        self, api_keys: Iterable[str], *, jwt_secret: str | None, issuer: str, audience: str
    ) -> None:
        # Digests have one length whatever the key's, so comparing them reveals no key's length.
        self._key_digests = tuple(hashlib.sha256(key.encode()).digest() for key in api_keys)
        self._jwt_secret = jwt_secret
        self._issuer = issuer
        self._audience = audience

    def authenticate(self, headers: Mapping[str, str]) -> str:
        """The caller's client id; raises the 401 ServiceError when the credentials do not hold."""
        api_key = headers.get("x-api-key")
        if api_key is not None:
            return self.check_api_key(api_key)
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise refusal("invalid_token", "the Authorization header must be 'Bearer <token>'")
            return self.check_token(token.strip())
        raise refusal(
            "missing_credentials", "this route needs an X-API-Key header or an Authorization: Bearer token"
        )

    def check_api_key(self, api_key: str) -> str:
        # Starlette decoded the header as latin-1: encoding back gives the bytes the client sent.
        digest = hashlib.sha256(api_key.encode("latin-1")).digest()
        matched = False
        for known in self._key_digests:  # every key compared, so timing says nothing about which one
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise refusal("invalid_api_key", "the X-API-Key is not valid")
        return "key:" + digest.hex()[:16]

    def check_token(self, token: str) -> str:
        if self._jwt_secret is None:
            raise refusal(
                "token_not_accepted",
                "bearer tokens are not accepted: the gateway has no AIRSCOPE_JWT_SECRET; use an X-API-Key",
            )
        try:
            claims = jwt.decode(
                token,
                self._jwt_secret,
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise refusal("expired_token", "the bearer token has expired; log in again") from None
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError, jwt.InvalidAlgorithmError):
            raise refusal(
                "token_not_accepted",
                f"the bearer token is not for this API (HS256, issuer {self._issuer!r}, "
                f"audience {self._audience!r} required)",
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise refusal("invalid_token", f"the bearer token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError:
            raise refusal(
                "invalid_token", "the bearer token is malformed or its signature is wrong"
            ) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise refusal("invalid_token", "the bearer token's 'sub' claim must be a non-empty string")
        return "user:" + subject
