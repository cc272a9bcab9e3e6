"""The Redis client every service builds: one that survives a Redis restart.

A pooled connection idle across a restart is dead. ``health_check_interval`` pings one idle for
over 5 s before use; a command that meets a dead connection anyway (used just before the restart)
reconnects and is sent once more, since redis-py retries nothing unless told which errors to retry
(CI saw reads answer 503 in milliseconds, and health checks fail, long after Redis was back). Not on
timeouts: a write that timed out may have happened; the caller's socket timeout bounds a hung Redis.
"""

from __future__ import annotations

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

# Reconnections of one command before it fails: a dead pooled connection needs one.
RETRIES = 2
HEALTH_CHECK_INTERVAL_SECONDS = 5


def connect(url: str, *, socket_timeout: float, connect_timeout: float) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        health_check_interval=HEALTH_CHECK_INTERVAL_SECONDS,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
        retry_on_error=[redis.exceptions.ConnectionError],
    )
