"""aiohttp: routing at `BaseConnector.connect`, propagation for sessions the official
instrumentation does not cover, through a real proxy to a fake upstream."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import httpx2
import pytest
import yarl
from opentelemetry.trace import SpanKind

import llmobserve
from llmobserve._aiohttp import AiohttpPatch
from llmobserve._routing import Router
from llmobserve._servers import free_port
from proxy.protocol import TARGET_URL_HEADER
from semconv import URL_FULL

from .conftest import (
    FakeUpstream,
    HangUp,
    Received,
    Reply,
    assert_forwarded_verbatim,
    assert_proxy_span_is_child,
    in_section,
    json_reply,
)

HOST = "api.llm-provider.test"
OTHER = "api.other-provider.test"
OTHER_KNOWN = "api.openai.com"  # a provider the SDK routes without being told
# Encoded as given (as aiobotocore does): aiohttp would otherwise requote `%3A` to `:`.
URL = yarl.URL(f"https://{HOST}/v1/models/m%3A1:generate?alt=sse&x=%2F", encoded=True)
AUTH = {"authorization": "Bearer sk-test"}


def ok(_: Received) -> Reply:
    return json_reply(b'{"ok":true}')


async def post(session: aiohttp.ClientSession, url: Any, **kwargs: Any) -> tuple[int, Any, Any]:
    async with session.post(url, **kwargs) as response:
        return response.status, await response.json(), response


def client_spans(spans: Any, host: str) -> list[Any]:
    """CLIENT spans about `host` (ours use `url.full`, the official ones `http.url`)."""
    return [
        s
        for s in spans.get_finished_spans()
        if s.kind == SpanKind.CLIENT and any(host in str(v) for v in (s.attributes or {}).values())
    ]


@pytest.mark.parametrize("created", ["before_observe", "after_observe"])
def test_session_is_routed_with_one_span_and_one_traceparent(created, route, spans):
    routed = route([HOST], ok)

    async def call() -> tuple[int, Any, Any]:
        if created == "before_observe":
            session = aiohttp.ClientSession()
            llmobserve.observe(proxy_url=routed.proxy_url)
        else:
            llmobserve.observe(proxy_url=routed.proxy_url)
            session = aiohttp.ClientSession()
        async with session:
            return await post(session, URL, data=b'{"prompt":"hi"}', headers=AUTH)

    traced = in_section(lambda: asyncio.run(call()))
    status, body, response = traced.value
    assert (status, body) == (200, {"ok": True})
    # The application sees the URL it asked for, not the proxy's.
    assert str(response.url) == str(URL)
    assert str(response.request_info.url) == str(URL)
    sent = assert_forwarded_verbatim(routed, HOST, auth="authorization")
    assert sent.raw_path == b"/v1/models/m%3A1:generate"
    assert sent.query == b"alt=sse&x=%2F"
    assert sent.header("host") == routed.proxy_url.removeprefix("http://")
    assert len(sent.all("traceparent")) == 1
    assert_proxy_span_is_child(routed, HOST, traced, sent, spans)
    # One HTTP span for the call: ours before observe(), the official one after.
    assert len(client_spans(spans, HOST)) == 1


def test_cookies_stay_with_the_provider_that_set_them(route):
    def respond(request: Received) -> Reply:
        return json_reply(b"{}", **{"set-cookie": "sticky=abc; Path=/"})

    routed = route([HOST, OTHER], respond)
    llmobserve.observe(proxy_url=routed.proxy_url)

    async def calls() -> None:
        async with aiohttp.ClientSession() as session:
            for host in (HOST, OTHER, HOST):
                await post(session, f"https://{host}/v1/x", json={})

    asyncio.run(calls())
    cookies = [r.header("cookie") for r in routed.upstream.received]
    # Filed under the provider's host, not the proxy's: never sent to another provider.
    assert cookies == [None, None, "sticky=abc"]


def test_relative_redirect_is_followed_through_the_proxy(route):
    def respond(request: Received) -> Reply:
        if request.raw_path == b"/v1/old":
            return 307, {"location": "/v2/new?y=1"}, b""
        return json_reply(b'{"moved":true}')

    routed = route([HOST], respond)
    llmobserve.observe(proxy_url=routed.proxy_url)

    async def call() -> tuple[int, Any, Any]:
        async with aiohttp.ClientSession() as session:
            return await post(session, f"https://{HOST}/v1/old", data=b"x")

    status, body, response = asyncio.run(call())
    assert (status, body) == (200, {"moved": True})
    assert str(response.url) == f"https://{HOST}/v2/new?y=1"
    second = routed.inbound[1]
    assert second.header(TARGET_URL_HEADER) == f"https://{HOST}/v2/new?y=1"
    assert [(r.raw_path, r.header("host")) for r in routed.upstream.received] == [
        (b"/v1/old", HOST),
        (b"/v2/new", HOST),
    ]


def test_proxy_hop_bypasses_the_applications_http_proxy(route, offline, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("no_proxy", "")
    routed = route([HOST], ok)
    llmobserve.observe(proxy_url=routed.proxy_url)

    async def call() -> tuple[int, Any, Any]:
        # trust_env: HTTPS_PROXY (a dead port here) applies to the provider URL.
        async with aiohttp.ClientSession(trust_env=True) as session:
            return await post(session, URL, data=b"{}")

    assert asyncio.run(call())[:2] == (200, {"ok": True})


def test_unreachable_proxy_fails_open_with_one_warning(monkeypatch, caplog):
    monkeypatch.setenv("LLMOBSERVE_ALLOWED_HOSTS", "localhost")
    with FakeUpstream(lambda _: json_reply(b'{"direct":true}')) as provider:
        llmobserve.observe(proxy_url=f"http://127.0.0.1:{free_port()}")
        url = f"http://localhost:{provider.url.rsplit(':', 1)[1]}/v1/x"

        async def calls() -> list[Any]:
            async with aiohttp.ClientSession() as session:
                return [(await post(session, url, data=b"1"))[1] for _ in range(2)]

        with caplog.at_level(logging.WARNING, logger="llmobserve"):
            assert asyncio.run(calls()) == [{"direct": True}, {"direct": True}]
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    assert [r.body for r in provider.received] == [b"1", b"1"]
    assert provider.received[0].header(TARGET_URL_HEADER) is None


def test_request_the_proxy_may_have_forwarded_is_never_retried_direct(monkeypatch):
    monkeypatch.setenv("LLMOBSERVE_ALLOWED_HOSTS", "localhost")
    with FakeUpstream(ok) as provider, HangUp() as proxy:
        llmobserve.observe(proxy_url=proxy.url)
        url = f"http://localhost:{provider.url.rsplit(':', 1)[1]}/v1/x"

        async def call() -> Any:
            async with aiohttp.ClientSession() as session:
                return await post(session, url, data=b"1")

        with pytest.raises(aiohttp.ClientConnectionError):
            asyncio.run(call())
    assert proxy.requests == 1
    assert provider.received == []


def test_websocket_handshakes_are_not_routed(route, monkeypatch):
    routed = route([HOST], ok)
    monkeypatch.setenv("LLMOBSERVE_ALLOWED_HOSTS", "localhost")
    llmobserve.observe(proxy_url=routed.proxy_url)
    url = routed.upstream.url.replace("127.0.0.1", "localhost") + "/v1/realtime"

    async def call() -> Any:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            return (await ws.receive()).data

    assert asyncio.run(call()) == "hello"
    assert routed.inbound == []
    assert routed.upstream.received[0].raw_path == b"/v1/realtime"


def test_direct_mode_propagates_for_a_session_created_before_observe(spans):
    with FakeUpstream(ok) as provider:

        async def call() -> Any:
            session = aiohttp.ClientSession()
            llmobserve.observe()
            async with session:
                return await post(session, f"{provider.url}/v1/x?key=secret", data=b"{}")

        traced = in_section(lambda: asyncio.run(call()))
    assert traced.value[0] == 200
    (request,) = provider.received
    assert request.header("traceparent") is not None
    assert "llmobserve.customer.id=customer-42" in (request.header("baggage") or "")
    (span,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert span.context.trace_id == traced.trace_id
    assert span.attributes[URL_FULL] == f"{provider.url}/v1/x?REDACTED"


def test_a_request_that_carries_its_own_traceparent_is_left_alone(spans):
    given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with FakeUpstream(ok) as provider:

        async def call() -> Any:
            session = aiohttp.ClientSession()
            llmobserve.observe()
            async with session:
                return await post(session, provider.url, headers={"traceparent": given})

        asyncio.run(call())
    assert provider.received[0].all("traceparent") == [given]
    assert [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT] == []


SEAMS = ("ClientSession._request", "BaseConnector.connect", "ClientResponse.start")


def seams() -> tuple[Any, ...]:
    return tuple(
        getattr(getattr(aiohttp, cls), name) for cls, name in (s.split(".") for s in SEAMS)
    )


def test_shutdown_restores_aiohttp_and_calls_go_direct_again(route):
    originals = seams()
    routed = route([HOST], ok)
    llmobserve.observe(proxy_url=routed.proxy_url)
    assert aiohttp.BaseConnector.connect is not originals[1]
    llmobserve.shutdown()
    assert seams() == originals


def test_patch_is_idempotent_and_removes_cleanly():
    originals = seams()
    router = Router("http://127.0.0.1:9")
    first, second = AiohttpPatch(aiohttp, router), AiohttpPatch(aiohttp, router)
    first.apply()
    patched = seams()
    assert all(p is not o for p, o in zip(patched, originals, strict=True))
    second.apply()
    assert seams() == patched
    second.remove()
    assert seams() == patched
    first.remove()
    assert seams() == originals


def test_changed_aiohttp_is_left_alone_with_one_warning(route, monkeypatch, caplog):
    monkeypatch.delattr(aiohttp.ClientSession, "trace_configs")
    originals = seams()
    routed = route([HOST], ok)
    with caplog.at_level(logging.WARNING, logger="llmobserve"):
        llmobserve.observe(proxy_url=routed.proxy_url)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "aiohttp left unpatched" in warnings[0]
    assert seams() == originals
    # The other clients are still routed, and aiohttp itself still works (unrouted).
    with httpx2.Client() as client:
        assert client.post(str(URL), content=b"{}").json() == {"ok": True}
    assert routed.upstream.received[0].raw_path == b"/v1/models/m%3A1:generate"

    async def direct() -> Any:
        async with aiohttp.ClientSession() as session:
            return await post(session, f"{routed.upstream.url}/v1/direct", data=b"{}")

    assert asyncio.run(direct())[:2] == (200, {"ok": True})
    assert routed.upstream.received[1].header(TARGET_URL_HEADER) is None


def test_a_proxy_in_this_process_forwards_without_being_routed_back_to_itself(
    start_proxy, proxy_inbound
):
    """As `llmobserve demo --live` runs it: the proxy's own upstream session is left alone."""
    proxy = start_proxy(upstream_overrides={})  # the real provider: unresolvable in tests
    llmobserve.observe(proxy_url=proxy.url)
    response = httpx2.post(f"https://{OTHER_KNOWN}/v1/chat/completions", json={}, timeout=10)
    assert response.status_code == 502  # the proxy tried the provider itself, once
    assert len(proxy_inbound) == 1
