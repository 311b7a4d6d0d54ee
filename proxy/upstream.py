"""The proxy's HTTP/1.1 client for provider calls: kept-alive connections, bytes as they come.

aiohttp's request and response machinery cost ~100 µs of CPU per JSON call on the reference
machine, against ~55 µs for a whole pass-through on this design (`python -m bench.compare
--minimal`, docs/benchmarks.md). A proxy needs little of it: no redirects, cookies, auth,
decompression or proxies - it forwards what the client sent and relays what came back.

- Connections: one `asyncio.Protocol` each, parsed with httptools (llhttp, as uvicorn); idle
  ones kept per origin for `IDLE_SECONDS` and reused while the upstream keeps them open.
- Names are resolved by the SSRF-checking resolver (`proxy.resolver`), answers cached
  `DNS_TTL` seconds; IP literals were checked by the router already. TLS verifies as the
  system does (`ssl.create_default_context`), with SNI.
- The request goes out in one write when its body is known; a streamed body is sent as it
  arrives (chunked, unless the client declared its length), while the answer is read.
- The answer's body is read no faster than the caller relays it: past `HIGH_WATER` bytes
  buffered, reading from the upstream pauses (a slow client slows the provider, not memory).
- Framing (RFC 9112): informational answers (1xx but 101) are skipped, an answer to `HEAD`
  ends at its head, one without a length or chunking ends when the connection does.
- Timeouts are the watchdog's (`proxy.watchdog`): it cancels the calling task; a connection
  whose exchange did not finish is closed, never reused.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from functools import lru_cache
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.security import literal_address

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
IDLE_SECONDS = 15.0
DNS_TTL = 300.0
_NO_BODY_STATUSES = frozenset({204, 304})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class UpstreamError(Exception):
    """The call to the upstream failed; `os_error` is the network's reason, when it gave one."""

    def __init__(self, message: str, os_error: OSError | None = None) -> None:
        super().__init__(message)
        self.os_error = os_error


class UpstreamConnectError(UpstreamError):
    """No connection: refused, unreachable, name not resolved, or a forbidden address."""


class UpstreamCertificateError(UpstreamConnectError):
    """The upstream's TLS certificate was not accepted."""


class UpstreamDisconnected(UpstreamError):
    """The upstream closed or reset the connection before its answer was complete."""


class UpstreamProtocolError(UpstreamError):
    """The upstream's bytes are not HTTP/1.1."""


class _Connection(asyncio.Protocol):
    """One connection to an upstream and the exchange on it, if any."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.in_exchange = False
        self._write_ready: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._reset(head_request=False)

    def _reset(self, *, head_request: bool) -> None:
        self.head: asyncio.Future[None] | None = None
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.reusable = False
        self.error: UpstreamError | None = None
        self.waiter: asyncio.Future[None] | None = None
        self._head_request = head_request
        self._informational = False
        self._answered = False
        self._stray = False
        self._until_close = False
        self._reading_paused = False

    def begin(self, *, head_request: bool) -> asyncio.Future[None]:
        self.in_exchange = True
        self._reset(head_request=head_request)
        self.head = asyncio.get_running_loop().create_future()
        return self.head

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.in_exchange or self._stray:
            self.close()  # bytes nobody asked for (see `on_message_begin`)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"invalid HTTP/1.1 from the upstream ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head is not None and not self.head.done():
            self._fail(
                UpstreamDisconnected(
                    "the upstream closed the connection before answering", _os_error(exc)
                )
            )
        elif self.head is not None and not self.complete:
            if self._until_close and exc is None:
                self._finish(reusable=False)  # the body was everything until the close
            else:
                message = "the upstream closed the connection mid-response"
                self._fail(UpstreamDisconnected(message, _os_error(exc)))
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)

    async def drain(self) -> None:
        if self.closed:
            raise UpstreamDisconnected("the upstream closed the connection during the upload")
        if self._writing_paused:
            self._write_ready = asyncio.get_running_loop().create_future()
            await self._write_ready

    # httptools callbacks
    def on_message_begin(self) -> None:
        if self._answered:
            # A second answer to one request: the connection can no longer be trusted to
            # frame the next one, so it is closed once this exchange ends.
            self._stray = True
            self.reusable = False
            return
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._stray:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._stray:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._informational = True  # 100 Continue, 103 Early Hints: the answer follows
            return
        self.status = status
        self._answered = True
        framed = any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers
        )
        self._until_close = not framed and status not in _NO_BODY_STATUSES
        if self.head is not None and not self.head.done():
            self.head.set_result(None)
        if self._head_request:
            # An answer to HEAD has no body whatever its length says (RFC 9110 9.3.2); the
            # parser cannot know the method, so this connection is not reused after it.
            self._until_close = False
            self._finish(reusable=False)

    def on_body(self, body: bytes) -> None:
        if self.complete or self._stray:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._stray:
            return
        if self._informational:
            self._informational = False
            return
        if not self.complete:
            self._finish(reusable=self.parser.should_keep_alive())

    # exchange state
    def _finish(self, *, reusable: bool) -> None:
        self.complete = True
        self.reusable = reusable and not self._head_request
        self._wake()

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        if self.head is not None and not self.head.done():
            self.head.set_exception(error)
            self.head.exception()  # retrieved: a caller cancelled meanwhile does not warn
        self._wake()
        if self.transport is not None and not self.closed:
            self.transport.close()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> bytes:
        """All buffered body bytes, resuming reads once the buffer has drained."""
        data = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks.clear()
        self.buffered = 0
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class UpstreamResponse:
    """An answer's status and headers; its body from `chunks()`."""

    __slots__ = ("_connection", "headers", "raw_headers", "status")

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.status = connection.status
        self.raw_headers = connection.headers
        pairs = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in self.raw_headers
        ]
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(pairs))

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (what is buffered, joined); raises `UpstreamError` if the
        answer breaks off."""
        connection = self._connection
        loop = asyncio.get_running_loop()
        while True:
            if connection.chunks:
                yield connection.take()
                continue
            if connection.error is not None:
                raise connection.error
            if connection.complete:
                return
            connection.waiter = loop.create_future()
            try:
                await connection.waiter
            finally:
                connection.waiter = None


class _Exchange:
    """`async with client.request(...) as response`: the connection goes back to the pool
    only when its answer was read to the end."""

    __slots__ = (
        "_body",
        "_client",
        "_connection",
        "_headers",
        "_method",
        "_origin",
        "_target",
        "_upload",
        "_watch",
    )

    def __init__(
        self,
        client: UpstreamClient,
        *,
        method: str,
        origin: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes],
        watch: Any,
    ) -> None:
        self._client = client
        self._method, self._origin, self._target = method, origin, target
        self._headers, self._body, self._watch = headers, body, watch
        self._connection: _Connection | None = None
        self._upload: asyncio.Task[None] | None = None

    async def __aenter__(self) -> UpstreamResponse:
        client = self._client
        connection = await client._acquire(self._origin)
        if self._watch is not None:
            client._connected(self._watch)
        head = connection.begin(head_request=self._method == "HEAD")
        try:
            self._upload = client._write(
                connection, self._method, self._target, self._headers, self._body
            )
            await head
        except BaseException:
            if self._upload is not None:
                self._upload.cancel()
            client._in_use.discard(connection)
            connection.close()
            raise
        self._connection = connection
        return UpstreamResponse(connection)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._connection
        upload = self._upload
        # Reused only if the upstream heard the whole request and said all of its answer.
        sent = upload is None or (
            upload.done() and not upload.cancelled() and upload.exception() is None
        )
        if upload is not None and not upload.done():
            upload.cancel()
        if connection is None:
            return
        if (
            kind is None
            and sent
            and connection.complete
            and connection.reusable
            and not connection.closed
        ):
            self._client.release(self._origin, connection)
        else:
            connection.close()


class UpstreamClient:
    def __init__(self, resolver: Any, *, connected: Callable[[Any], None]) -> None:
        """`resolver`: an aiohttp-style resolver (`await resolve(host, port)` -> answers with a
        `host` each). `connected(watch)` is told when a call's connection is ready."""
        self._resolver = resolver
        self._connected = connected
        self._idle: dict[str, list[_Connection]] = {}
        self._dns: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._tls: ssl.SSLContext | None = None
        self._in_use: set[_Connection] = set()
        self._pruning: asyncio.TimerHandle | None = None

    def request(
        self,
        method: str,
        origin: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes],
        *,
        watch: Any = None,
    ) -> _Exchange:
        """`target`: the request line's target (path and query, already encoded); `origin`:
        `scheme://host:port` to connect to. `headers` go out as given (Host included)."""
        return _Exchange(
            self,
            method=method,
            origin=origin,
            target=target,
            headers=headers,
            body=body,
            watch=watch,
        )

    def _write(
        self,
        connection: _Connection,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes],
    ) -> asyncio.Task[None] | None:
        lines = [f"{method} {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers]
        transport = connection.transport
        assert transport is not None
        if isinstance(body, bytes):
            if body or method in _BODY_METHODS:
                lines.append(f"Content-Length: {len(body)}")
            transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            return None
        declared = any(name.lower() == "content-length" for name, _ in headers)
        if not declared:
            lines.append("Transfer-Encoding: chunked")
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        task = asyncio.get_running_loop().create_task(
            _upload(connection, body, chunked=not declared)
        )
        task.add_done_callback(_upload_done(connection))
        return task

    async def _acquire(self, origin: str) -> _Connection:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                self._in_use.add(connection)
                return connection
            connection.close()
        scheme, host, port = _split(origin)
        connection = await self._connect(scheme, host, port)
        self._in_use.add(connection)
        return connection

    def release(self, origin: str, connection: _Connection) -> None:
        self._in_use.discard(connection)
        connection.in_exchange = False
        connection.idle_since = time.monotonic()
        self._idle.setdefault(origin, []).append(connection)
        if self._pruning is None:
            self._pruning = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._prune)

    def _prune(self) -> None:
        """Close connections idle for `IDLE_SECONDS` (aiohttp's keep-alive timeout too)."""
        self._pruning = None
        cutoff = time.monotonic() - IDLE_SECONDS
        for origin, pool in list(self._idle.items()):
            kept = [c for c in pool if not c.closed and c.idle_since > cutoff]
            for connection in pool:
                if connection not in kept:
                    connection.close()
            if kept:
                self._idle[origin] = kept
            else:
                del self._idle[origin]
        if self._idle:
            self._pruning = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._prune)

    async def _connect(self, scheme: str, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self._context() if scheme == "https" else None
        last: OSError | None = None
        for address in await self._addresses(host, port):
            try:
                _, connection = await loop.create_connection(
                    _Connection, address, port, ssl=tls, server_hostname=host if tls else None
                )
            except ssl.SSLCertVerificationError as exc:
                detail = exc.verify_message or exc.reason or "not verified"
                raise UpstreamCertificateError(
                    f"the certificate of {host} was refused: {detail}", exc
                ) from exc
            except OSError as exc:
                last = exc
                continue
            return connection
        raise UpstreamConnectError(f"cannot connect to {host}:{port}", last) from last

    async def _addresses(self, host: str, port: int) -> list[str]:
        if literal_address(host) is not None:
            return [host]
        cached = self._dns.get((host, port))
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            answers = await self._resolver.resolve(host, port, family=0)
        except OSError as exc:  # `ForbiddenAddress` (an SSRF refusal) included
            raise UpstreamConnectError(f"cannot resolve {host}", exc) from exc
        addresses = [answer["host"] for answer in answers]
        if len(self._dns) > 1024:
            self._dns.clear()
        self._dns[(host, port)] = (now + DNS_TTL, addresses)
        return addresses

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def connection_count(self) -> int:
        """Connections open to upstreams, in use or idle."""
        idle = sum(1 for pool in self._idle.values() for c in pool if not c.closed)
        return idle + sum(1 for c in self._in_use if not c.closed)

    async def close(self) -> None:
        if self._pruning is not None:
            self._pruning.cancel()
            self._pruning = None
        for pool in self._idle.values():
            for connection in pool:
                connection.close()
        self._idle.clear()
        for connection in self._in_use:
            connection.close()
        self._in_use.clear()
        await self._resolver.close()
        await asyncio.sleep(0)  # the transports close their sockets on the next turn


async def _upload(connection: _Connection, body: AsyncIterator[bytes], *, chunked: bool) -> None:
    transport = connection.transport
    assert transport is not None
    async for chunk in body:
        if connection.closed:
            return
        transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        await connection.drain()
    if chunked and not connection.closed:
        transport.write(b"0\r\n\r\n")


def _upload_done(connection: _Connection) -> Callable[[asyncio.Task[None]], None]:
    def done(task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        failure = UpstreamError(f"the request body could not be sent ({type(error).__name__})")
        failure.__cause__ = error
        connection._fail(failure)

    return done


@lru_cache(maxsize=256)
def _split(origin: str) -> tuple[str, str, int]:
    parts = urlsplit(origin)
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, parts.hostname or "", port


def _os_error(exc: Exception | None) -> OSError | None:
    return exc if isinstance(exc, OSError) else None
