"""A pass-through on a minimal upstream client: what a leaner client than aiohttp could save.

The same server stack as `bench.bare` (uvicorn, uvloop, httptools, a plain ASGI callable),
but the upstream call is an `asyncio.Protocol` with httptools' response parser and a list of
idle keep-alive connections - no TLS, no DNS, no timeouts, no flow control, no error mapping:
a measurement of the floor. `python -m bench.compare --minimal` runs it beside the bare
pass-through and our proxy; the difference between the two pass-throughs is what aiohttp's
request and response machinery costs a call (docs/benchmarks.md). The proxy's own client,
`proxy/upstream.py`, is this design with what a shipped client needs.

`python -m bench.minimal --port 8083 --upstream http://127.0.0.1:8081`
"""

from __future__ import annotations

import asyncio
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from bench.bare import HOP_BY_HOP, read_body, serve

_PREFIX = b"/openai"


class _Upstream(asyncio.Protocol):
    """One keep-alive connection to the upstream, one exchange at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.head: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] | None = None
        self.body: asyncio.Queue[bytes | None] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head is not None and not self.head.done():
            self.head.set_exception(ConnectionError("upstream closed the connection"))
        if self.body is not None:
            self.body.put_nowait(None)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.head is not None
        self.head.set_result((self.parser.get_status_code(), self.headers))

    def on_body(self, body: bytes) -> None:
        assert self.body is not None
        self.body.put_nowait(body)

    def on_message_complete(self) -> None:
        assert self.body is not None
        self.body.put_nowait(None)


class MinimalPassThrough:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._host_header = f"{self._host}:{self._port}".encode()
        self._idle: list[_Upstream] = []

    async def _connection(self) -> _Upstream:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Upstream, self._host, self._port)
        return connection

    async def _exchange(self, request: bytes) -> tuple[_Upstream, int, list[tuple[bytes, bytes]]]:
        for _ in range(3):  # an idle connection the upstream closed meanwhile: the next one
            connection = await self._connection()
            loop = asyncio.get_running_loop()
            connection.head, connection.body = loop.create_future(), asyncio.Queue()
            try:
                assert connection.transport is not None
                connection.transport.write(request)
                status, headers = await connection.head
            except (ConnectionError, RuntimeError):
                continue
            return connection, status, headers
        raise ConnectionError("upstream unreachable")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = await read_body(receive)
        target = scope["raw_path"].removeprefix(_PREFIX)
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        lines = [scope["method"].encode() + b" " + target + b" HTTP/1.1"]
        lines.append(b"host: " + self._host_header)
        headers = scope["headers"]
        lines += [name + b": " + value for name, value in headers if name not in HOP_BY_HOP]
        lines.append(b"content-length: %d" % len(body))
        request = b"\r\n".join(lines) + b"\r\n\r\n" + body
        connection, status, answer = await self._exchange(request)
        out = [(k.lower(), v) for k, v in answer if k.lower() not in HOP_BY_HOP]
        out += [(b"content-length", v) for k, v in answer if k.lower() == b"content-length"]
        await send({"type": "http.response.start", "status": status, "headers": out})
        assert connection.body is not None
        while (chunk := await connection.body.get()) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        connection.head = connection.body = None
        if not connection.closed:
            self._idle.append(connection)


def main(argv: list[str] | None = None) -> int:
    return serve("python -m bench.minimal", MinimalPassThrough, argv)


if __name__ == "__main__":
    raise SystemExit(main())
