"""A service with the bugs `airscope fuzz` must find: a 500 on some valid input, and an answer its
document does not declare. ``uvicorn --factory tests.hostile.broken_app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class Note(BaseModel):
    text: str


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> dict:
        return {"status": "pass"}

    @app.post("/notes", status_code=201)
    async def add(note: Note) -> dict:
        if not note.text.isascii():  # the bug: a crash that reads as a server error
            raise RuntimeError("cannot store that")
        return {"text": note.text}

    @app.get("/notes/{number}")
    async def get(number: int) -> JSONResponse:
        return JSONResponse({"error": "not_found"}, status_code=404)  # not in the document

    return app
