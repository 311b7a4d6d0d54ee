"""The load generator: raw asyncio connections on uvloop, httptools response parsing.

One implementation for every target (direct, bare pass-through, our proxy), so differences
are the targets'. Requests are pre-encoded bytes; each connection is kept alive and carries
one request at a time. Three drivers:

- `closed_loop`: `concurrency` connections, each sending its next request when the previous
  answer ends (latency at c=1, throughput at c=64/256);
- `fixed_rate`: an open loop sending `rate` requests per second whatever the answers do,
  on as many connections as needed (spans exported vs requests sent);
- `streams`: one stream at a time, recording time to first byte, total time, and the delay
  of every event the fake upstream stamped (chunks held back show up there).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import cast

import httptools

_STAMP = re.compile(rb"@(\d+)@")


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    path: str
    """Request path for a chat completion on this target (`/v1/...` or `/openai/v1/...`)."""


def chat_request(target: Target, *, tag: str, stream: bool = False, query: str = "") -> bytes:
    """A pre-encoded `POST .../chat/completions`, as the openai SDK would send it."""
    stream_field = ',"stream":true' if stream else ""
    body = (
        '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]'
        + stream_field
        + ',"max_tokens":64}'
    ).encode()
    path = f"{target.path}?{query}" if query else target.path
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{target.port}\r\n"
        "Authorization: Bearer sk-bench-0000000000000000000000000000000000000000\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        "User-Agent: OpenAI/Python 1.99.0\r\n"
        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
        f"X-LLMObserve-Customer-ID: {tag}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Sample:
    started: int
    first_byte: int
    ended: int
    status: int
    event_delays: list[int] = field(default_factory=list)


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 client connection."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._done: asyncio.Future[None] | None = None
        self._status = 0
        self._first = 0
        self._track = False
        self._pieces: list[tuple[int, bytes]] = []
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, "127.0.0.1", port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._done is not None and not self._done.done():
            self._done.set_exception(ConnectionError("connection closed mid-response"))

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        now = time.monotonic_ns()
        if not self._first:
            self._first = now
        if self._track:
            self._pieces.append((now, body))

    def on_message_complete(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def send(self, request: bytes, *, track_events: bool = False) -> Sample:
        assert self._transport is not None
        self._done = asyncio.get_running_loop().create_future()
        self._status = self._first = 0
        self._track = track_events
        self._pieces = []
        started = time.monotonic_ns()
        self._transport.write(request)
        await self._done
        ended = time.monotonic_ns()
        sample = Sample(started, self._first or ended, ended, self._status)
        if track_events:
            sample.event_delays = _event_delays(self._pieces)
        return sample

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _event_delays(pieces: list[tuple[int, bytes]]) -> list[int]:
    """For each stamped event: arrival of the piece that completed its stamp, minus the stamp."""
    body = b"".join(piece for _, piece in pieces)
    ends: list[tuple[int, int]] = []
    offset = 0
    for arrived, piece in pieces:
        offset += len(piece)
        ends.append((offset, arrived))
    delays = []
    index = 0
    for match in _STAMP.finditer(body):
        while ends[index][0] < match.end():
            index += 1
        delays.append(ends[index][1] - int(match.group(1)))
    return delays


@dataclass
class LoadResult:
    samples: list[Sample]
    """The 200 answers that ended within the measured window."""
    seconds: float
    errors: int
    answered: int = 0
    """Every answer, warm-up and tail included (to divide a server's CPU time by)."""

    @property
    def rate(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0


async def closed_loop(
    port: int, request: bytes, *, concurrency: int, seconds: float, warmup: float = 0.0
) -> LoadResult:
    """Answers that end within [warmup, warmup + seconds] count; errors are non-200 answers."""
    connections = [await Connection.open(port) for _ in range(concurrency)]
    start = time.monotonic_ns()
    window_start = start + int(warmup * 1e9)
    window_end = window_start + int(seconds * 1e9)
    samples: list[Sample] = []
    errors = answered = 0

    async def worker(connection: Connection) -> None:
        nonlocal errors, answered
        while time.monotonic_ns() < window_end:
            try:
                sample = await connection.send(request)
            except ConnectionError:
                errors += 1
                connection = await Connection.open(port)
                connections.append(connection)
                continue
            answered += 1
            if window_start <= sample.ended <= window_end:
                if sample.status == 200:
                    samples.append(sample)
                else:
                    errors += 1

    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    return LoadResult(samples, seconds, errors, answered)


async def count_loop(port: int, request: bytes, *, concurrency: int, count: int) -> int:
    """Send `count` requests over `concurrency` connections; returns the non-200 answers."""
    connections = [await Connection.open(port) for _ in range(concurrency)]
    left = count
    errors = 0

    async def worker(connection: Connection) -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            try:
                sample = await connection.send(request)
            except ConnectionError:
                errors += 1
                connection = await Connection.open(port)
                connections.append(connection)
                continue
            errors += sample.status != 200

    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    return errors


@dataclass
class RateResult:
    sent: int
    ok: int
    errors: int
    max_lag_ms: float
    """How late the generator sent its most delayed request (it kept up when this is small)."""
    samples: list[Sample]


async def fixed_rate(port: int, request: bytes, *, rate: float, seconds: float) -> RateResult:
    """An open loop: request i is sent at i / rate seconds, on any idle connection."""
    loop = asyncio.get_running_loop()
    idle: list[Connection] = []
    opened: list[Connection] = []
    samples: list[Sample] = []
    errors = 0
    pending: set[asyncio.Task[None]] = set()

    async def one(connection: Connection) -> None:
        nonlocal errors
        try:
            sample = await connection.send(request)
        except (ConnectionError, RuntimeError):  # closed by the server while idle
            errors += 1
            return
        if sample.status == 200:
            samples.append(sample)
        else:
            errors += 1
        idle.append(connection)

    total = int(rate * seconds)
    start = loop.time()
    max_lag = 0.0
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, loop.time() - due)
        while idle and idle[-1].closed:  # the server closes idle keep-alive connections
            idle.pop()
        if idle:
            connection = idle.pop()
        else:
            connection = await Connection.open(port)
            opened.append(connection)
        task = loop.create_task(one(connection))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    for connection in opened:
        connection.close()
    return RateResult(total, len(samples), errors, max_lag * 1000, samples)


async def streams(port: int, request: bytes, *, count: int) -> list[Sample]:
    """`count` streams, one after the other on one connection, events tracked."""
    connection = await Connection.open(port)
    try:
        return [await connection.send(request, track_events=True) for _ in range(count)]
    finally:
        connection.close()
