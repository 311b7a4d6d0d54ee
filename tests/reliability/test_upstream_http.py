"""HTTP/1.1 framing the proxy's upstream client must get right, whichever client it is: answers
without a body, informational answers before the real one, bodies that end when the connection
does, and TLS verified as the system verifies it. Real servers on loopback."""

from __future__ import annotations

import http.server
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from semconv import GEN_AI_USAGE_INPUT_TOKENS, LLMOBSERVE_COST_STATUS
from tests.local_servers import http_server, self_signed
from tests.reliability.conftest import (
    OPENAI_BODY,
    OPENAI_COMPLETION,
    Exchange,
    ProxyProcess,
    RawUpstream,
    answer_openai_json,
)

OPENAI = "api.openai.com"
CHAT = "/openai/v1/chat/completions"


def test_head_answer_with_a_length_and_no_body_is_not_waited_for(run_proxy):
    async def script(exchange: Exchange) -> None:
        await exchange.read_request()
        # A HEAD answer names the length a GET would have, and sends no body (RFC 9110 9.3.2).
        await exchange.send_head(headers={"Content-Length": "1234", "X-Kind": "head"})
        await exchange.wait_for_hangup(10)

    with RawUpstream(script) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url})
        started = time.monotonic()
        response = httpx.head(f"{proxy.url}/openai/v1/models", timeout=10)
        assert time.monotonic() - started < 3
    assert response.status_code == 200
    assert response.headers["x-kind"] == "head"
    assert response.headers["content-length"] == "1234"
    assert upstream.requests[0].startswith(b"HEAD /v1/models HTTP/1.1\r\n")


def test_informational_answers_before_the_answer_are_not_the_answer(run_proxy):
    async def script(exchange: Exchange) -> None:
        await exchange.read_request()
        exchange.writer.write(
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        )
        await exchange.send_json(OPENAI_COMPLETION)
        await exchange.wait_for_hangup(10)

    with RawUpstream(script) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url})
        response = httpx.post(f"{proxy.url}{CHAT}", json=OPENAI_BODY, timeout=10)
    assert response.status_code == 200
    assert response.json() == OPENAI_COMPLETION
    span = proxy.span()
    assert span.attributes[LLMOBSERVE_COST_STATUS] == "priced"


def test_no_content_answer_ends_at_its_head(run_proxy):
    async def script(exchange: Exchange) -> None:
        await exchange.read_request()
        await exchange.send_head("204 No Content", {"X-Kind": "empty"})
        await exchange.wait_for_hangup(10)

    with RawUpstream(script) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url})
        started = time.monotonic()
        response = httpx.delete(f"{proxy.url}/openai/v1/files/file-1", timeout=10)
        assert time.monotonic() - started < 3
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["x-kind"] == "empty"


def test_body_that_ends_with_the_connection_is_forwarded_whole_and_priced(run_proxy):
    body = json.dumps(OPENAI_COMPLETION).encode()

    async def script(exchange: Exchange) -> None:
        await exchange.read_request()
        # No length, not chunked: the body is whatever comes before the close (RFC 9112 6.3).
        await exchange.send_head(
            headers={"Content-Type": "application/json", "Connection": "close"}
        )
        for start in range(0, len(body), 50):
            exchange.writer.write(body[start : start + 50])
            await exchange.writer.drain()

    with RawUpstream(script) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url})
        response = httpx.post(f"{proxy.url}{CHAT}", json=OPENAI_BODY, timeout=10)
        second = httpx.post(f"{proxy.url}{CHAT}", json=OPENAI_BODY, timeout=10)
    assert response.status_code == second.status_code == 200
    assert response.content == second.content == body
    assert upstream.connections == 2  # a closed connection is not reused
    spans = proxy.spans(2)
    assert [s.attributes[GEN_AI_USAGE_INPUT_TOKENS] for s in spans] == [
        OPENAI_COMPLETION["usage"]["prompt_tokens"]
    ] * 2


def test_keep_alive_connection_is_reused_for_the_next_call(run_proxy):
    with RawUpstream(answer_openai_json) as upstream:
        proxy = run_proxy(upstream_overrides={OPENAI: upstream.url})
        for _ in range(3):
            assert httpx.post(f"{proxy.url}{CHAT}", json=OPENAI_BODY).status_code == 200
    assert upstream.connections == 1


class _Provider(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(OPENAI_COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def trusted_and_untrusted(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    trusted = self_signed(tmp_path, "trusted")
    untrusted = self_signed(tmp_path, "untrusted")
    with http_server(_Provider, trusted) as good, http_server(_Provider, untrusted) as bad:
        yield good, bad, trusted[0]


def test_tls_upstream_is_verified_against_the_systems_trust_store(trusted_and_untrusted):
    good, bad, bundle = trusted_and_untrusted
    env = {
        "SSL_CERT_FILE": str(bundle),  # OpenSSL's default store: here, only the trusted CA
        "LLMOBSERVE_UPSTREAM_OVERRIDES": f"{OPENAI}={good},api.mistral.ai={bad}",
        "OTEL_TRACES_EXPORTER": "none",
    }
    proxy = ProxyProcess(env)
    try:
        answer = httpx.post(f"{proxy.url}{CHAT}", json=OPENAI_BODY, timeout=10)
        refused = httpx.post(f"{proxy.url}/mistral/v1/chat/completions", json=OPENAI_BODY)
    finally:
        proxy.stop()
    assert answer.status_code == 200
    assert answer.json() == OPENAI_COMPLETION
    assert refused.status_code == 502
    error = refused.json()["error"]
    assert error["type"] == "upstream_unreachable"
    assert "certificate" in error["message"].lower()
