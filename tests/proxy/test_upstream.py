"""`UpstreamClient` against real asyncio servers on loopback: reuse, flow control, framing,
resolution and the errors it reports."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from proxy import upstream
from proxy.security import ForbiddenAddress
from proxy.upstream import (
    UpstreamClient,
    UpstreamConnectError,
    UpstreamDisconnected,
    UpstreamResponse,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Resolver:
    """Answers every name with the given addresses, and counts the questions."""

    def __init__(self, *addresses: str, error: OSError | None = None) -> None:
        self.addresses = addresses
        self.error = error
        self.questions = 0

    async def resolve(self, host: str, port: int, family: int = 0) -> list[dict[str, Any]]:
        self.questions += 1
        if self.error is not None:
            raise self.error
        return [{"hostname": host, "host": a, "port": port} for a in self.addresses]

    async def close(self) -> None:
        pass


class _Server:
    """A loopback server whose connections are all closed when it stops."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> _Server:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)
            try:
                await self._handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self._server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()
        await asyncio.sleep(0.01)  # transports close their sockets on the next turns


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


def _answer(body: bytes, *extra: bytes) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(body), *extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def _body(response: UpstreamResponse) -> bytes:
    return b"".join([chunk async for chunk in response.chunks()])


def _client(resolver: Any = None) -> UpstreamClient:
    return UpstreamClient(resolver or _Resolver("127.0.0.1"), connected=lambda watch: None)


async def _call(client: UpstreamClient, origin: str, body: bytes = b"{}") -> tuple[int, bytes]:
    headers = [("Host", "provider.test")]
    async with client.request("POST", origin, "/v1/x", headers, body) as response:
        return response.status, await _body(response)


def test_client_reuses_a_kept_alive_connection_and_resolves_a_name_once():
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            await _read_request(reader)
            writer.write(_answer(b"ok"))
            await writer.drain()

    async def main() -> None:
        async with _Server(handler) as server:
            port = server.port
            resolver = _Resolver("127.0.0.1")
            client = _client(resolver)
            for _ in range(3):
                assert await _call(client, f"http://provider.test:{port}") == (200, b"ok")
            assert (connections, resolver.questions) == (1, 1)
            assert client.connection_count() == 1
            await client.close()
            assert client.connection_count() == 0

    asyncio.run(main())


def test_client_writes_the_request_as_given_with_its_length():
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head + await reader.readexactly(7))
        writer.write(_answer(b""))
        await writer.drain()

    async def main() -> None:
        async with _Server(handler) as server:
            port = server.port
            client = _client()
            headers = [("Host", "provider.test"), ("Authorization", "Bearer k"), ("X-Id", "1")]
            origin = f"http://provider.test:{port}"
            async with client.request("POST", origin, "/v1/x?a=%20b", headers, b"payload") as r:
                assert r.status == 200
            await client.close()

    asyncio.run(main())
    assert seen == [
        b"POST /v1/x?a=%20b HTTP/1.1\r\nHost: provider.test\r\nAuthorization: Bearer k\r\n"
        b"X-Id: 1\r\nContent-Length: 7\r\n\r\npayload"
    ]


def test_client_stops_reading_while_the_caller_is_slow_and_resumes_after(monkeypatch):
    monkeypatch.setattr(upstream, "HIGH_WATER", 64 * 1024)
    total = 4 * 1024 * 1024
    written = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        for _ in range(total // 65536):
            writer.write(b"x" * 65536)
            await writer.drain()
            written += 65536

    async def main() -> None:
        async with _Server(handler) as server:
            port = server.port
            client = _client()
            async with client.request("GET", f"http://provider.test:{port}", "/", [], b"") as r:
                chunks = r.chunks()
                received = len(await anext(chunks))
                await asyncio.sleep(0.3)  # a slow client: the upstream must be held back meanwhile
                connection = r._connection
                assert connection.buffered <= upstream.HIGH_WATER + 256 * 1024
                assert written < total  # the rest waits in the kernel, not in this process
                async for chunk in chunks:
                    received += len(chunk)
                assert received == total
            await client.close()

    asyncio.run(main())


def test_client_tries_the_next_address_when_one_refuses():
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_answer(b"second"))
        await writer.drain()

    async def main() -> None:
        async with _Server(handler) as server:
            port = server.port
            client = _client(_Resolver("127.0.0.2", "127.0.0.1"))  # nothing listens on .2
            assert await _call(client, f"http://provider.test:{port}") == (200, b"second")
            await client.close()

    asyncio.run(main())


def test_client_reports_refusals_and_forbidden_addresses_with_their_os_error():
    async def main() -> None:
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        client = _client()
        with pytest.raises(UpstreamConnectError) as refused:
            await _call(client, f"http://provider.test:{port}")
        assert isinstance(refused.value.os_error, ConnectionRefusedError)
        forbidden = ForbiddenAddress("internal.test", "a private address")
        guarded = _client(_Resolver(error=forbidden))
        with pytest.raises(UpstreamConnectError) as refusal:
            await _call(guarded, "http://internal.test:80")
        assert refusal.value.os_error is forbidden

    asyncio.run(main())


def test_client_raises_when_the_answer_breaks_off_and_does_not_reuse_the_connection():
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    async def main() -> None:
        async with _Server(handler) as server:
            port = server.port
            client = _client()
            with pytest.raises(UpstreamDisconnected):
                await _call(client, f"http://provider.test:{port}")
            assert client.connection_count() == 0

    asyncio.run(main())


def test_client_closes_a_connection_that_sends_bytes_nobody_asked_for():
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_answer(b"ok") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra")
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        async with _Server(handler) as server:
            port = server.port
            client = _client()
            assert await _call(client, f"http://provider.test:{port}") == (200, b"ok")
            await asyncio.sleep(0.05)
            assert client.connection_count() == 0  # not kept for the next call
            await client.close()

    asyncio.run(main())


def test_client_closes_connections_idle_past_the_keep_alive_time(monkeypatch):
    monkeypatch.setattr(upstream, "IDLE_SECONDS", 0.1)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_answer(b"ok"))
        await writer.drain()
        await reader.read()  # until the client closes

    async def main() -> None:
        async with _Server(handler) as server:
            port = server.port
            client = _client()
            assert await _call(client, f"http://provider.test:{port}") == (200, b"ok")
            assert client.connection_count() == 1
            await asyncio.sleep(0.3)
            assert client.connection_count() == 0
            await client.close()

    asyncio.run(main())


def test_client_closes_an_idle_connection_that_starts_talking():
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_answer(b"ok"))
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async def main() -> None:
        async with _Server(handler) as server:
            client = _client()
            assert await _call(client, f"http://provider.test:{server.port}") == (200, b"ok")
            assert client.connection_count() == 1
            await asyncio.sleep(0.2)
            assert client.connection_count() == 0
            await client.close()

    asyncio.run(main())


def test_client_does_not_reuse_a_connection_whose_upload_was_cut_short_by_an_early_answer():
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        # Refused before the body has all arrived (as a provider does for an oversized upload).
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"x" * 1024
            await asyncio.sleep(0.01)

    async def main() -> None:
        async with _Server(handler) as server:
            client = _client()
            origin = f"http://provider.test:{server.port}"
            async with client.request("PUT", origin, "/upload", [], body()) as response:
                assert response.status == 413
                assert await _body(response) == b""
            assert client.connection_count() == 0
            await client.close()

    asyncio.run(main())
