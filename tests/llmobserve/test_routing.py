"""Proxy mode with each patched HTTP client, against loopback servers only."""

from __future__ import annotations

import asyncio
import logging
import socket

import httpx
import httpx2
import pytest
import requests

import llmobserve
from llmobserve import section, set_customer_id
from llmobserve._routing import Router
from proxy.protocol import TARGET_URL_HEADER
from semconv import URL_FULL


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def in_section(call):
    import contextvars

    def run():
        set_customer_id("customer-9")
        with section("agent:router_test"):
            return call()

    return contextvars.copy_context().run(run)


@pytest.mark.parametrize("client_module", [httpx2, httpx], ids=["httpx2", "httpx"])
def test_sync_client_created_before_observe_is_routed_with_context(
    client_module, fake_proxy, fake_provider
):
    client = client_module.Client()
    llmobserve.observe(proxy_url=fake_proxy.url)
    url = f"http://localhost:{fake_provider.port}/v1/chat/completions?x=1"
    with client:
        response = in_section(lambda: client.post(url, json={"model": "m"}))
    assert response.json() == {"server": "proxy"}
    assert str(response.request.url) == url  # the application sees its own request
    assert fake_provider.received == []
    received = fake_proxy.received[0]
    assert received["path"] == "/v1/chat/completions"
    assert received["query"] == "x=1"
    assert received["headers"][TARGET_URL_HEADER] == url
    assert received["body"] == b'{"model":"m"}'
    assert received["headers"]["traceparent"].startswith("00-")
    baggage = received["headers"]["baggage"]
    assert "llmobserve.customer.id=customer-9" in baggage
    assert "llmobserve.section.path=agent%3Arouter_test" in baggage


@pytest.mark.parametrize("client_module", [httpx2, httpx], ids=["httpx2", "httpx"])
def test_async_client_is_routed(client_module, fake_proxy, fake_provider):
    llmobserve.observe(proxy_url=fake_proxy.url)

    async def call():
        async with client_module.AsyncClient() as client:
            return await client.get(f"http://localhost:{fake_provider.port}/v1/models")

    assert asyncio.run(call()).json() == {"server": "proxy"}
    assert fake_proxy.received[0]["headers"][TARGET_URL_HEADER].endswith("/v1/models")


def test_requests_session_is_routed_and_response_url_is_the_original(fake_proxy, fake_provider):
    llmobserve.observe(proxy_url=fake_proxy.url)
    url = f"http://localhost:{fake_provider.port}/v1/embeddings"
    response = in_section(lambda: requests.post(url, json={"input": "x"}, timeout=5))
    assert response.json() == {"server": "proxy"}
    assert response.url == url
    headers = fake_proxy.received[0]["headers"]
    assert headers[TARGET_URL_HEADER] == url
    assert "traceparent" in headers
    assert "llmobserve.customer.id=customer-9" in headers["baggage"]


def test_hosts_that_are_not_providers_are_not_routed(fake_proxy, fake_provider, monkeypatch):
    monkeypatch.delenv("LLMOBSERVE_ALLOWED_HOSTS")
    llmobserve.observe(proxy_url=fake_proxy.url)
    assert httpx2.get(f"http://localhost:{fake_provider.port}/x").json() == {"server": "provider"}
    assert fake_proxy.received == []


@pytest.mark.parametrize("call", ["httpx2", "httpx", "requests"])
def test_unreachable_proxy_fails_open_with_one_warning(call, fake_provider, caplog):
    llmobserve.observe(proxy_url=f"http://127.0.0.1:{closed_port()}")
    url = f"http://localhost:{fake_provider.port}/v1/chat/completions"
    send = {
        "httpx2": lambda: httpx2.post(url, json={}),
        "httpx": lambda: httpx.post(url, json={}),
        "requests": lambda: requests.post(url, json={}, timeout=5),
    }[call]
    with caplog.at_level(logging.WARNING, logger="llmobserve"):
        assert send().json() == {"server": "provider"}
        assert send().json() == {"server": "provider"}
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert len(fake_provider.received) == 2


def test_router_retries_the_proxy_after_the_breaker_delay():
    router = Router("http://127.0.0.1:9", ("localhost",), retry_after=0.05)
    assert router.should_route("localhost")
    router.proxy_failed(ConnectionRefusedError())
    assert not router.should_route("localhost")
    import time

    time.sleep(0.06)
    assert router.should_route("localhost")


def test_shutdown_restores_every_client(fake_proxy, fake_provider):
    originals = (
        httpx2.HTTPTransport.handle_request,
        httpx.HTTPTransport.handle_request,
        requests.adapters.HTTPAdapter.send,
    )
    llmobserve.observe(proxy_url=fake_proxy.url)
    assert httpx2.HTTPTransport.handle_request is not originals[0]
    llmobserve.shutdown()
    assert (
        httpx2.HTTPTransport.handle_request,
        httpx.HTTPTransport.handle_request,
        requests.adapters.HTTPAdapter.send,
    ) == originals
    response = httpx2.get(f"http://localhost:{fake_provider.port}/x")
    assert response.json() == {"server": "provider"}
    assert "traceparent" not in fake_provider.received[0]["headers"]


def test_observe_twice_patches_once(fake_proxy, fake_provider):
    llmobserve.observe(proxy_url=fake_proxy.url)
    llmobserve.observe(proxy_url=fake_proxy.url)
    httpx2.get(f"http://localhost:{fake_provider.port}/x")
    assert len(fake_proxy.received) == 1


def test_httpx2_span_never_records_query_strings(spans, fake_provider):
    llmobserve.observe()
    httpx2.get(f"http://localhost:{fake_provider.port}/v1beta/models?key=AIza-secret")
    (span,) = [s for s in spans.get_finished_spans() if s.name == "GET"]
    assert (
        span.attributes[URL_FULL] == f"http://localhost:{fake_provider.port}/v1beta/models?REDACTED"
    )


def test_patch_composes_with_instrumentation_applied_before_observe(fake_provider):
    # opentelemetry-instrument instruments httpx at start-up, before the app calls observe().
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument()
    try:
        llmobserve.observe()
        response = httpx.get(f"http://localhost:{fake_provider.port}/v1/models")
        assert response.json() == {"server": "provider"}
        assert "traceparent" in fake_provider.received[0]["headers"]
    finally:
        llmobserve.shutdown()
        instrumentor.uninstrument()
