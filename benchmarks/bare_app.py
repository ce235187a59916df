"""The baseline for the simulator's throughput: a bare Starlette JSON endpoint on the same uvicorn."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def endpoint(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"code": 10000, "message": "Success", "data": {"echo": len(body)}})


async def notify(request: Request) -> PlainTextResponse:
    """Acknowledges the simulator's notifications during a benchmark, so none are retried mid-run."""
    await request.body()
    return PlainTextResponse("SUCCESS")


app = Starlette(routes=[Route("/notify", notify, methods=["POST"]), Route("/{path:path}", endpoint, methods=["POST"])])
