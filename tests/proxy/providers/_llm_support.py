"""Helpers for the LLM provider tests: the observer fed in random pieces, request facts, and a
fake upstream that replays fixture files to a real proxy.

A module rather than a conftest, because this directory is shared with the services group."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pricing
from llmobserve._servers import ServerThread
from pricing import TokenUsage
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.result import CallResult
from proxy.providers.usage import ResponseObserver, request_facts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SEED = 20250707
JSON = "application/json"
SSE = "text/event-stream; charset=utf-8"
HTML_ERROR_PAGE = (FIXTURES / "openai" / "error_bad_gateway.html").read_bytes()


def fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


def random_chunks(data: bytes, seed: int = SEED, max_size: int = 64) -> list[bytes]:
    rng = random.Random(seed)
    chunks, start = [], 0
    while start < len(data):
        size = rng.randint(1, max_size)
        chunks.append(data[start : start + size])
        start += size
    return chunks


def observe(
    endpoint: Endpoint,
    body: bytes,
    *,
    content_type: str = JSON,
    status: int = 200,
    request: RequestFacts | None = None,
    seed: int = SEED,
) -> CallResult:
    """Feed `body` in random pieces, check every piece is forwarded unchanged, return the read."""
    observer = ResponseObserver(
        endpoint,
        status=status,
        content_type=content_type,
        content_encoding="",
        request=request or RequestFacts(),
        headers={"Content-Type": content_type},
    )
    for chunk in random_chunks(body, seed):
        assert observer.feed(chunk) == chunk
    tail, result = observer.finish()
    assert tail == b""
    return result


def endpoint_for(provider: str, path: str, method: str = "POST") -> Endpoint:
    endpoint = detect_endpoint(provider, method, path)
    assert endpoint is not None, (provider, method, path)
    return endpoint


def facts_for(endpoint: Endpoint, body: bytes, *, inject: bool = True) -> RequestFacts:
    return request_facts(endpoint, body, inject_stream_usage=inject)


def expected_cost_status(provider: str, model: str) -> str:
    """'priced' when the bundled price data can price the model, else 'unknown_model'.

    Asks the pricing package the way the proxy does (`price()` with its fallbacks where the
    package has it, else the registry), so the expectation follows the price data.
    """
    quote = getattr(pricing, "price", None)
    if quote is not None:
        usage = pricing.Usage(tokens=TokenUsage(1, 0))  # type: ignore[attr-defined]
        return "priced" if quote(provider, model, usage).cost is not None else "unknown_model"
    known = pricing.default_registry().cost(provider, model, TokenUsage(1, 0)) is not None
    return "priced" if known else "unknown_model"


@dataclass
class Reply:
    body: bytes
    content_type: str = JSON
    status: int = 200


@dataclass
class Replay:
    """An ASGI upstream that answers (method, path) with a fixture, in small pieces."""

    url: str = ""
    replies: dict[tuple[str, str], Reply] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    def add(self, method: str, path: str, reply: Reply) -> None:
        self.replies[(method, path)] = reply

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        self.received.append(
            {
                "method": scope["method"],
                "path": path,
                "query": scope["query_string"].decode(),
                "body": body,
            }
        )
        reply = self.replies.get((scope["method"], path)) or Reply(
            b'{"error":"no route"}', status=404
        )
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(b"content-type", reply.content_type.encode())],
            }
        )
        for piece in random_chunks(reply.body, max_size=512):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def serve_replay() -> Iterator[Replay]:
    """Run a `Replay` upstream for the duration of a (yield) fixture."""
    replay = Replay()
    with ServerThread(replay) as server:
        replay.url = server.url
        yield replay


ObserveFn = Callable[..., CallResult]
