"""The SDK side: with the proxy down or restarting, calls go direct and come back to the proxy
later; nothing telemetry does (exporting, parsing, reading the proxy's report) raises into the
application."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import httpx
import httpx2
import pytest
import requests
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import llmobserve
from llmobserve import section
from llmobserve._servers import free_port
from proxy.protocol import COST_HEADER_NAME, PROXY_TOKEN_HEADER
from proxy.providers import openai as openai_wire
from semconv import GEN_AI_USAGE_COST, LLMOBSERVE_COST_REASON
from tests.reliability.conftest import (
    OPENAI_BODY,
    OPENAI_COMPLETION,
    Exchange,
    OtlpSink,
    ProxyProcess,
    RawUpstream,
    answer_openai_json,
)

TOKEN = "fail-open-test-token-0123456789"


class SwitchableExporter(SpanExporter):
    """Raises on export while `broken` is set (an exporter bug, a serialisation error)."""

    broken = False

    def export(self, spans):
        if self.broken:
            raise RuntimeError("exporter bug")
        return SpanExportResult.SUCCESS


_SPANS = InMemorySpanExporter()
_BROKEN = SwitchableExporter()


@pytest.fixture(scope="module", autouse=True)
def _global_provider() -> None:
    """The process has one global provider (set once); observe() reuses an SDK one."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_SPANS))
    provider.add_span_processor(SimpleSpanProcessor(_BROKEN))


@pytest.fixture(autouse=True)
def _clean(monkeypatch) -> Iterator[None]:
    for name in ("LLMOBSERVE_PROXY_URL", "LLMOBSERVE_COLLECTOR_URL", "LLMOBSERVE_PROXY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    _SPANS.clear()
    yield
    _BROKEN.broken = False
    llmobserve.shutdown()


@pytest.fixture
def provider(monkeypatch) -> Iterator[RawUpstream]:
    """A provider on `localhost`, routable through the proxy (LLMOBSERVE_ALLOWED_HOSTS)."""
    monkeypatch.setenv("LLMOBSERVE_ALLOWED_HOSTS", "localhost")
    with RawUpstream(answer_openai_json) as upstream:
        yield upstream


def proxy_process(port: int, sink: OtlpSink, **env: str) -> ProxyProcess:
    return ProxyProcess(
        {
            "LLMOBSERVE_ALLOWED_HOSTS": "localhost",
            "LLMOBSERVE_ALLOWED_NETWORKS": "127.0.0.0/8,::1",  # the provider is on loopback
            "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            **env,
        },
        port=port,
    )


@pytest.mark.integration
@pytest.mark.parametrize("client", ["httpx2", "requests"])
def test_sdk_fails_open_while_the_proxy_restarts_and_returns_to_it(
    client, provider, monkeypatch, caplog
):
    monkeypatch.setenv("LLMOBSERVE_PROXY_RETRY_AFTER", "0.5")
    url = f"http://localhost:{provider.port}/v1/chat/completions"
    send = {
        "httpx2": lambda: httpx2.post(url, json=OPENAI_BODY, timeout=10),
        "requests": lambda: requests.post(url, json=OPENAI_BODY, timeout=10),
    }[client]
    port = free_port()
    with OtlpSink() as sink, caplog.at_level(logging.WARNING, logger="llmobserve"):
        first = proxy_process(port, sink)
        llmobserve.observe(proxy_url=first.url)
        assert send().json() == OPENAI_COMPLETION
        assert len(sink.wait_for(1)) == 1  # through the proxy
        first.stop()
        for _ in range(3):  # proxy down: straight to the provider, one warning
            assert send().json() == OPENAI_COMPLETION
        assert len(provider.requests) == 4
        assert [r.getMessage() for r in caplog.records].count(
            next(r.getMessage() for r in caplog.records if "unreachable" in r.getMessage())
        ) == 1
        second = proxy_process(port, sink)  # restarted on the same address
        try:
            time.sleep(0.6)  # the breaker's retry delay
            assert send().json() == OPENAI_COMPLETION
            assert len(sink.wait_for(2)) == 2  # back through the proxy
        finally:
            second.stop()
    assert any("reachable again" in r.getMessage() for r in caplog.records)


@pytest.mark.integration
def test_sdk_sends_the_proxy_token_when_configured(provider, monkeypatch):
    monkeypatch.setenv("LLMOBSERVE_PROXY_TOKEN", TOKEN)
    url = f"http://localhost:{provider.port}/v1/chat/completions"
    with OtlpSink() as sink, proxy_process(free_port(), sink, LLMOBSERVE_PROXY_TOKEN=TOKEN) as p:
        llmobserve.observe(proxy_url=p.url)
        assert httpx2.post(url, json=OPENAI_BODY).json() == OPENAI_COMPLETION
        assert requests.post(url, json=OPENAI_BODY, timeout=10).json() == OPENAI_COMPLETION
        assert httpx.post(url, json=OPENAI_BODY).json() == OPENAI_COMPLETION
        assert len(sink.wait_for(3)) == 3
        unauthenticated = httpx.post(f"{p.url}/openai/v1/chat/completions", json=OPENAI_BODY)
    assert unauthenticated.status_code == 401
    assert all(PROXY_TOKEN_HEADER.encode() not in r.lower() for r in provider.requests)


def direct_mode(monkeypatch, upstream: RawUpstream) -> str:
    monkeypatch.setenv("LLMOBSERVE_UPSTREAM_OVERRIDES", f"api.openai.com={upstream.url}")
    llmobserve.observe()
    return "https://api.openai.com/v1/chat/completions"


def test_exporter_that_raises_never_reaches_the_application(monkeypatch):
    _BROKEN.broken = True
    with RawUpstream(answer_openai_json) as upstream:
        url = direct_mode(monkeypatch, upstream)
        with section("agent:resilient") as agent:
            response = httpx2.post(url, json=OPENAI_BODY)
        llmobserve.flush()
    assert response.json() == OPENAI_COMPLETION
    assert agent.cost is not None and agent.cost > 0


def test_usage_parser_that_raises_never_reaches_the_application(monkeypatch, caplog):
    def broken(self, document):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(openai_wire.ChatCompletions, "read_document", broken)
    with RawUpstream(answer_openai_json) as upstream:
        url = direct_mode(monkeypatch, upstream)
        with section("agent:resilient"):
            response = httpx2.post(url, json=OPENAI_BODY)
    assert response.json() == OPENAI_COMPLETION
    (span,) = [s for s in _SPANS.get_finished_spans() if s.name.startswith("chat")]
    assert GEN_AI_USAGE_COST not in span.attributes
    assert "RuntimeError" in span.attributes[LLMOBSERVE_COST_REASON]


def test_usage_parser_that_raises_in_the_proxy_never_reaches_the_client(run_proxy, monkeypatch):
    def broken(self, document):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(openai_wire.ChatCompletions, "read_document", broken)
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(upstream_overrides={"api.openai.com": upstream.url})
        response = httpx.post(f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY)
    assert response.json() == OPENAI_COMPLETION
    assert "RuntimeError" in proxy.span().attributes[LLMOBSERVE_COST_REASON]


@pytest.mark.parametrize(
    "report",
    [
        "{{{not json",
        json.dumps({"status": "priced", "usd": "sNaN"}),
        json.dumps({"status": "priced", "usd": "NaN"}),
        json.dumps({"status": "priced", "usd": "Infinity"}),
        json.dumps({"status": "priced", "usd": "1e999999999"}),
        json.dumps({"status": "priced", "usd": None}),
        json.dumps({"status": "priced"}),
        json.dumps(["priced"]),
        "\u0000",
    ],
)
def test_unreadable_cost_report_from_the_proxy_never_reaches_the_application(provider, report):
    async def proxy_answer(exchange: Exchange) -> None:
        await exchange.read_request()
        body = json.dumps(OPENAI_COMPLETION).encode()
        await exchange.send_head(
            headers={
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
                COST_HEADER_NAME: report.encode("unicode_escape").decode(),
            }
        )
        exchange.writer.write(body)

    with RawUpstream(proxy_answer) as fake_proxy:
        llmobserve.observe(proxy_url=fake_proxy.url)
        with section("agent:resilient") as agent:
            response = httpx2.post(
                f"http://localhost:{provider.port}/v1/chat/completions", json=OPENAI_BODY
            )
        str(agent.cost)
    assert response.json() == OPENAI_COMPLETION
    assert COST_HEADER_NAME not in response.headers
