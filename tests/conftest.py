"""Shared fixtures: real servers on loopback (simulator, proxy) and span capture."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmobserve._servers import ServerThread
from llmobserve.simulator import create_app as create_simulator
from proxy.app import create_app as create_proxy
from proxy.settings import Settings

OPENAI = "api.openai.com"
ANTHROPIC = "api.anthropic.com"


class Simulator:
    def __init__(self, url: str) -> None:
        self.url = url

    def requests(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/__simulator__/requests").json())

    def reset(self) -> None:
        httpx.delete(f"{self.url}/__simulator__/requests")


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    with ServerThread(create_simulator()) as server:
        yield Simulator(server.url)


class ProxyUnderTest:
    def __init__(
        self, url: str, exporter: InMemorySpanExporter, metrics: InMemoryMetricReader
    ) -> None:
        self.url = url
        self.exporter = exporter
        self.metrics = metrics

    def spans(self, count: int = 1, timeout: float = 5.0) -> list[ReadableSpan]:
        """Wait for `count` finished spans (a span ends just after the last byte is sent)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = list(self.exporter.get_finished_spans())
            if len(spans) >= count or time.monotonic() > deadline:
                return spans
            time.sleep(0.01)

    def span(self) -> ReadableSpan:
        spans = self.spans(1)
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]


ProxyFactory = Callable[..., ProxyUnderTest]


@pytest.fixture
def start_proxy(simulator: Simulator) -> Iterator[ProxyFactory]:
    """Start a real proxy whose provider traffic goes to the simulator."""
    servers: list[ServerThread] = []

    def start(**overrides: Any) -> ProxyUnderTest:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        reader = InMemoryMetricReader()
        settings = Settings(
            **{
                "upstream_overrides": {OPENAI: simulator.url, ANTHROPIC: simulator.url},
                **overrides,
            }
        )
        app = create_proxy(
            settings,
            tracer_provider=provider,
            meter_provider=MeterProvider(metric_readers=[reader]),
        )
        server = ServerThread(app).__enter__()
        servers.append(server)
        return ProxyUnderTest(server.url, exporter, reader)

    simulator.reset()
    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def proxy(start_proxy: ProxyFactory) -> ProxyUnderTest:
    return start_proxy()
