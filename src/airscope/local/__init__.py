"""Local mode: PostgreSQL, Redis and the services as plain background processes on 127.0.0.1.

``runner.up()`` / ``runner.down()`` are ``airscope up`` / ``airscope down``; the servers
(``postgres.PostgresServer``, ``redis.RedisServer``) also back the test fixtures.
"""

from __future__ import annotations

from airscope.errors import AirscopeError


class LocalError(AirscopeError):
    """Local mode cannot go on; the message names the cause and the fix."""
