"""The hop from each patched client to the proxy: what it looks like on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import httpx2
import pytest
import requests

import llmobserve
from llmobserve import section
from llmobserve._httpx_family import with_path_of
from proxy.protocol import ROLLUP_HEADER, TARGET_URL_HEADER

from .conftest import Received, Reply, json_reply

HOST = "api.llm-provider.test"
URL = f"https://{HOST}/v1/chat?stream=false"


def ok(_: Received) -> Reply:
    return json_reply(b'{"ok":true}')


def _aiohttp_post(url: str) -> Any:
    async def call() -> Any:
        async with aiohttp.ClientSession() as session, session.post(url, data=b"{}") as response:
            return await response.json()

    return asyncio.run(call())


def _async_httpx(module: Any) -> Callable[[str], Any]:
    def post(url: str) -> Any:
        async def call() -> Any:
            async with module.AsyncClient() as client:
                return (await client.post(url, content=b"{}")).json()

        return asyncio.run(call())

    return post


CLIENTS: dict[str, Callable[[str], Any]] = {
    "httpx2": lambda url: httpx2.post(url, content=b"{}").json(),
    "httpx2-async": _async_httpx(httpx2),
    "httpx": lambda url: httpx.post(url, content=b"{}").json(),
    "httpx-async": _async_httpx(httpx),
    "requests": lambda url: requests.post(url, data=b"{}", timeout=5).json(),
    "aiohttp": _aiohttp_post,
}


@pytest.mark.parametrize("post", CLIENTS.values(), ids=CLIENTS.keys())
def test_hop_names_the_proxy_in_host_and_the_provider_in_the_target_url(post, route):
    routed = route([HOST], ok)
    llmobserve.observe(proxy_url=routed.proxy_url)
    assert post(URL) == {"ok": True}
    (sent,) = routed.inbound
    assert sent.header("host") == routed.proxy_url.removeprefix("http://")
    assert sent.header(TARGET_URL_HEADER) == URL
    assert (sent.raw_path, sent.query) == (b"/v1/chat", b"stream=false")
    assert routed.upstream.received[0].header("host") == HOST


@pytest.mark.parametrize("post", CLIENTS.values(), ids=CLIENTS.keys())
def test_hop_asks_the_proxy_for_the_cost_only_inside_a_section(post, route):
    # Outside a section nothing adds the cost up, so the proxy must not hold the response back
    # to price it before the headers (the rollup); inside one it must.
    routed = route([HOST], ok)
    llmobserve.observe(proxy_url=routed.proxy_url)
    assert post(URL) == {"ok": True}
    with section("agent:hop"):
        assert post(URL) == {"ok": True}
    outside, inside = routed.inbound
    assert outside.header(ROLLUP_HEADER) is None
    assert inside.header(ROLLUP_HEADER) == "1"


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1/chat/completions",
        "https://api.openai.com",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini:generateContent?key=k&alt=sse",
        "https://h.test/a%20b/%E2%82%AC/caf%C3%A9?q=a%20b&empty=",
        "https://h.test/path?",
    ],
)
def test_hop_url_is_the_origin_with_the_path_and_query_of_the_call(module, url):
    origin = module.URL("http://127.0.0.1:4318")
    call = module.URL(url)
    joined = with_path_of(origin, call)
    assert joined == origin.copy_with(raw_path=call.raw_path)
    assert str(joined) == str(origin.copy_with(raw_path=call.raw_path))
    assert joined.raw_path == call.raw_path
