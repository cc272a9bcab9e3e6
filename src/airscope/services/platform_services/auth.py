"""Registration, login, token refresh and logout, and who a bearer token belongs to.

Failed password logins are limited in PostgreSQL (``login_failures``), so every replica and a
restart see the same counts, twice over:

- per account: PLATFORM_LOGIN_MAX_FAILURES failures for one email within
  PLATFORM_LOGIN_WINDOW_SECONDS (password guessing against one account);
- per client: PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT failures from one client address within the
  same window, whatever the accounts (credential stuffing: one client, many accounts).

Either answers 429 with Retry-After (until the oldest failure leaves the window) and a message
naming the limit. The limits are checked before the password is, so a locked caller costs no hashing.
"""

from __future__ import annotations

import ipaddress
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from airscope.services.common import ServiceError
from airscope.services.platform_services import activity, metrics, users
from airscope.services.platform_services.config import Config
from airscope.services.platform_services.db import timed
from airscope.services.platform_services.models import RefreshToken, User
from airscope.services.platform_services.passwords import Passwords
from airscope.services.platform_services.tokens import (
    AccessTokens,
    TokenExpired,
    TokenInvalid,
    hash_refresh_token,
    new_refresh_token,
)
from airscope.telemetry import get_logger

log = get_logger(__name__)

BEARER_CHALLENGE = 'Bearer realm="airscope"'
UNKNOWN_CLIENT = "unknown"
# What a refused login is told, by the limit that refused it (metrics.LOGIN_LIMIT_SCOPES).
LIMIT_MESSAGES = {
    "account": "too many failed logins for this account; try again later",
    "client": "too many failed logins from this client address, whatever the accounts; try again later",
}


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def _attempt(method: str, outcome: str) -> None:
    metrics.AUTH_ATTEMPTS.labels(method, outcome).inc()


def _invalid_credentials() -> ServiceError:
    return ServiceError(401, "invalid_credentials", "the email or the password is wrong")


def _invalid_refresh_token() -> ServiceError:
    return ServiceError(
        401, "invalid_refresh_token", "the refresh token is unknown, expired or revoked; log in again"
    )


def _token_refusal(code: str, message: str) -> ServiceError:
    return ServiceError(
        401, code, message, headers={"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'}
    )


def client_key(forwarded_for: Sequence[str], peer: str | None) -> str:
    """Who is logging in, for the per-client limit: the right-most ``X-Forwarded-For`` hop.

    The api-gateway replaces whatever X-Forwarded-For its caller sent with the one address it saw
    (api_gateway/proxy.py), and a proxy appends to the header: the right-most hop is the one the
    last proxy in front of this service wrote, so nothing a caller puts to the left of it counts.
    Without the header (a caller inside the platform) or with a hop that is no IP address, the
    peer's address. An IPv6 client counts by its /64: one host gets a whole /64 to rotate through.
    """
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for candidate in ([hops[-1]] if hops else []) + [peer or ""]:
        try:
            address = ipaddress.ip_address(candidate.strip("[]"))
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ipaddress.IPv6Network((address, 64), strict=False))
        return str(address)
    return UNKNOWN_CLIENT


class Auth:
    def __init__(self, config: Config, passwords: Passwords) -> None:
        self.passwords = passwords
        self.access_tokens = AccessTokens(config.jwt_secret, config.access_token_ttl_seconds)
        self.refresh_ttl = timedelta(seconds=config.refresh_token_ttl_seconds)
        self.max_failures = {
            "account": config.login_max_failures,
            "client": config.login_max_failures_per_client,
        }
        self.failure_window = timedelta(seconds=config.login_window_seconds)

    async def register(
        self, session: AsyncSession, email: str, password: str, display_name: str | None
    ) -> User:
        password_hash = await self.passwords.hash(password)
        try:
            return await users.insert_user(session, email, password_hash, display_name)
        except users.EmailTaken:
            raise ServiceError(409, "email_taken", "an account with this email exists already") from None

    async def login(self, session: AsyncSession, email: str, password: str, client: str) -> TokenPair:
        """``client`` is client_key()'s answer for the request."""
        # Read, then let the connection go while the password is hashed (tens of milliseconds).
        async with session.begin():
            account, of_client = await users.recent_failures(session, email, client, self.failure_window)
            # The broader limit first: a stuffing client is told so whichever account it tries.
            refusing = next(
                (
                    (scope, failures)
                    for scope, failures in (("client", of_client), ("account", account))
                    if failures.count >= self.max_failures[scope]
                ),
                None,
            )
            user = None if refusing else await users.by_email(session, email)
        if refusing is not None:
            scope, failures = refusing
            _attempt("password", "rate_limited")
            metrics.LOGIN_RATE_LIMITED.labels(scope).inc()
            if scope == "client":
                # What an operator blocks (LoginAbuse's runbook); an account's email is never logged.
                log.warning("login refused: too many failed logins from this client", client=client)
            raise ServiceError(
                429,
                "too_many_attempts",
                LIMIT_MESSAGES[scope],
                headers={"Retry-After": str(max(1, math.ceil(failures.retry_after)))},
            )
        matched = await self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not matched:
            async with session.begin():
                await users.add_failure(session, email, client, self.failure_window)
            _attempt("password", "invalid_credentials")
            raise _invalid_credentials()
        rehashed = (
            await self.passwords.hash(password) if self.passwords.needs_rehash(user.password_hash) else None
        )
        async with session.begin():
            await users.clear_failures(session, email)
            if rehashed is not None:
                await users.update_password_hash(session, user.id, rehashed)
            pair = await self._issue(session, user.id, family_id=uuid.uuid4())
            await activity.record(session, "login", f"user:{user.id}")
        _attempt("password", "success")
        return pair

    async def refresh(self, session: AsyncSession, refresh_token: str) -> TokenPair:
        now = datetime.now(UTC)
        async with session.begin():
            with timed("refresh_token_for_update"):
                stored = await session.scalar(
                    select(RefreshToken)
                    .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
                    .with_for_update()
                )
            if stored is None:
                outcome = "invalid_token"
            elif stored.revoked_at is not None:
                # A rotated token presented again: it leaked, or a client lost a race. Either way
                # no token of that login can be trusted any more.
                outcome = "invalid_token"
                await self._revoke_family(session, stored.family_id, "reuse")
            elif stored.expires_at <= now:
                outcome = "expired"
            else:
                outcome = "success"
                with timed("revoke_refresh_token"):
                    stored.revoked_at = now
                    await session.flush()
                pair = await self._issue(session, stored.user_id, family_id=stored.family_id)
        _attempt("refresh", outcome)
        if outcome != "success":
            raise _invalid_refresh_token()
        return pair

    async def logout(self, session: AsyncSession, refresh_token: str) -> None:
        """Ends the login the token belongs to (every token rotated from it); unknown tokens are ignored."""
        async with session.begin():
            family = (
                select(RefreshToken.family_id)
                .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
                .scalar_subquery()
            )
            await self._revoke_family(session, family, "logout")

    async def revoke_user_tokens(self, session: AsyncSession, email: str) -> tuple[User, int] | None:
        """Revokes every refresh token of the account ``email`` (an operator's response to a possible
        takeover); answers the user and how many tokens were live, or None for no such account.
        Access tokens already issued stay valid until they expire (PLATFORM_ACCESS_TOKEN_TTL_SECONDS):
        the gateway verifies them without asking here."""
        async with session.begin():
            user = await users.by_email(session, email)
            if user is None:
                return None
            with timed("revoke_user_tokens"):
                result = await session.execute(
                    update(RefreshToken)
                    .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=datetime.now(UTC))
                )
        revoked = result.rowcount or 0
        metrics.REFRESH_TOKENS_REVOKED.labels("operator").inc(revoked)
        log.warning("refresh tokens revoked by an operator", user_id=str(user.id), tokens=revoked)
        return user, revoked

    async def user_for(self, session: AsyncSession, authorization: str | None) -> User:
        """The user of an ``Authorization: Bearer <access token>`` header; 401 otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            _attempt("token", "invalid_token")
            raise _token_refusal(
                "invalid_token", "send the access token in the Authorization header, scheme Bearer"
            )
        try:
            claims = self.access_tokens.verify(token.strip())
            user_id = uuid.UUID(claims["sub"])
        except TokenExpired:
            _attempt("token", "expired")
            raise _token_refusal(
                "expired_token", "the access token has expired; refresh it or log in again"
            ) from None
        except (TokenInvalid, ValueError, TypeError, AttributeError):
            _attempt("token", "invalid_token")
            raise _token_refusal(
                "invalid_token", "the access token is malformed, badly signed or not for this API"
            ) from None
        async with session.begin():
            user = await users.by_id(session, user_id)
        if user is None:
            _attempt("token", "invalid_token")
            raise _token_refusal("invalid_token", "the access token's account no longer exists")
        _attempt("token", "success")
        return user

    async def _issue(self, session: AsyncSession, user_id: uuid.UUID, *, family_id: uuid.UUID) -> TokenPair:
        refresh_token = new_refresh_token()
        with timed("insert_refresh_token"):
            await session.execute(
                insert(RefreshToken).values(
                    id=uuid.uuid4(),
                    token_hash=hash_refresh_token(refresh_token),
                    user_id=user_id,
                    family_id=family_id,
                    expires_at=datetime.now(UTC) + self.refresh_ttl,
                )
            )
        pair = TokenPair(
            access_token=self.access_tokens.issue(str(user_id)),
            refresh_token=refresh_token,
            expires_in=self.access_tokens.ttl_seconds,
        )
        metrics.AUTH_TOKENS_ISSUED.labels("access").inc()
        metrics.AUTH_TOKENS_ISSUED.labels("refresh").inc()
        return pair

    async def _revoke_family(self, session: AsyncSession, family_id: object, reason: str) -> None:
        with timed("revoke_token_family"):
            result = await session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        metrics.REFRESH_TOKENS_REVOKED.labels(reason).inc(result.rowcount or 0)
