"""The simulator as an ASGI application: both API versions, the sandbox controls, the worker.

    uvicorn --factory simulator.app:create_app

Settings come from the environment (so that every uvicorn worker process
builds the same app): PAYSPEC_DB (default `payspec-sandbox.db`, or
`:memory:`), PAYSPEC_TIME_SCALE (multiplies notification retry delays),
PAYSPEC_PROCESSING_MS (how long payouts, refunds and splits stay PENDING),
PAYSPEC_GROUP_COMMIT (0 when several processes share the database: see
`Store.grouped`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from generator.config import find_config

from .clock import Clock
from .gateway import Gateway
from .runtime import Runtime, load_runtime
from .sandbox import sandbox_routes
from .services import Settings
from .store import Store
from .worker import DeliverySettings, Worker

DEFAULT_DB = "payspec-sandbox.db"


@dataclass
class SimulatorSettings:
    db: str = DEFAULT_DB
    time_scale: float = 1.0
    processing_ms: int = 2000
    run_worker: bool = True
    group_commit: bool = True

    @classmethod
    def from_environment(cls) -> SimulatorSettings:
        return cls(
            db=os.environ.get("PAYSPEC_DB", DEFAULT_DB),
            time_scale=float(os.environ.get("PAYSPEC_TIME_SCALE", "1")),
            processing_ms=int(os.environ.get("PAYSPEC_PROCESSING_MS", "2000")),
            run_worker=os.environ.get("PAYSPEC_WORKER", "1") != "0",
            group_commit=os.environ.get("PAYSPEC_GROUP_COMMIT", "1") != "0",
        )


class SimulatorApp(Starlette):
    """Starlette, with the API's calls handed straight to the gateway.

    The gateway finds an operation by its path in a dict and answers every failure
    itself, so a call needs neither Starlette's router nor its error middleware,
    which cost a few percent of a call. Everything else goes through them as usual:
    the sandbox, the docs, lifespan, and other methods on the API's paths (405).
    """

    def __init__(self, gateway: Gateway, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gateway = gateway
        self._api_prefixes = tuple(f"/{name}/" for name in gateway.runtime.versions)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(self._api_prefixes):
            await self._gateway(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def docs_routes(runtime: Runtime) -> list[Route]:
    """The generated HTML reference of each version: /docs/v1, /docs/v2 (and /docs, the current one)."""
    from generator.emitters.docs import docs_path

    async def page(request: Request) -> Response:
        version = request.path_params.get("version") or runtime.current.name
        if version not in runtime.versions:
            return PlainTextResponse(f"no API version {version!r}", status_code=404)
        path = docs_path(version)
        if not path.is_file():
            return PlainTextResponse("the reference is not generated: run `payspec generate`", status_code=404)
        return HTMLResponse(path.read_text(encoding="utf-8"))

    return [Route("/docs", page, methods=["GET"]), Route("/docs/{version}", page, methods=["GET"])]


def create_app(settings: SimulatorSettings | None = None, runtime: Runtime | None = None) -> SimulatorApp:
    settings = settings or SimulatorSettings.from_environment()
    runtime = runtime or load_runtime(find_config(Path(__file__).resolve().parent))
    store = Store(settings.db, group_commit=settings.group_commit)
    clock = Clock(store)
    gateway = Gateway(runtime, store, clock, Settings(processing_ms=settings.processing_ms))
    worker = Worker(runtime, store, clock, DeliverySettings(time_scale=settings.time_scale))
    # POSTs to these never reach the router (`SimulatorApp`); the routes answer the other methods (405).
    routes = [Route(f"/{name}/{{operation:path}}", gateway, methods=["POST"]) for name in runtime.versions]
    routes += sandbox_routes(runtime, store, clock, worker)
    routes += docs_routes(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(worker.run()) if settings.run_worker else None
        try:
            yield
        finally:
            worker.stop()
            if task is not None:
                await task
            store.close()

    app = SimulatorApp(gateway, routes=routes, lifespan=lifespan)
    # The spec models and the generated SDKs make a large heap that lives as long as the process:
    # out of the collector's way, so that each request's garbage is collected without scanning it.
    gc.freeze()
    app.state.store = store
    app.state.clock = clock
    app.state.worker = worker
    app.state.runtime = runtime
    return app
