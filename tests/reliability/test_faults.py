"""Upstream and client faults, with real servers on loopback: the proxy answers with a clear
error or ends the stream with one, never hangs, and the span says what happened."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from opentelemetry.trace import StatusCode

from semconv import (
    ERROR_TYPE,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    LLMOBSERVE_COST_REASON,
)
from tests.reliability.conftest import (
    ANTHROPIC_BODY,
    OPENAI_BODY,
    Exchange,
    RawUpstream,
    anthropic_events,
    closed_port,
    stall,
)

ANTHROPIC = "api.anthropic.com"
OPENAI = "api.openai.com"
MESSAGES = "/anthropic/v1/messages"


def test_refused_upstream_gives_502_naming_target_and_cause(run_proxy):
    proxy = run_proxy(upstream_overrides={OPENAI: f"http://127.0.0.1:{closed_port()}"})
    started = time.monotonic()
    response = httpx.post(f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY)
    assert time.monotonic() - started < 5
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "upstream_unreachable"
    assert error["target"] == OPENAI
    assert error["source"] == "llmobserve-proxy"
    assert "Connection refused" in error["message"]
    span = proxy.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ERROR_TYPE] == "upstream_unreachable"
    assert span.events[0].name == "exception"


def test_refused_upstream_gives_502_for_unmetered_calls_too(run_proxy):
    proxy = run_proxy(upstream_overrides={OPENAI: f"http://127.0.0.1:{closed_port()}"})
    response = httpx.post(f"{proxy.url}/openai/v1/files", content=b"x" * 1000)
    assert response.status_code == 502
    assert response.json()["error"]["target"] == OPENAI


def test_silent_upstream_gives_504_after_the_upstream_timeout(run_proxy):
    with RawUpstream(stall) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url}, upstream_timeout=0.5)
        started = time.monotonic()
        response = httpx.post(
            f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY, timeout=10
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    error = response.json()["error"]
    assert (error["type"], error["target"]) == ("upstream_timeout", OPENAI)
    assert "LLMOBSERVE_UPSTREAM_TIMEOUT" in error["message"]
    assert 0.5 <= elapsed < 3
    assert proxy.span().attributes[ERROR_TYPE] == "upstream_timeout"


def slow_stream(gap: float, events: list[bytes]):
    async def script(exchange: Exchange) -> None:
        await exchange.read_request()
        await exchange.start_stream()
        for event in events:
            await exchange.send_chunk(event)
            await asyncio.sleep(gap)
        await exchange.end_stream()

    return script


def test_stream_longer_than_the_timeout_completes_when_chunks_keep_coming(run_proxy):
    # 8 events 0.2 s apart: 1.6 s in all, three times the timeout, never 0.5 s of silence.
    events = anthropic_events(deltas=6)
    with RawUpstream(slow_stream(0.2, events)) as upstream:
        proxy = run_proxy(upstream_overrides={ANTHROPIC: upstream.url}, upstream_timeout=0.5)
        started = time.monotonic()
        response = httpx.post(f"{proxy.url}{MESSAGES}", json=ANTHROPIC_BODY, timeout=10)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.content == b"".join(events)
    assert elapsed > 1.5
    attrs = proxy.span().attributes
    assert ERROR_TYPE not in attrs
    assert (attrs[GEN_AI_USAGE_INPUT_TOKENS], attrs[GEN_AI_USAGE_OUTPUT_TOKENS]) == (25, 6)


def stream_then(end: str, events: list[bytes]):
    """Send `events`, then `reset` the connection or `stall` forever."""

    async def script(exchange: Exchange) -> None:
        await exchange.read_request()
        await exchange.start_stream()
        for event in events:
            await exchange.send_chunk(event)
        await asyncio.sleep(0.05)
        if end == "reset":
            exchange.reset()
        else:
            await exchange.wait_for_hangup()

    return script


def read_stream(url: str, *, timeout: float = 10) -> tuple[bytes, Exception | None]:
    received = b""
    try:
        with httpx.stream("POST", url, json=ANTHROPIC_BODY, timeout=timeout) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += chunk
    except httpx.HTTPError as exc:
        return received, exc
    return received, None


@pytest.mark.parametrize(
    ("end", "error_type"), [("reset", "upstream_unreachable"), ("stall", "upstream_timeout")]
)
def test_upstream_failing_mid_stream_ends_the_client_stream_with_an_error(
    run_proxy, end, error_type
):
    events = anthropic_events(deltas=3)[:3]  # message_start and two deltas, then the fault
    with RawUpstream(stream_then(end, events)) as upstream:
        proxy = run_proxy(upstream_overrides={ANTHROPIC: upstream.url}, upstream_timeout=0.5)
        started = time.monotonic()
        received, error = read_stream(f"{proxy.url}{MESSAGES}")
        elapsed = time.monotonic() - started
    assert received == b"".join(events)  # everything before the fault reached the client
    assert isinstance(error, httpx.RemoteProtocolError)  # an error, not a clean end
    assert elapsed < 3  # and not a hang
    span = proxy.span()
    assert span.status.status_code is StatusCode.ERROR
    attrs = span.attributes
    assert attrs[ERROR_TYPE] == error_type
    # The usage seen before the fault: message_start's 25 input tokens and 1 output token.
    assert (attrs[GEN_AI_USAGE_INPUT_TOKENS], attrs[GEN_AI_USAGE_OUTPUT_TOKENS]) == (25, 1)
    assert "truncated" in attrs[LLMOBSERVE_COST_REASON]


def first_event_then_wait():
    events = anthropic_events(deltas=3)

    async def script(exchange: Exchange) -> None:
        await exchange.read_request()
        await exchange.start_stream()
        await exchange.send_chunk(events[0])
        await exchange.wait_for_hangup(60)

    return script


def raw_stream_request(port: int) -> bytes:
    body = json.dumps(ANTHROPIC_BODY).encode()
    return (
        f"POST {MESSAGES} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nx-api-key: sk-ant-test\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def open_stream_and_hang_up(port: int) -> float:
    """Start a stream, read until its first event, close; returns monotonic() at the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw_stream_request(port))
        received = b""
        while b"message_start" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        closed = time.monotonic()
    return closed


def test_client_disconnect_mid_stream_cancels_the_upstream_call_within_a_second(run_proxy):
    with RawUpstream(first_event_then_wait()) as upstream:
        proxy = run_proxy(upstream_overrides={ANTHROPIC: upstream.url})
        port = int(proxy.url.rsplit(":", 1)[1])
        closed = open_stream_and_hang_up(port)
        span = proxy.span()
        deadline = time.monotonic() + 5
        while not upstream.closed_at and time.monotonic() < deadline:
            time.sleep(0.01)
        assert upstream.closed_at, "the upstream call was never cancelled"
        assert upstream.closed_at[0] - closed < 1.0
    attrs = span.attributes
    assert span.status.status_code is StatusCode.ERROR
    assert attrs[ERROR_TYPE] == "client_disconnected"
    assert attrs[GEN_AI_USAGE_INPUT_TOKENS] == 25  # usage so far


def test_thousand_client_disconnects_leak_no_task_and_no_connection(run_proxy):
    with RawUpstream(first_event_then_wait()) as upstream:
        proxy = run_proxy(upstream_overrides={ANTHROPIC: upstream.url})
        port = int(proxy.url.rsplit(":", 1)[1])
        open_stream_and_hang_up(port)  # warm up: first-call allocations are not leaks
        proxy.spans(1)
        time.sleep(0.2)
        tasks_before = proxy.task_count()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda _: open_stream_and_hang_up(port), range(1000)))
        spans = proxy.spans(1001, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            proxy.task_count() > tasks_before
            or proxy.upstream_connections()
            or upstream.open_connections
        ):
            time.sleep(0.05)
        assert len(spans) == 1001
        assert {s.attributes[ERROR_TYPE] for s in spans} == {"client_disconnected"}
        assert proxy.task_count() <= tasks_before
        assert proxy.upstream_connections() == 0
        assert upstream.open_connections == 0
        assert upstream.connections == 1001


def test_proxy_serves_other_calls_while_an_upstream_stalls(run_proxy):
    """One black-holed upstream ties up nothing but its own calls."""
    with RawUpstream(stall) as silent, RawUpstream(slow_stream(0, anthropic_events())) as fine:
        proxy = run_proxy(
            upstream_overrides={OPENAI: silent.url, ANTHROPIC: fine.url}, upstream_timeout=5
        )
        stuck = threading.Thread(
            target=lambda: httpx.post(
                f"{proxy.url}/openai/v1/chat/completions", json=OPENAI_BODY, timeout=10
            ),
            daemon=True,
        )
        stuck.start()
        started = time.monotonic()
        for _ in range(5):
            assert httpx.post(f"{proxy.url}{MESSAGES}", json=ANTHROPIC_BODY).status_code == 200
        assert time.monotonic() - started < 2
