"""A stand-in catalog service for the runner's tests (not collected: no ``test_`` prefix).

Ready only when the DATABASE_URL and REDIS_URL the runner gave it work; ``GET /env`` shows
the variables the runner set. Also plays an outside SaaS' stand-in (``GET /_admin/health``).
"""

from __future__ import annotations

import json
import os

import asyncpg
import redis.asyncio


def create_app():
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/health/ready":
            connection = await asyncpg.connect(os.environ["DATABASE_URL"])
            await connection.close()
            async with redis.asyncio.from_url(os.environ["REDIS_URL"]) as client:
                await client.ping()
            status, body = 200, {"status": "pass"}
        elif scope["path"] == "/_admin/health":
            status, body = 200, {"status": "pass"}
        elif scope["path"] == "/env":
            status, body = (
                200,
                {
                    k: v
                    for k, v in os.environ.items()
                    if k.startswith("AIRSCOPE_") or k.endswith(("_URL", "_KEY"))
                },
            )
        else:
            status, body = 404, {}
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return app
