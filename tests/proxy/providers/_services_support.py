"""Helpers for the services-group tests: fixtures, an event-stream encoder, a fake upstream.

The encoder writes AWS event-stream frames from the documented layout
(https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html) so stream fixtures are
built, not captured; `ResponseObserver` is driven exactly as the proxy drives it.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import semconv
from llmobserve._servers import ServerThread
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.result import CallResult
from proxy.providers.usage import ResponseObserver, request_facts
from semconv import LLMOBSERVE_COST_REASON, LLMOBSERVE_COST_STATUS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SEED = 20240611


def fixture(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def json_fixture(provider: str, name: str) -> Any:
    return json.loads(fixture(provider, name))


# AWS event stream


def encode_header(name: str, value: str | bytes | int | bool) -> bytes:
    raw_name = name.encode()
    head = struct.pack(">B", len(raw_name)) + raw_name
    if isinstance(value, bool):
        return head + struct.pack(">B", 0 if value else 1)
    if isinstance(value, int):
        return head + struct.pack(">Bi", 4, value)
    if isinstance(value, str):
        data = value.encode()
        return head + struct.pack(">BH", 7, len(data)) + data
    return head + struct.pack(">BH", 6, len(value)) + value


def encode_message(headers: Mapping[str, str | bytes | int | bool], payload: bytes) -> bytes:
    """One frame: prelude (lengths + CRC), headers, payload, message CRC."""
    raw_headers = b"".join(encode_header(k, v) for k, v in headers.items())
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, payload: object) -> bytes:
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, json.dumps(payload).encode())


def chunk(model_event: object) -> bytes:
    """An InvokeModelWithResponseStream `chunk`: `{"bytes": base64(model event)}`."""
    raw = json.dumps(model_event).encode()
    return event("chunk", {"bytes": base64.b64encode(raw).decode(), "p": "abcdefgh"})


def exception(exception_type: str, message: str) -> bytes:
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode())


# Driving the observer


def random_chunks(data: bytes, seed: int = SEED, max_size: int = 37) -> list[bytes]:
    rng = random.Random(seed)
    chunks, start = [], 0
    while start < len(data):
        size = rng.randint(1, max_size)
        chunks.append(data[start : start + size])
        start += size
    return chunks


def detect(provider: str, method: str, path: str) -> Endpoint:
    endpoint = detect_endpoint(provider, method, path)
    assert endpoint is not None, (provider, method, path)
    return endpoint


def facts(endpoint: Endpoint, request_body: bytes = b"") -> RequestFacts:
    found = request_facts(endpoint, request_body, inject_stream_usage=True)
    assert found.body is request_body or found.body == request_body  # never rewritten
    return found


def observe(
    endpoint: Endpoint,
    body: bytes,
    *,
    request_body: bytes = b"",
    status: int = 200,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
    chunks: Iterable[bytes] | None = None,
    content_encoding: str = "",
) -> CallResult:
    """Feed a response through `ResponseObserver` as the proxy does; bytes must pass unchanged."""
    observer = ResponseObserver(
        endpoint,
        status=status,
        content_type=content_type,
        content_encoding=content_encoding,
        request=facts(endpoint, request_body),
        headers={"Content-Type": content_type, **(headers or {})},
    )
    for piece in chunks if chunks is not None else [body]:
        assert observer.feed(piece) == piece
    tail, result = observer.finish()
    assert tail == b""
    return result


# A fake upstream that replays fixtures


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    piece: int = 0
    """Send the body in pieces of this many bytes (0: at once)."""


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeUpstream:
    """ASGI app answering `(method, raw path)` with a `Reply`; records what it received."""

    def __init__(self, replies: Mapping[tuple[str, str], Reply]) -> None:
        self.replies = dict(replies)
        self.received: list[Received] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = (scope.get("raw_path") or scope["path"].encode()).decode()
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.received.append(Received(scope["method"], path, headers, body))
        reply = self.replies.get((scope["method"], path), Reply(b'{"error":"no fixture"}', 404))
        raw_headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": raw_headers})
        for part in _pieces(reply.body, reply.piece):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _pieces(body: bytes, size: int) -> Iterator[bytes]:
    if size <= 0:
        yield body
        return
    for start in range(0, len(body), size):
        yield body[start : start + size]


@contextmanager
def fake_upstream(replies: Mapping[tuple[str, str], Reply]) -> Iterator[tuple[str, FakeUpstream]]:
    app = FakeUpstream(replies)
    with ServerThread(app) as server:
        yield server.url, app


def assert_units_only_span(attributes: Mapping[str, Any]) -> None:
    """A call metered in units (no tokens), as the span shows it.

    Pricing of units is being written concurrently: the status may be `priced`,
    `unknown_model` or `usage_unavailable` (no price yet), but the reason must never be one of
    ours (a body we could not read) nor a dimension the pricing engine does not know.
    """
    status = attributes[LLMOBSERVE_COST_STATUS]
    assert status in ("usage_unavailable", "priced", "unknown_model"), status
    reason = str(attributes.get(LLMOBSERVE_COST_REASON, ""))
    for ours in ("unknown dimension", "not valid JSON", "response has no", "parser error"):
        assert ours not in reason, reason


def span_units(attributes: Mapping[str, Any]) -> dict[str, float] | None:
    """The span's unit attributes, or None while the proxy does not emit them."""
    prefix = getattr(semconv, "LLMOBSERVE_USAGE", None)
    if prefix is None:
        return None
    return {
        key.removeprefix(f"{prefix}."): value
        for key, value in attributes.items()
        if key.startswith(f"{prefix}.")
    }
