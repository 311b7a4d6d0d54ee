"""Real provider SDKs, base URL left at the provider's default, through a real proxy.

Each SDK is created before or after `observe()` and makes one real call with a fake key; the
patched HTTP client underneath sends it to the proxy, which forwards it to a fake upstream
standing in for the provider host and answering with a minimal documented response. The SDK
must parse that answer, the upstream must get the SDK's request byte for byte, and the proxy's
span must continue the SDK's trace. (boto3 is in test_botocore.py; the SDKs in sdk_cases.py.)
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import pytest

import llmobserve

from .conftest import assert_forwarded_verbatim, assert_proxy_span_is_child, in_section
from .sdk_cases import ASYNC, KEY, SYNC, Case


def cases(table: dict[str, Case]) -> list[Any]:
    params = []
    for name, case in table.items():
        installed = importlib.util.find_spec(case.package.split(".")[0]) is not None
        marks = [] if installed else [pytest.mark.skip(reason=f"{case.package} not installed")]
        if case.ignore:
            marks.append(pytest.mark.filterwarnings(case.ignore))
        for created in ("before_observe", "after_observe"):
            params.append(pytest.param(case, created, id=f"{name}-{created}", marks=marks))
    return params


def make_client(case: Case, created: str, proxy_url: str) -> Any:
    if created == "before_observe":
        client = case.make()
        llmobserve.observe(proxy_url=proxy_url)
        return client
    llmobserve.observe(proxy_url=proxy_url)
    return case.make()


def http_clients(root: Any, depth: int = 6) -> tuple[list[Any], list[Any]]:
    """The (sync, async) HTTP clients an SDK client holds, found by walking its attributes:
    SDKs do not all say how to close them."""
    import aiohttp
    import httpx
    import httpx2

    sync_kinds = (httpx.Client, httpx2.Client)
    async_kinds = (httpx.AsyncClient, httpx2.AsyncClient, aiohttp.ClientSession)
    found: tuple[list[Any], list[Any]] = ([], [])
    seen: set[int] = set()

    def walk(obj: Any, level: int) -> None:
        if level > depth or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, sync_kinds + async_kinds):
            found[isinstance(obj, async_kinds)].append(obj)
            return
        values = obj.values() if isinstance(obj, dict) else vars(obj).values()
        for value in list(values):
            if isinstance(value, dict) or hasattr(value, "__dict__"):
                walk(value, level + 1)

    walk(root, 0)
    return found


def close(root: Any) -> None:
    for client in http_clients(root)[0]:
        client.close()


async def aclose(root: Any) -> None:
    """Close an async SDK client's connections while its event loop still runs."""
    close(root)
    for client in http_clients(root)[1]:
        await (client.aclose() if hasattr(client, "aclose") else client.close())


# Who opens the HTTP span (and injects the context) for each client.
SPAN_SCOPES = {
    "httpx2": "llmobserve.http",
    "httpx": "opentelemetry.instrumentation.httpx",
    "requests": "opentelemetry.instrumentation.requests",
    "aiohttp": "opentelemetry.instrumentation.aiohttp_client",  # sessions made per call
}


def assert_routed(case: Case, routed: Any, traced: Any, spans: Any) -> None:
    assert case.check(traced.value), traced.value
    sent = assert_forwarded_verbatim(routed, case.host, auth=case.auth)
    assert KEY in (sent.header(case.auth) or "")
    client_span = assert_proxy_span_is_child(routed, case.host, traced, sent, spans)
    # The call really went through the HTTP client this SDK version is said to use.
    assert client_span.instrumentation_scope.name == SPAN_SCOPES[case.library]


@pytest.mark.parametrize(("case", "created"), cases(SYNC))
def test_sdk_call_goes_through_the_proxy_untouched(case, created, route, spans):
    routed = route([case.host], case.respond)
    client = make_client(case, created, routed.proxy_url)
    try:
        traced = in_section(lambda: case.call(client))
    finally:
        close(client)
    assert_routed(case, routed, traced, spans)


@pytest.mark.parametrize(("case", "created"), cases(ASYNC))
def test_async_sdk_call_goes_through_the_proxy_untouched(case, created, route, spans):
    routed = route([case.host], case.respond)
    client = make_client(case, created, routed.proxy_url)

    async def call() -> Any:
        try:
            return await case.call(client)
        finally:
            await aclose(client)

    traced = in_section(lambda: asyncio.run(call()))
    assert_routed(case, routed, traced, spans)
