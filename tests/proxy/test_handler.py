"""The proxy as a user runs it: a real server, the real provider SDKs, the simulator upstream."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import subprocess
import threading
import time
from decimal import Decimal

import anthropic
import httpx
import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from proxy.protocol import TARGET_URL_HEADER
from semconv import (
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    HTTP_RESPONSE_STATUS_CODE,
    LLMOBSERVE_COST_REASON,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION_PATH,
    SERVER_ADDRESS,
    SERVER_PORT,
)

OPENAI_KEY = "sk-test-openai-5ecret-value"
ANTHROPIC_KEY = "sk-ant-test-5ecret-value"
HELLO = [{"role": "user", "content": "Hello"}]
MTOK = Decimal(1_000_000)


def openai_client(proxy_url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=OPENAI_KEY, base_url=f"{proxy_url}/openai/v1", max_retries=0)


def anthropic_client(proxy_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=f"{proxy_url}/anthropic", max_retries=0
    )


def test_health_reports_service(proxy):
    response = httpx.get(f"{proxy.url}/health")
    assert response.json() == {"status": "ok", "service": "llmobserve-proxy"}


def test_openai_chat_through_base_url_is_priced(proxy):
    completion = openai_client(proxy.url).chat.completions.create(
        model="gpt-4o-mini", messages=HELLO
    )
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 7)
    span = proxy.span()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    attrs = span.attributes
    assert attrs[GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[GEN_AI_RESPONSE_ID] == completion.id
    assert (attrs[GEN_AI_USAGE_INPUT_TOKENS], attrs[GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 7)
    assert (attrs[SERVER_ADDRESS], attrs[SERVER_PORT]) == ("api.openai.com", 443)
    assert attrs[HTTP_RESPONSE_STATUS_CODE] == 200
    # gpt-4o-mini: 12 x $0.15/M + 7 x $0.60/M = $0.0000018 + $0.0000042 = $0.000006
    assert attrs[GEN_AI_USAGE_COST] == float(Decimal("0.000006"))
    assert attrs[LLMOBSERVE_COST_STATUS] == "priced"


def test_openai_stream_without_usage_request_reaches_client_unchanged(proxy, simulator):
    body = {"model": "gpt-4o-mini", "messages": HELLO, "stream": True}
    headers = {"Authorization": f"Bearer {OPENAI_KEY}"}
    direct = httpx.post(f"{simulator.url}/v1/chat/completions", json=body, headers=headers)
    simulator.reset()
    proxied = httpx.post(f"{proxy.url}/openai/v1/chat/completions", json=body, headers=headers)
    # Same bytes except the ids and timestamps the simulator draws per response.
    assert _normalise(proxied.content) == _normalise(direct.content)
    assert b"usage" not in proxied.content
    upstream = json.loads(simulator.requests()[0]["body"])
    assert upstream["stream_options"] == {"include_usage": True}
    attrs = proxy.span().attributes
    assert attrs[GEN_AI_REQUEST_STREAM] is True
    assert (attrs[GEN_AI_USAGE_INPUT_TOKENS], attrs[GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 7)
    assert attrs[GEN_AI_USAGE_COST] == float(Decimal("0.000006"))


def test_openai_stream_with_usage_request_is_left_alone(proxy, simulator):
    stream = openai_client(proxy.url).chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    usages = [chunk.usage for chunk in stream if chunk.usage is not None]
    assert [(u.prompt_tokens, u.completion_tokens) for u in usages] == [(12, 7)]
    assert proxy.span().attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 7


def test_openai_cached_tokens_are_priced_at_the_cache_rate(proxy):
    client = openai_client(proxy.url).with_options(
        default_headers={"x-simulator-scenario": "cached"}
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    attrs = proxy.span().attributes
    assert attrs[GEN_AI_USAGE_INPUT_TOKENS] == 1036  # cached included, as the convention says
    assert attrs[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    # (1036-1024) x 0.15 + 1024 x 0.075 + 7 x 0.60 = 1.8 + 76.8 + 4.2 = 82.8 $/M
    assert attrs[GEN_AI_USAGE_COST] == float(Decimal("82.8") / MTOK)


def test_anthropic_messages_json_and_stream_are_priced(proxy):
    client = anthropic_client(proxy.url)
    message = client.messages.create(
        model="claude-3-haiku-20240307", max_tokens=100, messages=HELLO
    )
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 7)
    with client.messages.stream(
        model="claude-3-haiku-20240307", max_tokens=100, messages=HELLO
    ) as stream:
        final = stream.get_final_message()
    assert final.usage.output_tokens == 7
    spans = proxy.spans(2)
    assert [s.name for s in spans] == ["chat claude-3-haiku-20240307"] * 2
    for span in spans:
        attrs = span.attributes
        assert attrs[GEN_AI_PROVIDER_NAME] == "anthropic"
        assert (attrs[GEN_AI_USAGE_INPUT_TOKENS], attrs[GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 7)
        # 12 x $0.25/M + 7 x $1.25/M = 3 + 8.75 = 11.75 $/M
        assert attrs[GEN_AI_USAGE_COST] == float(Decimal("11.75") / MTOK)


def test_anthropic_cache_read_and_write_are_priced_apart(proxy):
    client = anthropic_client(proxy.url).with_options(
        default_headers={"x-simulator-scenario": "cached"}
    )
    with client.messages.stream(
        model="claude-3-haiku-20240307", max_tokens=100, messages=HELLO
    ) as stream:
        stream.get_final_message()
    attrs = proxy.span().attributes
    assert attrs[GEN_AI_USAGE_INPUT_TOKENS] == 12 + 1024 + 256
    assert attrs[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1024
    assert attrs[GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 256
    # 12 x 0.25 + 1024 x 0.03 + 256 x 0.30 + 7 x 1.25 = 3 + 30.72 + 76.8 + 8.75 = 119.27 $/M
    assert attrs[GEN_AI_USAGE_COST] == float(Decimal("119.27") / MTOK)


def test_upstream_error_is_passed_through_unchanged(proxy, simulator):
    headers = {"Authorization": f"Bearer {OPENAI_KEY}", "x-simulator-scenario": "rate_limit"}
    body = {"model": "gpt-4o-mini", "messages": HELLO}
    direct = httpx.post(f"{simulator.url}/v1/chat/completions", json=body, headers=headers)
    proxied = httpx.post(f"{proxy.url}/openai/v1/chat/completions", json=body, headers=headers)
    assert proxied.status_code == direct.status_code == 429
    assert proxied.json() == direct.json()
    assert proxied.headers["retry-after"] == "1"
    span = proxy.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ERROR_TYPE] == "rate_limit_exceeded"
    assert span.attributes[LLMOBSERVE_COST_STATUS] == "upstream_error"
    assert GEN_AI_USAGE_COST not in span.attributes


def test_malformed_body_is_forwarded_and_span_says_why(proxy):
    headers = {
        "Authorization": f"Bearer {OPENAI_KEY}",
        "x-simulator-scenario": "malformed",
        "x-simulator-no-gzip": "1",
    }
    response = httpx.post(
        f"{proxy.url}/openai/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": HELLO},
        headers=headers,
    )
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    attrs = proxy.span().attributes
    assert attrs[LLMOBSERVE_COST_STATUS] == "usage_unavailable"
    assert "not valid JSON" in attrs[LLMOBSERVE_COST_REASON]
    assert GEN_AI_USAGE_COST not in attrs


def test_truncated_stream_is_forwarded_and_span_says_why(proxy):
    client = openai_client(proxy.url).with_options(
        default_headers={"x-simulator-scenario": "malformed"}
    )
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))
    assert chunks  # what arrived before the cut reaches the client
    attrs = proxy.span().attributes
    assert attrs[LLMOBSERVE_COST_STATUS] == "usage_unavailable"
    assert "truncated" in attrs[LLMOBSERVE_COST_REASON]


def test_gzip_response_reaches_client_compressed_and_is_priced(proxy):
    with httpx.stream(
        "POST",
        f"{proxy.url}/openai/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": HELLO},
        headers={"Authorization": f"Bearer {OPENAI_KEY}", "Accept-Encoding": "gzip"},
    ) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(raw))["usage"]["prompt_tokens"] == 12
    assert proxy.span().attributes[GEN_AI_USAGE_COST] == float(Decimal("0.000006"))


def test_unknown_model_is_not_priced_as_zero(proxy):
    openai_client(proxy.url).chat.completions.create(model="gpt-imaginary-9", messages=HELLO)
    attrs = proxy.span().attributes
    assert GEN_AI_USAGE_COST not in attrs
    assert attrs[LLMOBSERVE_COST_STATUS] == "unknown_model"
    assert "gpt-imaginary-9" in attrs[LLMOBSERVE_COST_REASON]


def test_unknown_target_host_is_refused_and_nothing_forwarded(proxy, simulator):
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={TARGET_URL_HEADER: "https://evil.example.com/v1/chat/completions"},
        json={"model": "gpt-4o-mini"},
    )
    assert response.status_code == 403
    assert "evil.example.com" in response.json()["error"]["message"]
    assert simulator.requests() == []
    assert proxy.spans(0, timeout=0.1) == []


def test_allowed_hosts_variable_admits_a_wildcard_domain(start_proxy, simulator):
    proxy = start_proxy(
        allowed_hosts=("*.internal.example",),
        upstream_overrides={"llm.internal.example": simulator.url},
    )
    response = httpx.get(
        f"{proxy.url}/v1/models",
        headers={TARGET_URL_HEADER: "https://llm.internal.example/v1/models"},
    )
    assert response.status_code == 404  # the simulator's answer, forwarded
    assert simulator.requests()[0]["path"] == "/v1/models"


def test_target_header_routes_and_our_headers_never_reach_the_provider(proxy, simulator):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    baggage = (
        "llmobserve.customer.id=customer-123,llmobserve.section.path=agent%3Ax%2Ftool%3Ay,team=red"
    )
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions?trace=1",
        headers={
            TARGET_URL_HEADER: "https://api.openai.com/v1/chat/completions?trace=1",
            "Authorization": f"Bearer {OPENAI_KEY}",
            "X-LLMObserve-Customer-ID": "customer-123",
            "traceparent": traceparent,
            "baggage": baggage,
        },
        json={"model": "gpt-4o-mini", "messages": HELLO},
    )
    assert response.status_code == 200
    received = simulator.requests()[0]
    headers = {k.lower(): v for k, v in received["headers"]}
    assert received["path"] == "/v1/chat/completions"
    assert received["query_string"] == "trace=1"
    assert headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert headers["host"] == "api.openai.com"
    assert not any(k.startswith("x-llmobserve-") for k in headers)
    assert headers["baggage"] == "team=red"
    span = proxy.span()
    # Upstream sees the proxy span as parent; the proxy span is a child of the caller's.
    assert headers["traceparent"].split("-")[2] == format(span.context.span_id, "016x")
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert span.parent is not None and format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert span.attributes[LLMOBSERVE_CUSTOMER_ID] == "customer-123"
    assert span.attributes[LLMOBSERVE_SECTION_PATH] == "agent:x/tool:y"


def test_encoded_path_is_forwarded_byte_exact(proxy, simulator):
    path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"
    httpx.post(
        f"{proxy.url}{path}",
        headers={TARGET_URL_HEADER: f"https://api.openai.com{path}"},
        content=b"{}",
    )
    assert simulator.requests()[0]["raw_path"] == path


def test_request_body_over_the_limit_is_refused_before_forwarding(start_proxy, simulator):
    proxy = start_proxy(max_request_bytes=1024)
    response = httpx.post(
        f"{proxy.url}/openai/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 4096}]},
    )
    assert response.status_code == 413
    assert simulator.requests() == []


def test_unreachable_upstream_gives_502_naming_the_target(start_proxy):
    proxy = start_proxy(upstream_overrides={"api.openai.com": f"http://127.0.0.1:{_closed_port()}"})
    response = httpx.post(f"{proxy.url}/openai/v1/chat/completions", json={"model": "gpt-4o-mini"})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["target"] == "api.openai.com"
    assert error["type"] == "upstream_unreachable"
    span = proxy.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[ERROR_TYPE] == "upstream_unreachable"


def test_silent_upstream_gives_504_after_the_timeout(start_proxy):
    with _silent_server() as port:
        proxy = start_proxy(
            upstream_overrides={"api.openai.com": f"http://127.0.0.1:{port}"}, upstream_timeout=0.3
        )
        response = httpx.post(
            f"{proxy.url}/openai/v1/chat/completions", json={"model": "gpt-4o-mini"}, timeout=10
        )
    assert response.status_code == 504
    assert proxy.span().attributes[ERROR_TYPE] == "upstream_timeout"


def test_api_keys_never_reach_spans_or_logs(proxy, caplog):
    caplog.set_level(logging.DEBUG)
    openai_client(proxy.url).chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    anthropic_client(proxy.url).messages.create(
        model="claude-3-haiku-20240307", max_tokens=10, messages=HELLO
    )
    httpx.post(
        f"{proxy.url}/openai/v1/chat/completions", headers={"Authorization": f"Bearer {OPENAI_KEY}"}
    )
    spans = proxy.spans(3)
    emitted = json.dumps([json.loads(s.to_json()) for s in spans]) + caplog.text
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, "5ecret"):
        assert secret not in emitted


def _normalise(stream: bytes) -> list[dict[str, object]]:
    events = []
    for line in stream.split(b"\n\n"):
        data = line.removeprefix(b"data: ")
        if data and data != b"[DONE]":
            chunk = json.loads(data)
            chunk.pop("id"), chunk.pop("created")
            events.append(chunk)
    return events


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _silent_server:
    """Accepts connections and never answers."""

    def __enter__(self) -> int:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return int(self._sock.getsockname()[1])

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self._conns.append(conn)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._conns:
            conn.close()
        self._sock.close()


def test_curl_uses_the_proxy_by_base_url(proxy):
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            f"{proxy.url}/openai/v1/chat/completions",
            "-H",
            f"Authorization: Bearer {OPENAI_KEY}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps({"model": "gpt-4o-mini", "messages": HELLO}),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert json.loads(result.stdout)["usage"]["prompt_tokens"] == 12
    assert proxy.span().attributes[GEN_AI_USAGE_COST] == float(Decimal("0.000006"))


def test_stream_chunks_reach_the_client_as_they_arrive(proxy):
    # The simulator waits 50 ms between events; a buffering proxy would deliver them at once.
    arrivals = []
    with httpx.stream(
        "POST",
        f"{proxy.url}/anthropic/v1/messages",
        headers={"x-api-key": ANTHROPIC_KEY, "x-simulator-scenario": "slow_stream"},
        json={
            "model": "claude-3-haiku-20240307",
            "max_tokens": 10,
            "messages": HELLO,
            "stream": True,
        },
    ) as response:
        for _ in response.iter_raw():
            arrivals.append(time.monotonic())
    assert len(arrivals) >= 5
    assert arrivals[-1] - arrivals[0] >= 0.2


def test_unmetered_body_is_streamed_with_its_length(proxy, simulator):
    payload = b"x" * 100_000

    def chunks():
        for start in range(0, len(payload), 10_000):
            yield payload[start : start + 10_000]

    httpx.post(
        f"{proxy.url}/openai/v1/files",
        headers={"Authorization": f"Bearer {OPENAI_KEY}", "Content-Length": str(len(payload))},
        content=chunks(),
    )
    received = simulator.requests()[0]
    assert received["body"] == payload.decode()
    assert dict((k.lower(), v) for k, v in received["headers"])["content-length"] == "100000"
    assert proxy.span().attributes[LLMOBSERVE_COST_STATUS] == "not_metered"


def test_client_disconnect_mid_stream_ends_the_span_as_disconnected(proxy):
    with httpx.stream(
        "POST",
        f"{proxy.url}/anthropic/v1/messages",
        headers={"x-api-key": ANTHROPIC_KEY, "x-simulator-scenario": "slow_stream"},
        json={
            "model": "claude-3-haiku-20240307",
            "max_tokens": 10,
            "messages": HELLO,
            "stream": True,
        },
    ) as response:
        next(response.iter_raw())
    span = proxy.span()
    assert span.attributes[ERROR_TYPE] == "client_disconnected"


def test_clients_without_an_sdk_attribute_cost_with_headers(proxy, simulator):
    client = openai_client(proxy.url).with_options(
        default_headers={
            "X-LLMObserve-Customer-ID": "node-customer",
            "X-LLMObserve-Section-Path": "agent:node_app/tool:summarise",
        }
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    span = proxy.span()
    assert span.parent is None  # no traceparent arrived: a new trace starts here
    assert span.attributes[LLMOBSERVE_CUSTOMER_ID] == "node-customer"
    assert span.attributes[LLMOBSERVE_SECTION_PATH] == "agent:node_app/tool:summarise"
    headers = {k.lower() for k, _ in simulator.requests()[0]["headers"]}
    assert not any(h.startswith("x-llmobserve-") for h in headers)


def test_curl_section_header_and_baggage_precedence(proxy):
    subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            f"{proxy.url}/anthropic/v1/messages",
            "-H",
            f"x-api-key: {ANTHROPIC_KEY}",
            "-H",
            "X-LLMObserve-Customer-ID: from-header",
            "-H",
            "X-LLMObserve-Section: tool:curl",
            "-H",
            "baggage: llmobserve.customer.id=from-baggage",
            "-d",
            json.dumps({"model": "claude-3-haiku-20240307", "max_tokens": 5, "messages": HELLO}),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    attrs = proxy.span().attributes
    assert attrs[LLMOBSERVE_CUSTOMER_ID] == "from-baggage"
    assert attrs[LLMOBSERVE_SECTION_PATH] == "tool:curl"
