"""ASGI plumbing: read a whole request, write a `Reply` (gzip and streaming included)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._scenarios import NO_GZIP_HEADER
from ._wire import JSON_CONTENT_TYPE, BodyReply, Reply, Request, StreamReply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SIMULATOR_HEADER = (b"x-llmobserve-simulator", b"1")


async def read_request(scope: Scope, receive: Receive) -> Request:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return Request(
        method=scope["method"],
        path=scope["path"],
        query_string=scope.get("query_string", b""),
        headers=tuple((bytes(name), bytes(value)) for name, value in scope["headers"]),
        body=b"".join(chunks),
        raw_path=bytes(scope.get("raw_path") or scope["path"].encode()),
    )


async def send_reply(reply: Reply, request: Request, send: Send) -> None:
    if isinstance(reply, StreamReply):
        await _send_stream(reply, send)
    else:
        await _send_body(reply, request, send)


async def _send_body(reply: BodyReply, request: Request, send: Send) -> None:
    body = reply.body
    headers = _headers(reply.content_type, reply.headers)
    if reply.content_type == JSON_CONTENT_TYPE and _wants_gzip(request):
        # The real OpenAI API gzips JSON for clients that accept it; proxies must decompress.
        body = gzip.compress(body, mtime=0)
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_stream(reply: StreamReply, send: Send) -> None:
    # Streams are never compressed: each event must reach the client as it is written.
    headers = _headers(reply.content_type, reply.headers)
    headers.append((b"cache-control", b"no-cache"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    for index, event in enumerate(reply.events):
        if index and reply.delay_seconds:
            await asyncio.sleep(reply.delay_seconds)
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _headers(content_type: str, extra: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type.encode("latin-1")), SIMULATOR_HEADER]
    headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in extra]
    return headers


def _wants_gzip(request: Request) -> bool:
    if (request.header(NO_GZIP_HEADER) or "").strip() == "1":
        return False
    for item in (request.header("accept-encoding") or "").split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() != "gzip":
            continue
        quality = params.strip().lower().removeprefix("q=")
        try:
            return not params.strip() or float(quality) > 0
        except ValueError:
            return True
    return False


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown; the simulator has nothing to set up."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
