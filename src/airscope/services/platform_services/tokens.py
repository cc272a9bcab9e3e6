"""Access tokens (HS256 JWTs the api-gateway verifies) and refresh tokens (random, stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

ISSUER = "platform-services"
AUDIENCE = "airscope"
ALGORITHM = "HS256"


class TokenExpired(Exception):
    """The token was valid but its ``exp`` has passed."""


class TokenInvalid(Exception):
    """The token is malformed, badly signed, or not for this platform."""


@dataclass(frozen=True)
class AccessTokens:
    secret: str
    ttl_seconds: int

    def issue(self, user_id: str, *, now: float | None = None) -> str:
        issued_at = int(time.time() if now is None else now)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "iat": issued_at,
            "exp": issued_at + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises TokenExpired or TokenInvalid (the token is never in the message)."""
        try:
            return jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired from None
        except jwt.InvalidTokenError:
            raise TokenInvalid from None


def new_refresh_token() -> str:
    """256 random bits, URL-safe: only its hash is stored."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    # A plain hash suffices: the token is random and long, so nothing can be guessed from its digest.
    return hashlib.sha256(token.encode()).hexdigest()
