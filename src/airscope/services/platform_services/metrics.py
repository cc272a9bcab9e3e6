"""platform-services' domain metrics: sign-ins, issued tokens, activity, and the database's work."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

AUTH_METHODS = ("password", "refresh", "token")
AUTH_OUTCOMES = ("success", "invalid_credentials", "invalid_token", "expired", "rate_limited")
# Which outcome each method can have, so only series that can move are created up front.
AUTH_OUTCOMES_BY_METHOD = {
    "password": ("success", "invalid_credentials", "rate_limited"),
    "refresh": ("success", "invalid_token", "expired"),
    "token": ("success", "invalid_token", "expired"),
}
# Which limit refused a login: too many failures for the account, or from the client address.
LOGIN_LIMIT_SCOPES = ("account", "client")
TOKEN_TYPES = ("access", "refresh")
# Why refresh tokens were revoked: a logout ends a login; a rotated token presented again revokes its
# whole login (it leaked, or a client lost a race); an operator revokes every login of a user.
REVOCATION_REASONS = ("logout", "reuse", "operator")
ACTIVITY_TYPES = ("login", "chat", "upload", "saga")
# Every query the service sends has one of these names.
DB_OPERATIONS = (
    "migrate",
    "user_by_email",
    "user_by_id",
    "insert_user",
    "update_password_hash",
    "login_failures",
    "insert_login_failure",
    "clear_login_failures",
    "insert_refresh_token",
    "refresh_token_for_update",
    "revoke_refresh_token",
    "revoke_token_family",
    "revoke_user_tokens",
    "insert_event",
    "activity_by_day",
    "active_users",
    "claim_idempotency_key",
    "idempotent_response",
    "store_idempotent_response",
    "insert_workspace",
    "workspace_by_id",
    "list_workspaces",
    "soft_delete_workspace",
)
# Indexed single-row queries take about a millisecond; the analytics query over 90 days and a
# migration take longer, and a pool waiting for a connection can reach seconds.
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

AUTH_ATTEMPTS = Counter(
    "auth_attempts_total",
    "Authentication attempts by method (password: /auth/login, refresh: /auth/refresh, token: a bearer "
    "token at /auth/me) and outcome (success, invalid_credentials, invalid_token, expired, rate_limited).",
    ["method", "outcome"],
)
LOGIN_RATE_LIMITED = Counter(
    "auth_login_rate_limited_total",
    "Password logins refused with 429 before the password was checked, by the limit that refused "
    "them (scope: account, PLATFORM_LOGIN_MAX_FAILURES failures for the address within "
    "PLATFORM_LOGIN_WINDOW_SECONDS; client, PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT failures from one "
    "client address, any accounts: credential stuffing). Each is also one "
    'auth_attempts_total{method="password", outcome="rate_limited"}.',
    ["scope"],
)
AUTH_TOKENS_ISSUED = Counter(
    "auth_tokens_issued_total",
    "Tokens issued at login and refresh, by type (access, refresh).",
    ["type"],
)
REFRESH_TOKENS_REVOKED = Counter(
    "auth_refresh_tokens_revoked_total",
    "Refresh tokens revoked, by reason (logout; reuse: a rotated token presented again revoked its "
    "login; operator: `airscope users revoke-tokens`, every login of one user). Rotation at refresh "
    "is not counted: it is auth_tokens_issued_total's other half.",
    ["reason"],
)
ACTIVE_USERS = Gauge(
    "platform_active_users",
    "Distinct users with an activity event in the last 15 minutes (read from PostgreSQL, so every "
    "replica reports the same value: read it with max()), refreshed every "
    "PLATFORM_ACTIVE_USERS_REFRESH_SECONDS.",
)
ACTIVITY_EVENTS = Counter(
    "activity_events_total",
    "Activity events this replica recorded, by type (login, chat, upload, saga).",
    ["type"],
)
DB_QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "Duration of each database query (waiting for a pool connection included), by operation name.",
    ["operation"],
    buckets=DB_BUCKETS,
)
DB_POOL_CONNECTIONS = Gauge(
    "db_pool_connections",
    "Connections to PostgreSQL in the SQLAlchemy pool, by state (in_use, idle), read at scrape time.",
    ["state"],
)
DB_POOL_CONNECTIONS_LIMIT = Gauge(
    "db_pool_connections_limit",
    "The most connections the pool may open (PLATFORM_DB_POOL_SIZE + PLATFORM_DB_MAX_OVERFLOW).",
)

# Every series exists from the start, so a rate() over them has a baseline before the first event.
for _method, _outcomes in AUTH_OUTCOMES_BY_METHOD.items():
    for _outcome in _outcomes:
        AUTH_ATTEMPTS.labels(_method, _outcome)
for _scope in LOGIN_LIMIT_SCOPES:
    LOGIN_RATE_LIMITED.labels(_scope)
for _type in TOKEN_TYPES:
    AUTH_TOKENS_ISSUED.labels(_type)
for _reason in REVOCATION_REASONS:
    REFRESH_TOKENS_REVOKED.labels(_reason)
for _type in ACTIVITY_TYPES:
    ACTIVITY_EVENTS.labels(_type)
for _operation in DB_OPERATIONS:
    DB_QUERY_DURATION.labels(_operation)
