"""SIGTERM, as Kubernetes and docker stop send it, to a real `llmobserve-proxy` process."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time

import httpx
import pytest

from tests.reliability.conftest import (
    ANTHROPIC_BODY,
    Exchange,
    OtlpSink,
    ProxyProcess,
    RawUpstream,
    anthropic_events,
)

pytestmark = pytest.mark.integration

EVENTS = anthropic_events(deltas=10)


async def slow_stream(exchange: Exchange) -> None:
    """12 events, 0.1 s apart: 1.2 s for the whole stream."""
    await exchange.read_request()
    await exchange.start_stream()
    for event in EVENTS:
        await exchange.send_chunk(event)
        await asyncio.sleep(0.1)
    await exchange.end_stream()


def proxy_env(upstream: RawUpstream, sink: OtlpSink, **extra: str) -> dict[str, str]:
    return {
        "LLMOBSERVE_UPSTREAM_OVERRIDES": f"api.anthropic.com={upstream.url}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url,
        # Spans leave only when flushed: those seen by the sink prove the shutdown flush.
        "OTEL_BSP_SCHEDULE_DELAY": "600000",
        **extra,
    }


def stream_in_background(url: str) -> tuple[threading.Thread, dict[str, object], threading.Event]:
    result: dict[str, object] = {}
    first_chunk = threading.Event()

    def run() -> None:
        body = b""
        try:
            with httpx.stream(
                "POST", f"{url}/anthropic/v1/messages", json=ANTHROPIC_BODY, timeout=30
            ) as response:
                result["status"] = response.status_code
                for chunk in response.iter_raw():
                    body += chunk
                    first_chunk.set()
        except httpx.HTTPError as exc:
            result["error"] = exc
        result["body"] = body

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result, first_chunk


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def test_sigterm_finishes_in_flight_streams_flushes_spans_and_exits_zero():
    with RawUpstream(slow_stream) as upstream, OtlpSink() as sink:
        proxy = ProxyProcess(proxy_env(upstream, sink))
        thread, result, first_chunk = stream_in_background(proxy.url)
        assert first_chunk.wait(10)
        terminated = time.monotonic()
        proxy.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 0.5
        while not refuses_connections(proxy.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert refuses_connections(proxy.port), "still accepting after SIGTERM"
        assert proxy.process.wait(timeout=20) == 0, proxy.output()
        exited = time.monotonic() - terminated
        thread.join(10)
        spans = sink.wait_for(1, timeout=1)
        proxy.stop()
    assert result.get("status") == 200
    assert "error" not in result
    assert result["body"] == b"".join(EVENTS)  # the whole stream, not cut at SIGTERM
    assert exited < 10
    assert [s.name for s in spans] == ["chat claude-3-haiku-20240307"]
    assert "Traceback" not in proxy.output()


def test_sigterm_cuts_streams_still_running_after_the_grace_period_and_exits_zero():
    async def endless(exchange: Exchange) -> None:
        await exchange.read_request()
        await exchange.start_stream()
        await exchange.send_chunk(EVENTS[0])
        await exchange.wait_for_hangup(60)

    with RawUpstream(endless) as upstream, OtlpSink() as sink:
        proxy = ProxyProcess(proxy_env(upstream, sink, LLMOBSERVE_SHUTDOWN_GRACE="0.5"))
        thread, result, first_chunk = stream_in_background(proxy.url)
        assert first_chunk.wait(10)
        terminated = time.monotonic()
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.process.wait(timeout=20) == 0, proxy.output()
        exited = time.monotonic() - terminated
        thread.join(10)
        spans = sink.wait_for(1, timeout=1)
        proxy.stop()
    assert exited < 5  # grace (0.5 s) + flush, not the stream's 60 s
    assert isinstance(result.get("error"), httpx.RemoteProtocolError)  # an error, not a hang
    (span,) = spans
    error_type = next(a.value.string_value for a in span.attributes if a.key == "error.type")
    assert error_type == "cancelled"
