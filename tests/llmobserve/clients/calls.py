"""One provider call through each patched HTTP client, as an application would make it.

Each function posts `body` as JSON and returns what the application sees: the status, the
headers and the body bytes - a stream read as the client's users usually read one (lines
for aiohttp and requests, chunks for httpx).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import httpx2
import requests

OPENAI_CHAT = "https://api.openai.com/v1/chat/completions"
ANTHROPIC_MESSAGES = "https://api.anthropic.com/v1/messages"
HELLO = [{"role": "user", "content": "Hello"}]
AUTH = {"Authorization": "Bearer sk-test", "x-api-key": "sk-ant-test"}


def chat(model: str = "gpt-4o-mini", *, stream: bool = False) -> dict[str, Any]:
    return {"model": model, "messages": HELLO, **({"stream": True} if stream else {})}


def messages(*, stream: bool = False) -> dict[str, Any]:
    body = {"model": "claude-3-haiku-20240307", "max_tokens": 10, "messages": HELLO}
    return {**body, **({"stream": True} if stream else {})}


@dataclass(frozen=True)
class Seen:
    """A response as the application saw it."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Post = Callable[[str, dict[str, Any]], Seen]


def _httpx_like(module: Any) -> Post:
    def post(url: str, body: dict[str, Any]) -> Seen:
        with module.Client() as client, client.stream("POST", url, json=body, headers=AUTH) as r:
            content = b"".join(r.iter_bytes())
            return Seen(r.status_code, dict(r.headers), content)

    return post


def _requests(url: str, body: dict[str, Any]) -> Seen:
    with requests.post(url, json=body, headers=AUTH, timeout=10, stream=True) as response:
        if body.get("stream"):
            content = b"".join(line + b"\n" for line in response.iter_lines())
        else:
            content = response.content
        return Seen(response.status_code, dict(response.headers), content)


def _aiohttp(url: str, body: dict[str, Any]) -> Seen:
    async def call() -> Seen:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=body, headers=AUTH) as response,
        ):
            if body.get("stream"):
                content = b"".join([line async for line in response.content])
            else:
                content = await response.read()
            return Seen(response.status, dict(response.headers), content)

    return asyncio.run(call())


CLIENTS: dict[str, Post] = {
    "httpx2": _httpx_like(httpx2),
    "httpx": _httpx_like(httpx),
    "requests": _requests,
    "aiohttp": _aiohttp,
}


def sse_data(body: bytes) -> list[Any]:
    """The JSON documents of an SSE body's `data:` lines (but `[DONE]`)."""
    return [
        json.loads(line[5:])
        for line in body.decode().splitlines()
        if line.startswith("data:") and line[5:].strip() != "[DONE]"
    ]
