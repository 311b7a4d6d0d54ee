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
from proxy.protocol import TARGET_URL_HEADER

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
