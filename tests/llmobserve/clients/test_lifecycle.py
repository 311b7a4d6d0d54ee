"""Every client patch: undone by `shutdown()`, applied once, and left out (with one warning)
when its library changed shape - the application keeps working either way."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import httpx2
import pytest
import requests
import requests.adapters

import llmobserve

from .conftest import FakeUpstream, Received, Reply, json_reply

HOST = "api.llm-provider.test"
_MARK = "__llmobserve_original__"

# Every class attribute observe() may replace, ours and the official instrumentations'.
SEAMS: list[tuple[type, str]] = [
    (httpx2.HTTPTransport, "handle_request"),
    (httpx2.AsyncHTTPTransport, "handle_async_request"),
    (httpx2.AsyncHTTPTransport, "aclose"),
    (httpx.HTTPTransport, "handle_request"),
    (httpx.AsyncHTTPTransport, "handle_async_request"),
    (httpx.AsyncHTTPTransport, "aclose"),
    (requests.adapters.HTTPAdapter, "send"),
    (requests.Session, "send"),
    (aiohttp.ClientSession, "__init__"),
    (aiohttp.ClientSession, "_request"),
    (aiohttp.BaseConnector, "connect"),
    (aiohttp.ClientResponse, "start"),
]
BOTOCORE = importlib.util.find_spec("botocore") is not None
if BOTOCORE:
    import botocore.httpsession

    SEAMS.append((botocore.httpsession.URLLib3Session, "send"))


def seams() -> list[Any]:
    return [cls.__dict__.get(name) for cls, name in SEAMS]


def ok(_: Received) -> Reply:
    return json_reply(b'{"ok":true}')


def test_shutdown_restores_every_client_patch():
    before = seams()
    llmobserve.observe(proxy_url="http://127.0.0.1:9")
    after = seams()
    changed = [seam for seam, old, new in zip(SEAMS, before, after, strict=True) if old is not new]
    assert {(cls.__module__.split(".")[0], name) for cls, name in changed} >= {
        ("httpx2", "handle_request"),
        ("httpx", "handle_request"),
        ("requests", "send"),
        ("aiohttp", "_request"),
        ("aiohttp", "connect"),
        ("aiohttp", "start"),
        *([("botocore", "send")] if BOTOCORE else []),
    }
    llmobserve.shutdown()
    assert seams() == before


def test_observe_after_shutdown_patches_each_seam_once():
    originals = seams()
    for _ in range(2):
        llmobserve.observe(proxy_url="http://127.0.0.1:9")
        llmobserve.observe(proxy_url="http://127.0.0.1:9")  # ignored
        for (cls, name), original in zip(SEAMS, originals, strict=True):
            current = cls.__dict__.get(name)
            if hasattr(current, _MARK):  # one of ours: wraps the library's own code directly
                assert getattr(current, _MARK) is original, (cls, name)
        llmobserve.shutdown()
    assert seams() == originals


def _httpx2_direct(url: str) -> Any:
    return httpx2.post(url, content=b"{}").json()


def _httpx_direct(url: str) -> Any:
    return httpx.post(url, content=b"{}").json()


def _requests_direct(url: str) -> Any:
    return requests.post(url, data=b"{}", timeout=5).json()


def _aiohttp_direct(url: str) -> Any:
    async def call() -> Any:
        async with aiohttp.ClientSession() as session, session.post(url, data=b"{}") as response:
            return await response.json()

    return asyncio.run(call())


@dataclass(frozen=True)
class Change:
    """A library that changed shape: what disappeared, the seams we must leave alone, and a
    call that must keep working."""

    library: str
    missing: tuple[Any, str]
    own_seams: tuple[tuple[type, str], ...]
    direct_call: Callable[[str], Any]


CHANGES = [
    Change(
        "httpx2",
        (httpx2, "ConnectTimeout"),
        ((httpx2.HTTPTransport, "handle_request"),),
        _httpx2_direct,
    ),
    Change(
        "httpx",
        (httpx, "ConnectTimeout"),
        ((httpx.HTTPTransport, "handle_request"),),
        _httpx_direct,
    ),
    Change(
        "requests",
        (requests.exceptions, "ConnectionError"),
        ((requests.adapters.HTTPAdapter, "send"),),
        _requests_direct,
    ),
    Change(
        "aiohttp",
        (aiohttp.ClientSession, "trace_configs"),
        (
            (aiohttp.ClientSession, "_request"),
            (aiohttp.BaseConnector, "connect"),
            (aiohttp.ClientResponse, "start"),
        ),
        _aiohttp_direct,
    ),
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.library for c in CHANGES])
def test_a_changed_library_is_left_alone_with_one_warning(change, monkeypatch, caplog):
    monkeypatch.delattr(*change.missing)
    before = {seam: seam[0].__dict__.get(seam[1]) for seam in change.own_seams}
    with FakeUpstream(ok) as provider:
        with caplog.at_level(logging.WARNING, logger="llmobserve"):
            llmobserve.observe(proxy_url="http://127.0.0.1:9")
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert warnings == [warnings[0]]
        assert f"{change.library} left unpatched" in warnings[0]
        assert {seam: seam[0].__dict__.get(seam[1]) for seam in change.own_seams} == before
        # The library still works, and the other clients are still patched.
        assert change.direct_call(f"{provider.url}/v1/x") == {"ok": True}
    others = [cls.__dict__.get(name) for cls, name in SEAMS if (cls, name) not in change.own_seams]
    assert any(hasattr(seam, _MARK) for seam in others)


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_async_hop_around_the_apps_https_proxy_closes_with_the_client(module, route):
    """With HTTPS_PROXY set (a dead port here), the application's pool tunnels through it, so
    the hop to our proxy uses a direct transport of its own: it must close with the client."""
    routed = route([HOST], ok)
    llmobserve.observe(proxy_url=routed.proxy_url)

    async def call() -> Any:
        async with module.AsyncClient() as client:
            return (await client.post(f"https://{HOST}/v1/x", content=b"{}")).json()

    assert asyncio.run(call()) == {"ok": True}
    assert routed.upstream.received[0].raw_path == b"/v1/x"
    gc.collect()  # a hop left open warns here (ResourceWarning: an error in this suite)
