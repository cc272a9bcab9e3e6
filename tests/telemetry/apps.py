"""Small apps the kit's tests instrument, in-process or served by uvicorn in a subprocess."""

from __future__ import annotations

from fastapi import FastAPI

from airscope.telemetry import get_logger


def sample_app() -> FastAPI:
    app = FastAPI()
    log = get_logger("sample")

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict:
        log.info("item fetched", item_id=item_id)
        return {"id": item_id}

    @app.post("/items")
    async def create_item() -> dict:
        return {"created": True}

    @app.get("/fail")
    async def fail() -> dict:
        raise RuntimeError("the handler broke")

    return app


def create_relay_app() -> FastAPI:
    """Served by uvicorn in a subprocess: the kit configured from the environment, as in production.

    ``GET /relay`` calls ``$RELAY_TARGET/items/1`` with httpx (``?client=httpx2``: with httpx2, the
    openai and mcp SDKs' client), so two of these show propagation;
    ``GET /deps`` queries PostgreSQL (``$SAMPLE_DSN``) and Redis (``$SAMPLE_REDIS_URL``).
    """
    import os

    import httpx

    from airscope.telemetry import instrument

    app = sample_app()
    target = os.environ.get("RELAY_TARGET", "")

    @app.get("/relay")
    async def relay(client: str = "httpx") -> dict:
        import httpx2

        module = httpx2 if client == "httpx2" else httpx
        async with module.AsyncClient(base_url=target) as http:
            response = await http.get("/items/1")
        return {
            "downstream_status": response.status_code,
            "downstream_request_id": response.headers.get("x-request-id"),
        }

    @app.get("/deps")
    async def deps() -> dict:
        import asyncpg
        import redis.asyncio as redis

        connection = await asyncpg.connect(os.environ["SAMPLE_DSN"])
        try:
            answer = await connection.fetchval("SELECT 41 + 1")
        finally:
            await connection.close()
        async with redis.Redis.from_url(os.environ["SAMPLE_REDIS_URL"]) as client:
            await client.set("sample", answer)
        return {"answer": answer}

    instrument(app, service=os.environ["SAMPLE_SERVICE"], version="1.0.0")
    return app
