"""SDK tests share one global tracer provider (OpenTelemetry allows setting it once)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import llmobserve
from llmobserve._servers import ServerThread

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session", autouse=True)
def _global_provider() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    _EXPORTER.clear()
    return _EXPORTER


@pytest.fixture(autouse=True)
def _undo_observe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LLMOBSERVE_PROXY_URL", "LLMOBSERVE_COLLECTOR_URL", "LLMOBSERVE_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    yield
    llmobserve.shutdown()


class Recorder:
    """A loopback HTTP server that records what it receives and answers `{"server": name}`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.received: list[dict[str, Any]] = []

        async def record(request: Request) -> JSONResponse:
            self.received.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "query": request.url.query,
                    "headers": dict(request.headers),
                    "body": await request.body(),
                }
            )
            return JSONResponse({"server": self.name})

        app = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST"])])
        self._server = ServerThread(app)
        self.port = self._server.port
        self.url = self._server.url

    def __enter__(self) -> Recorder:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__()


@pytest.fixture
def fake_proxy() -> Iterator[Recorder]:
    with Recorder("proxy") as server:
        yield server


@pytest.fixture
def fake_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """A 'provider' on `localhost`, declared routable with LLMOBSERVE_ALLOWED_HOSTS."""
    monkeypatch.setenv("LLMOBSERVE_ALLOWED_HOSTS", "localhost")
    with Recorder("provider") as server:
        yield server
