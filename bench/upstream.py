"""A fast fake OpenAI upstream: raw asyncio protocol on uvloop, httptools parsing, keep-alive.

The simulator (`llmobserve.simulator`) is the correct fake for tests; this one is the fast fake
for benchmarks, so that the upstream is never what limits a measurement. It answers every
request with an OpenAI-shaped Chat Completion:

- JSON when the body does not say `"stream":true`;
- Server-Sent Events otherwise: `events` content chunks `gap_ms` apart (`?events=&gap_ms=` on
  the URL override both), the finish chunk,
  the usage chunk when the body asks `"include_usage":true` (then every other chunk carries
  `"usage":null`, as OpenAI does), and `data: [DONE]`.

Each content chunk carries the `time.monotonic_ns()` at which it was written (`@<ns>@` in its
text), so a client can measure how long each event took to reach it - through a proxy that
holds chunks back, that delay grows by the gap between events.

`python -m bench.upstream --port 8081 [--events 10] [--gap-ms 2]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import cast

import httptools
import uvloop

MODEL = "gpt-4o-mini-2024-07-18"
_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 7,
    "total_tokens": 19,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
_COMPLETION = {
    "id": "chatcmpl-bench0000000000000000000000",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": MODEL,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I assist you today?",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": _USAGE,
    "service_tier": "default",
    "system_fingerprint": "fp_bench",
}
# The headers an OpenAI response carries, give or take (the proxy copies every one).
_COMMON_HEADERS = (
    b"openai-organization: bench\r\n"
    b"openai-processing-ms: 1\r\n"
    b"openai-version: 2020-10-01\r\n"
    b"x-ratelimit-limit-requests: 10000\r\n"
    b"x-ratelimit-remaining-requests: 9999\r\n"
    b"x-request-id: req_bench\r\n"
)


def _json_response() -> bytes:
    body = json.dumps(_COMPLETION, separators=(",", ":")).encode()
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + _COMMON_HEADERS
        + b"content-length: %d\r\n\r\n" % len(body)
    )
    return head + body


JSON_RESPONSE = _json_response()
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    + _COMMON_HEADERS
    + b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)
_CHUNK_PREFIX = (
    b'data: {"id":"chatcmpl-bench0000000000000000000000","object":"chat.completion.chunk",'
    b'"created":1700000000,"model":"' + MODEL.encode() + b'","service_tier":"default",'
    b'"system_fingerprint":"fp_bench","choices":['
)
_NULL_USAGE = b',"usage":null'
_USAGE_CHUNK = (
    _CHUNK_PREFIX + b'],"usage":' + json.dumps(_USAGE, separators=(",", ":")).encode() + b"}\n\n"
)
_DONE = b"data: [DONE]\n\n"


def _frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (RFC 9112 section 7.1)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def content_event(text: bytes, *, null_usage: bool) -> bytes:
    choice = b'{"index":0,"delta":{"content":"' + text + b'"},"logprobs":null,"finish_reason":null}'
    return _CHUNK_PREFIX + choice + b"]" + (_NULL_USAGE if null_usage else b"") + b"}\n\n"


def finish_event(*, null_usage: bool) -> bytes:
    choice = b'{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}'
    return _CHUNK_PREFIX + choice + b"]" + (_NULL_USAGE if null_usage else b"") + b"}\n\n"


class _Stream:
    """Writes one SSE response, an event every `gap` seconds (all at once when 0)."""

    def __init__(
        self, protocol: UpstreamProtocol, events: int, gap: float, include_usage: bool
    ) -> None:
        self._protocol = protocol
        self._left = events
        self._gap = gap
        self._usage = include_usage
        self.cancelled = False

    def start(self) -> None:
        self._protocol.write(STREAM_HEAD)
        self._next()

    def _next(self) -> None:
        if self.cancelled:
            return
        while self._left > 0:
            self._left -= 1
            stamp = b"@%d@" % time.monotonic_ns()
            self._protocol.write(_frame(content_event(stamp, null_usage=self._usage)))
            if self._gap > 0 and self._left > 0:
                asyncio.get_running_loop().call_later(self._gap, self._next)
                return
        tail = finish_event(null_usage=self._usage)
        if self._usage:
            tail += _USAGE_CHUNK
        self._protocol.write(_frame(tail + _DONE) + b"0\r\n\r\n")
        self._protocol.response_done()


def _stream_shape(url: bytes, events: int, gap: float) -> tuple[int, float]:
    """`?events=N&gap_ms=G` on the request URL overrides the defaults for one stream."""
    _, _, query = url.partition(b"?")
    for item in query.split(b"&"):
        key, _, value = item.partition(b"=")
        if key == b"events":
            events = int(value)
        elif key == b"gap_ms":
            gap = float(value) / 1000
    return events, gap


class UpstreamProtocol(asyncio.Protocol):
    """One client connection; requests are answered in order (no pipelining needed)."""

    def __init__(self, events: int, gap: float) -> None:
        self._events = events
        self._gap = gap
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._body: list[bytes] = []
        self._url = b""
        self._stream: _Stream | None = None
        self._close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stream is not None:
            self._stream.cancelled = True
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._body = []
        self._url = b""

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self._body)
        self._close_after = not self._parser.should_keep_alive()
        if b'"stream":true' in body or b'"stream": true' in body:
            include_usage = b'"include_usage":true' in body or b'"include_usage": true' in body
            events, gap = _stream_shape(self._url, self._events, self._gap)
            self._stream = _Stream(self, events, gap, include_usage)
            self._stream.start()
            return
        self.write(JSON_RESPONSE)
        self.response_done()

    def write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    def response_done(self) -> None:
        self._stream = None
        if self._close_after and self._transport is not None:
            self._transport.close()


async def serve(port: int, events: int, gap_ms: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: UpstreamProtocol(events, gap_ms / 1000), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=int, default=10, help="content chunks per stream")
    parser.add_argument("--gap-ms", type=float, default=2.0, help="milliseconds between chunks")
    args = parser.parse_args(argv)
    uvloop.run(serve(args.port, args.events, args.gap_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
