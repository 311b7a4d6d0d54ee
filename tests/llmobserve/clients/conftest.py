"""Shared fakes for the client tests: a fake upstream, a spy on what reaches the proxy, and the
harness that wires a real SDK call through a real proxy to the fake upstream.

Nothing here may reach the internet, even when routing fails: every test runs with
HTTP(S)_PROXY pointing at a dead local port (clients that honour it fail fast) and with name
resolution refused for anything but loopback (for the clients that do not).
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmobserve import get_section_path, section, set_customer_id
from llmobserve._servers import ServerThread, free_port
from proxy.handler import ProxyHandler
from proxy.protocol import HEADER_PREFIX, TARGET_URL_HEADER
from semconv import LLMOBSERVE_CUSTOMER_ID, LLMOBSERVE_SECTION_PATH, SERVER_ADDRESS

T = TypeVar("T")
CUSTOMER = "customer-42"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> str:
    """Escaped calls fail fast: dead HTTP(S) proxy, and no DNS beyond loopback."""
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, dead)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    for name in ("ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not _is_loopback(name):
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve loopback only, not {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    return dead


def _is_loopback(name: str) -> bool:
    if name.lower().rstrip(".") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Received:
    """One HTTP request as a server saw it: raw path and query bytes, headers in order."""

    method: str
    raw_path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        key = name.lower().encode()
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == key]

    def names(self) -> list[str]:
        return [k.decode("latin-1").lower() for k, _ in self.headers]


def _received(scope: dict[str, Any]) -> Received:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    method = scope.get("method", "GET")  # a WebSocket handshake has none in ASGI
    return Received(method, raw_path, scope["query_string"], list(scope["headers"]))


Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Received], Reply]


class FakeUpstream:
    """A provider on loopback: records each request, answers with `respond(request)`."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.received: list[Received] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await self._serve(scope, receive, send)

        self._server = ServerThread(app)
        self.url = self._server.url

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        request = _received(scope)
        if scope["type"] == "websocket":
            self.received.append(request)
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "hello"})
            await send({"type": "websocket.close"})
            return
        while True:
            message = await receive()
            request.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.received.append(request)
        status, headers, body = self.respond(request)
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    def __enter__(self) -> FakeUpstream:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__()


def json_reply(body: bytes, **headers: str) -> Reply:
    return 200, {"content-type": "application/json", **headers}, body


@pytest.fixture
def proxy_inbound(monkeypatch: pytest.MonkeyPatch) -> list[Received]:
    """What reached the proxy over the wire - that is, exactly what the SDK sent."""
    seen: list[Received] = []
    original = ProxyHandler.__call__

    async def spy(handler: ProxyHandler, scope: Any, receive: Any, send: Any) -> None:
        request = _received(scope)
        seen.append(request)

        async def recording_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                request.chunks.append(message.get("body", b""))
            return message

        await original(handler, scope, recording_receive, send)

    monkeypatch.setattr(ProxyHandler, "__call__", spy)
    return seen


@dataclass
class Route:
    """A real proxy whose traffic for `hosts` goes to a fake upstream."""

    proxy: Any  # tests.conftest.ProxyUnderTest
    upstream: FakeUpstream
    inbound: list[Received]
    hosts: tuple[str, ...]

    @property
    def proxy_url(self) -> str:
        return str(self.proxy.url)

    def proxy_spans(self, count: int = 1) -> list[ReadableSpan]:
        spans: list[ReadableSpan] = self.proxy.spans(count)
        return spans


RouteFactory = Callable[[Sequence[str], Responder], Route]


@pytest.fixture
def route(
    start_proxy: Callable[..., Any],
    proxy_inbound: list[Received],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RouteFactory]:
    """`route(hosts, respond)`: start the fake upstream and a real proxy that sends `hosts`
    there (and allows them, for hosts its catalog does not know yet); the SDK side routes
    them too (LLMOBSERVE_ALLOWED_HOSTS). Call `llmobserve.observe(proxy_url=...)` yourself."""
    upstreams: list[FakeUpstream] = []

    def start(hosts: Sequence[str], respond: Responder) -> Route:
        upstream = FakeUpstream(respond).__enter__()
        upstreams.append(upstream)
        proxy = start_proxy(
            upstream_overrides=dict.fromkeys(hosts, upstream.url), allowed_hosts=tuple(hosts)
        )
        monkeypatch.setenv("LLMOBSERVE_ALLOWED_HOSTS", ",".join(hosts))
        return Route(proxy, upstream, proxy_inbound, tuple(hosts))

    yield start
    for upstream in upstreams:
        upstream.__exit__()


@dataclass
class Traced:
    """The result of a call made inside `agent:sdk_test` / `tool:call` for CUSTOMER."""

    value: Any
    trace_id: int
    section_path: str
    cost: Decimal = Decimal(0)
    """What `agent:sdk_test` added up (section rollup)."""
    unpriced_calls: int = 0


def in_section(call: Callable[[], T], **more_baggage: str) -> Traced:
    """Run `call` in a fresh context, as customer CUSTOMER, inside two nested sections, with
    `more_baggage` entries (the application's own) if given."""

    def run() -> Traced:
        ctx = otel_context.get_current()
        for key, value in more_baggage.items():
            ctx = baggage.set_baggage(key, value, ctx)
        token = otel_context.attach(ctx)
        try:
            set_customer_id(CUSTOMER)
            with section("agent:sdk_test") as outer, section("tool:call"):
                path = get_section_path()
                assert path is not None
                trace_id = outer.span.get_span_context().trace_id
                value = call()
            return Traced(value, trace_id, path, outer.cost, outer.unpriced_calls)
        finally:
            otel_context.detach(token)

    return contextvars.copy_context().run(run)


def traceparent_ids(value: str | None) -> tuple[int, int]:
    assert value is not None, "the SDK sent no traceparent"
    _, trace_id, span_id, _ = value.split("-")
    return int(trace_id, 16), int(span_id, 16)


def assert_forwarded_verbatim(route: Route, host: str, *, auth: str) -> Received:
    """The upstream got what the SDK sent, byte for byte, as if it had called `host`."""
    assert route.inbound, "nothing reached the proxy: the SDK call was not routed"
    assert len(route.upstream.received) == len(route.inbound)
    sent, got = route.inbound[-1], route.upstream.received[-1]
    target = urlsplit(sent.header(TARGET_URL_HEADER) or "")
    assert (target.scheme, target.hostname) == ("https", host)
    # The SDK asked for exactly this path and query, and the upstream got exactly them.
    assert got.raw_path == sent.raw_path == target.path.encode()
    assert got.query == sent.query == target.query.encode()
    assert got.method == sent.method
    assert got.body == sent.body
    assert got.header("host") == host
    assert not [n for n in got.names() if n.startswith(HEADER_PREFIX)]
    assert got.all(auth) == sent.all(auth) != []
    return sent


def assert_proxy_span_is_child(
    route: Route, host: str, traced: Traced, sent: Received, sdk_spans: InMemorySpanExporter
) -> ReadableSpan:
    """The proxy's span continues the SDK's trace under the HTTP span that sent the call, and
    carries the caller's customer and section path. Returns that HTTP span."""
    trace_id, parent_id = traceparent_ids(sent.header("traceparent"))
    assert trace_id == traced.trace_id
    spans = [s for s in route.proxy_spans() if (s.attributes or {}).get(SERVER_ADDRESS) == host]
    assert len(spans) == 1, [s.name for s in route.proxy_spans()]
    span = spans[0]
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == traced.trace_id
    assert span.parent.span_id == parent_id
    assert span.attributes is not None
    assert span.attributes[LLMOBSERVE_CUSTOMER_ID] == CUSTOMER
    assert span.attributes[LLMOBSERVE_SECTION_PATH] == traced.section_path
    # The parent is a CLIENT span on the SDK side, in the section's trace.
    (client,) = [
        s
        for s in sdk_spans.get_finished_spans()
        if s.context is not None and s.context.span_id == parent_id
    ]
    assert client.kind == trace.SpanKind.CLIENT
    assert client.context is not None and client.context.trace_id == traced.trace_id
    return client


class HangUp:
    """A 'proxy' that accepts a connection, reads the request and closes without answering:
    the request was sent, so nothing may retry it elsewhere."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    if conn.recv(65536):
                        self.requests += 1

    def __enter__(self) -> HangUp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
