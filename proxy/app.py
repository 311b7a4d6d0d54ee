"""`create_app(settings)`: the proxy as an ASGI application.

Starlette handles lifespan and `/health`; every other path goes to the plain ASGI
`ProxyHandler`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from pricing import Registry, default_registry
from proxy.handler import ProxyHandler
from proxy.protocol import HEALTH_PATH, SERVICE_NAME
from proxy.settings import Settings
from proxy.telemetry import tracer_provider_from_env

VERSION = "0.1.0"


async def health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "service": SERVICE_NAME})


def create_app(
    settings: Settings | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    registry: Registry | None = None,
) -> Starlette:
    """Build the proxy. Defaults: settings from the environment, spans exported as the
    `OTEL_*` variables say, the bundled price registry."""
    settings = settings or Settings.from_env()
    provider = tracer_provider or tracer_provider_from_env()
    handler = ProxyHandler(
        settings,
        provider.get_tracer("llmobserve.proxy", VERSION),
        registry or default_registry(),
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await handler.start()
        try:
            yield
        finally:
            await handler.stop()
            provider.force_flush()

    return Starlette(
        routes=[
            Route(HEALTH_PATH, health, methods=["GET"]),
            Mount("/", app=cast(ASGIApp, handler)),
        ],
        lifespan=lifespan,
    )
