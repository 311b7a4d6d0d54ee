"""Real servers on loopback for fault, security and load tests.

`RawUpstream` is a TCP server whose every connection runs a scripted coroutine, so a test can
make an upstream misbehave exactly (answer slowly, stall, reset mid-stream, redirect) and see
when the proxy hangs up on it. `RunningProxy` is the real proxy (uvicorn, aiohttp) in a thread,
with its event loop and connection pool reachable for leak counting.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmobserve._servers import ServerThread, free_port
from proxy.app import create_app
from proxy.settings import Settings

ROOT = Path(__file__).parents[2]
Script = Callable[["Exchange"], Awaitable[None]]

ANTHROPIC_MODEL = "claude-3-haiku-20240307"
ANTHROPIC_BODY = {
    "model": ANTHROPIC_MODEL,
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "Hello"}],
}
OPENAI_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
OPENAI_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}


def sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def anthropic_events(deltas: int = 5) -> list[bytes]:
    """An Anthropic Messages stream: 25 input tokens at the start, 1 output token per delta."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": ANTHROPIC_MODEL,
            "content": [],
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    }
    events = [sse("message_start", start)]
    for i in range(deltas):
        delta = {"type": "content_block_delta", "index": 0, "delta": {"text": f"w{i} "}}
        events.append(sse("content_block_delta", delta))
    stop = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": deltas},
    }
    events += [sse("message_delta", stop), sse("message_stop", {"type": "message_stop"})]
    return events


class Exchange:
    """One connection to a `RawUpstream`: read the request, write a scripted answer."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        requests: list[bytes] | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self._requests = requests if requests is not None else []
        self.head = b""
        self.body = b""

    async def read_request(self) -> bytes:
        self.head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        chunked = False
        for line in self.head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            if name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            self.body = await self._read_chunked()
        elif length:
            self.body = await self.reader.readexactly(length)
        self._requests.append(self.head + self.body)
        return self.head

    async def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return body
            body += chunk[:-2]

    async def send_head(
        self, status: str = "200 OK", headers: dict[str, str] | None = None
    ) -> None:
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def send_json(self, document: object, status: str = "200 OK") -> None:
        body = json.dumps(document).encode()
        await self.send_head(
            status, {"Content-Type": "application/json", "Content-Length": str(len(body))}
        )
        self.writer.write(body)
        await self.writer.drain()

    async def start_stream(self) -> None:
        """A chunked event stream on a connection that closes after it (no reuse)."""
        await self.send_head(
            headers={
                "Content-Type": "text/event-stream",
                "Transfer-Encoding": "chunked",
                "Connection": "close",
            }
        )

    async def send_chunk(self, data: bytes) -> None:
        self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await self.writer.drain()

    async def end_stream(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    async def wait_for_hangup(self, limit: float = 30.0) -> None:
        """Until the proxy closes its side (or the timeout)."""
        try:
            async with asyncio.timeout(limit):
                while await self.reader.read(65536):
                    pass
        except (TimeoutError, ConnectionError):
            pass

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a crashed upstream does."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


class RawUpstream:
    """A loopback HTTP/1.1 server in a thread; `script(exchange)` answers each connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.port = 0
        self.url = ""
        self.connections = 0
        self.open_connections = 0
        self.requests: list[bytes] = []
        self.closed_at: list[float] = []
        """monotonic() when each connection's script returned (the proxy hung up, or we did)."""
        self._loop = asyncio.new_event_loop()
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024)
        )
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._started.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Not a coroutine: asyncio calls this as the connection is made, so every connection is
        # known to `__exit__`, including one whose `_serve` task is cancelled before it starts.
        self._connections[writer] = self._loop.create_task(self._serve(reader, writer))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        exchange = Exchange(reader, writer, self.requests)
        try:
            await self.script(exchange)
        except (ConnectionError, asyncio.IncompleteReadError, OSError, asyncio.CancelledError):
            pass
        finally:
            self.closed_at.append(time.monotonic())
            self.open_connections -= 1
            if not writer.transport.is_closing():
                writer.close()

    def _other_tasks(self, *, connections: bool) -> list[asyncio.Task[Any]]:
        """This loop's tasks but the current one, with or without the connections'."""
        mine = set(self._connections.values())
        return [
            t
            for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and (connections or t not in mine)
        ]

    def __enter__(self) -> RawUpstream:
        self._thread.start()
        self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            # A connection accepted just before is still in asyncio's own accept task, which
            # wraps it in a transport only while the server is open (Python 3.11 asserts so
            # and drops it): closing or cancelling first leaves its socket to the garbage
            # collector, an unraisable ResourceWarning in whichever test runs then.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and (
                accepting := self._other_tasks(connections=False)
            ):
                await asyncio.wait(accepting, timeout=deadline - time.monotonic())
            self._server.close()  # accepts no more connections
            tasks = self._other_tasks(connections=True)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in self._connections:  # those cancelled before `_serve` began
                if not writer.transport.is_closing():
                    writer.close()
            await asyncio.sleep(0)  # the transports close their sockets on the next turn
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop)
        self._thread.join(10)


async def answer_openai_json(exchange: Exchange) -> None:
    """Keep-alive: answer every request on the connection with the same completion."""
    while True:
        try:
            await exchange.read_request()
        except asyncio.IncompleteReadError:
            return
        await exchange.send_json(OPENAI_COMPLETION)


async def stall(exchange: Exchange) -> None:
    """Accept, read the request, never answer."""
    await exchange.read_request()
    await exchange.wait_for_hangup()


class RunningProxy:
    """The proxy in-process on a real port, with span, metric and loop access."""

    def __init__(self, settings: Settings, tracer_provider: TracerProvider | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        if tracer_provider is None:
            tracer_provider = TracerProvider()
            tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.app = create_app(
            settings, tracer_provider=tracer_provider, meter_provider=self.meter_provider
        )
        self.handler: Any = self.app.routes[1].app  # the Mount("/") of create_app
        self._server = ServerThread(self.app)
        self._server.server.config.access_log = False  # as `llmobserve-proxy` runs it
        self.url = self._server.url

    def __enter__(self) -> RunningProxy:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._server.server.servers[0].get_loop()  # type: ignore[no-any-return]

    def run(self, coroutine: Awaitable[Any]) -> Any:
        """Run a coroutine on the proxy's own event loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)  # type: ignore[arg-type]

    def task_count(self) -> int:
        async def count() -> int:
            return len(asyncio.all_tasks()) - 1  # not this one

        return int(self.run(count()))

    def upstream_connections(self) -> int:
        """Connections the proxy's upstream client holds open, in use or idle."""
        return int(self.run(_connection_count(self.handler._client)))

    def spans(self, count: int = 1, timeout: float = 5.0) -> list[ReadableSpan]:
        deadline = time.monotonic() + timeout
        while True:
            spans = list(self.exporter.get_finished_spans())
            if len(spans) >= count or time.monotonic() > deadline:
                return spans
            time.sleep(0.01)

    def span(self) -> ReadableSpan:
        spans = self.spans(1)
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]


async def _connection_count(client: Any) -> int:
    return int(client.connection_count())


ProxyStarter = Callable[..., RunningProxy]


@pytest.fixture
def run_proxy() -> Iterator[ProxyStarter]:
    started: list[RunningProxy] = []

    def start(**settings: Any) -> RunningProxy:
        tracer_provider = settings.pop("tracer_provider", None)
        proxy = RunningProxy(Settings(**settings), tracer_provider).__enter__()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.__exit__()


def closed_port() -> int:
    return free_port()


class ProxyProcess:
    """`python -m proxy.cli` as an operator runs it, output kept for inspection."""

    def __init__(self, env: dict[str, str], *, port: int | None = None, args: tuple[str, ...] = ()):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"llmobserve-rel-{self.port}.log"
        self._log_file = self.log.open("wb")
        full_env = {**os.environ, "OTEL_METRICS_EXPORTER": "none", **env}
        cli = [sys.executable, "-m", "proxy.cli", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*cli, *args],
            env=full_env,
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy exited {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"proxy did not start:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def rss_peak_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OtlpSink:
    """An OTLP/HTTP trace endpoint that keeps what it receives; `delay` makes it slow."""

    def __init__(self, delay: float = 0.0) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        self.spans: list[Any] = []
        self.raw: list[bytes] = []

        async def traces(request: Request) -> Response:
            body = await request.body()
            if request.headers.get("content-encoding") == "gzip":
                import gzip

                body = gzip.decompress(body)
            if delay:
                await asyncio.sleep(delay)
            self.raw.append(body)
            export = ExportTraceServiceRequest.FromString(body)
            self.spans += [
                span
                for resource_spans in export.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]
            return Response(b"", media_type="application/x-protobuf")

        self._server = ServerThread(
            Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])
        )
        self.url = self._server.url

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.spans) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.spans

    def __enter__(self) -> OtlpSink:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__()
