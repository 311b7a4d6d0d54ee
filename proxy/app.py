"""`create_app(settings)`: the proxy as an ASGI application.

Starlette handles lifespan and `/health`; every other path goes to the plain ASGI
`ProxyHandler`, straight from `ProxyApp.__call__`: Starlette's router and its two exception
middlewares each wrap `send`, a cost on every call and every streamed chunk
(docs/benchmarks.md).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from pricing import Registry, default_registry
from proxy.export import SHUTDOWN_FLUSH_MILLIS, tracer_provider_from_env
from proxy.handler import ProxyHandler
from proxy.metrics import ProxyMetrics, meter_provider_from_env
from proxy.protocol import HEALTH_PATH, SERVICE_NAME
from proxy.settings import Settings

VERSION = "0.1.0"


class ProxyApp(Starlette):
    """Starlette for lifespan and `/health`; proxied calls go to the handler directly.

    The routes stay as they were (`Mount("/")` holds the handler) so the application reads
    the same; only the dispatch of proxied calls skips the router and middleware. An error
    escaping the handler still becomes a 500, from uvicorn instead of Starlette.
    """

    def __init__(self, handler: ProxyHandler, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handler = cast(ASGIApp, handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != HEALTH_PATH:
            await self._handler(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": SERVICE_NAME})


YOUNG_GENERATION_THRESHOLD = 10_000
"""Net new container objects between two young collections (CPython's default: 700)."""


def freeze_start_up_heap() -> Callable[[], None]:
    """Keep the objects that live as long as the process (modules, the price registry: some
    55,000) out of the garbage collector's full collections, and collect the young generation
    less often; returns how to undo both.

    Without the freeze each full collection rescans them all, a pause of tens of milliseconds
    every few hundred calls on the reference machine (docs/benchmarks.md). The young
    generation: finished spans wait in the export queue for their batch of 128, so with
    CPython's 700 it was collected every ~9 calls, each time walking every span queued and
    every call in flight, only to find them alive; at 10,000 those collections cost a tenth
    (measured with `gc.callbacks` at c=64). The proxy's calls leave no reference cycles
    behind (see `proxy.watchdog`), so garbage does not wait for the collector meanwhile.
    """
    gc.collect()
    gc.freeze()
    previous = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *previous[1:])

    def undo() -> None:
        gc.set_threshold(*previous)
        gc.unfreeze()

    return undo


def create_app(
    settings: Settings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    registry: Registry | None = None,
    freeze_heap: bool = False,
) -> Starlette:
    """Build the proxy. Defaults: settings from the environment, spans exported as the
    `OTEL_*` variables say, the bundled price registry. `freeze_heap` (what `llmobserve-proxy`
    serves, see `server_app`) applies `freeze_start_up_heap` for the life of the app."""
    settings = settings or Settings.from_env()
    meters = meter_provider or meter_provider_from_env()
    provider = tracer_provider or tracer_provider_from_env(meters)
    handler = ProxyHandler(
        settings,
        provider.get_tracer("llmobserve.proxy", VERSION),
        registry or default_registry(),
        ProxyMetrics(
            meters.get_meter("llmobserve.proxy", VERSION), attribution=settings.metrics_attribution
        ),
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await handler.start()
        thaw = freeze_start_up_heap() if freeze_heap else None
        try:
            yield
        finally:
            if thaw is not None:
                thaw()
            await handler.stop()
            # Bounded: a black-holed collector must not hold a SIGTERM past its grace period.
            provider.force_flush(SHUTDOWN_FLUSH_MILLIS)
            flush = getattr(meters, "force_flush", None)
            if flush is not None:
                flush(timeout_millis=SHUTDOWN_FLUSH_MILLIS)

    return ProxyApp(
        handler,
        routes=[
            Route(HEALTH_PATH, health, methods=["GET"]),
            Mount("/", app=cast(ASGIApp, handler)),
        ],
        lifespan=lifespan,
    )


def server_app() -> Starlette:
    """The application `llmobserve-proxy` serves (a uvicorn factory, so each worker builds its
    own): configured from the environment, start-up heap frozen."""
    return create_app(freeze_heap=True)
