"""Section rollup of streamed Bedrock calls (AWS event streams) in proxy mode.

boto3 calls ConverseStream and InvokeModelWithResponseStream through a real proxy to a fake
Bedrock that checks SigV4; the proxy appends its cost report as one last event-stream message,
which the SDK removes before botocore parses the stream. The other patched HTTP clients get the
same treatment. The raw-wire tests show what the proxy sends to clients that asked for the
report and to those that did not.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
import httpx2
import pytest

boto3 = pytest.importorskip("boto3")

from botocore.eventstream import EventStreamBuffer  # noqa: E402

import llmobserve  # noqa: E402
from proxy.protocol import ROLLUP_HEADER, STREAM_COST_EVENT_TYPE, TARGET_URL_HEADER  # noqa: E402
from proxy.providers.services.eventstream import cost_message  # noqa: E402
from semconv import LLMOBSERVE_SECTION_COST, LLMOBSERVE_SECTION_UNPRICED_CALLS  # noqa: E402
from tests.proxy.providers._services_support import chunk, event  # noqa: E402

from .calls import CLIENTS, Post  # noqa: E402
from .conftest import Received, Reply, in_section  # noqa: E402
from .sigv4 import ACCESS_KEY, REGION, SECRET_KEY, SESSION_TOKEN, SigV4Endpoint  # noqa: E402

BEDROCK = f"bedrock-runtime.{REGION}.amazonaws.com"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
PATH = "/model/anthropic.claude-3-haiku-20240307-v1%3A0"
STREAM_TYPE = "application/vnd.amazon.eventstream"
# 12 input and 7 output tokens of Claude 3 Haiku at $0.25/M and $1.25/M.
CLAUDE_3_HAIKU = Decimal("0.00001175")
HELLO = [{"role": "user", "content": [{"text": "Hello"}]}]
INVOKE_BODY = json.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": []}
)

CONVERSE_STREAM = b"".join(
    (
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"delta": {"text": "Hel"}, "contentBlockIndex": 0}),
        event("contentBlockDelta", {"delta": {"text": "lo!"}, "contentBlockIndex": 0}),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "end_turn"}),
        event(
            "metadata",
            {
                "usage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19},
                "metrics": {"latencyMs": 120},
            },
        ),
    )
)
_METRICS = {"inputTokenCount": 12, "outputTokenCount": 7, "invocationLatency": 300}
INVOKE_STREAM = b"".join(
    chunk(e)
    for e in (
        {
            "type": "message_start",
            "message": {"id": "msg_1", "model": "claude-3-haiku-20240307", "usage": {}},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"text": "Hello!"}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": _METRICS},
    )
)
STREAMS = {b"/converse-stream": CONVERSE_STREAM, b"/invoke-with-response-stream": INVOKE_STREAM}


def bedrock_streams(request: Received) -> Reply:
    for suffix, body in STREAMS.items():
        if request.raw_path.endswith(suffix):
            return 200, {"content-type": STREAM_TYPE}, body
    return 404, {"content-type": "application/json"}, b'{"message":"unknown operation"}'


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Fake credentials from the environment; every client made is closed afterwards."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/llmobserve-test-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/llmobserve-test-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    made: list[Any] = []

    def client(**kwargs: Any) -> Any:
        made.append(boto3.client("bedrock-runtime", region_name=REGION, **kwargs))
        return made[-1]

    yield client
    for each in made:
        each.close()


def read_stream(client: Any, operation: str) -> list[dict[str, Any]]:
    if operation == "converse_stream":
        return list(client.converse_stream(modelId=MODEL, messages=HELLO)["stream"])
    response = client.invoke_model_with_response_stream(modelId=MODEL, body=INVOKE_BODY)
    return list(response["body"])


@pytest.mark.parametrize("operation", ["converse_stream", "invoke_model_with_response_stream"])
def test_streamed_bedrock_call_in_a_section_adds_the_cost_the_proxy_reports(
    operation, aws, route, spans
):
    endpoint = SigV4Endpoint(bedrock_streams)
    routed = route([BEDROCK], endpoint)
    # The same call straight to the fake Bedrock: the events the application must see.
    expected = read_stream(aws(endpoint_url=routed.upstream.url), operation)
    llmobserve.observe(proxy_url=routed.proxy_url)
    traced = in_section(lambda: read_stream(aws(), operation))
    assert traced.value == expected
    assert len(expected) == (6 if operation == "converse_stream" else 4)
    assert routed.inbound[-1].header(ROLLUP_HEADER) == "1"
    assert all(verdict.valid for verdict in endpoint.verdicts)
    assert traced.cost == CLAUDE_3_HAIKU
    assert traced.unpriced_calls == 0
    (proxy_span,) = routed.proxy_spans()
    assert Decimal(repr(proxy_span.attributes["gen_ai.usage.cost"])) == CLAUDE_3_HAIKU
    finished = {s.name: s.attributes for s in spans.get_finished_spans()}
    assert finished["invoke_agent sdk_test"][LLMOBSERVE_SECTION_COST] == float(CLAUDE_3_HAIKU)
    assert finished["execute_tool call"][LLMOBSERVE_SECTION_COST] == float(CLAUDE_3_HAIKU)
    assert finished["invoke_agent sdk_test"][LLMOBSERVE_SECTION_UNPRICED_CALLS] == 0


def test_streamed_bedrock_call_outside_a_section_reads_the_upstream_events(aws, route):
    endpoint = SigV4Endpoint(bedrock_streams)
    routed = route([BEDROCK], endpoint)
    expected = read_stream(aws(endpoint_url=routed.upstream.url), "converse_stream")
    llmobserve.observe(proxy_url=routed.proxy_url)
    assert read_stream(aws(), "converse_stream") == expected
    assert routed.inbound[-1].header(ROLLUP_HEADER) is None


@pytest.mark.parametrize("post", CLIENTS.values(), ids=CLIENTS.keys())
def test_event_stream_read_by_any_patched_client_in_a_section_adds_the_cost(post: Post, route):
    routed = route([BEDROCK], bedrock_streams)
    llmobserve.observe(proxy_url=routed.proxy_url)
    url = f"https://{BEDROCK}{PATH}/converse-stream"
    traced = in_section(lambda: post(url, {"messages": HELLO}))
    assert routed.inbound[-1].header(ROLLUP_HEADER) == "1"
    assert traced.value.body == CONVERSE_STREAM
    assert traced.cost == CLAUDE_3_HAIKU


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_event_stream_read_by_an_async_httpx_client_in_a_section_adds_the_cost(module, route):
    routed = route([BEDROCK], bedrock_streams)
    llmobserve.observe(proxy_url=routed.proxy_url)
    url = f"https://{BEDROCK}{PATH}/converse-stream"

    async def read() -> bytes:
        async with module.AsyncClient() as client, client.stream("POST", url, json={}) as r:
            return b"".join([piece async for piece in r.aiter_bytes()])

    traced = in_section(lambda: asyncio.run(read()))
    assert traced.value == CONVERSE_STREAM
    assert traced.cost == CLAUDE_3_HAIKU


def post_stream(proxy_url: str, **headers: str) -> httpx.Response:
    """A plain HTTP client (no SDK) asking the proxy for a ConverseStream."""
    target = f"https://{BEDROCK}{PATH}/converse-stream"
    return httpx.post(
        f"{proxy_url}{PATH}/converse-stream",
        headers={TARGET_URL_HEADER: target, "content-type": "application/json", **headers},
        content=json.dumps({"messages": HELLO}).encode(),
    )


def test_event_stream_rollup_appends_one_cost_message_on_the_wire(route):
    routed = route([BEDROCK], bedrock_streams)
    response = post_stream(routed.proxy_url, **{ROLLUP_HEADER: "1"})
    report = b'{"status":"priced","usd":"0.00001175"}'
    assert response.content == CONVERSE_STREAM + cost_message(report)
    # The upstream's length no longer holds: the proxy sends the body chunked.
    assert "content-length" not in response.headers
    buffer = EventStreamBuffer()
    buffer.add_data(response.content)
    last = list(buffer)[-1]
    assert last.headers[":event-type"] == STREAM_COST_EVENT_TYPE
    assert last.headers[":message-type"] == "event"
    assert json.loads(last.payload) == {"status": "priced", "usd": "0.00001175"}


def test_event_stream_is_forwarded_unchanged_to_clients_that_do_not_ask(route):
    routed = route([BEDROCK], bedrock_streams)
    response = post_stream(routed.proxy_url)
    assert response.content == CONVERSE_STREAM
    assert response.headers["content-length"] == str(len(CONVERSE_STREAM))


def test_cut_event_stream_gets_no_cost_message(route):
    cut = CONVERSE_STREAM[:-7]  # the metadata event broke off
    routed = route([BEDROCK], lambda request: (200, {"content-type": STREAM_TYPE}, cut))
    response = post_stream(routed.proxy_url, **{ROLLUP_HEADER: "1"})
    assert response.content == cut


def test_sse_rollup_drops_a_declared_length_the_comment_would_overrun(route):
    # The same rule for SSE: an upstream that declares its stream's length (a buffering
    # gateway) must not make the proxy send more than it declared.
    sse = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    routed = route(
        ["api.anthropic.com"], lambda r: (200, {"content-type": "text/event-stream"}, sse)
    )
    response = httpx.post(
        f"{routed.proxy_url}/v1/messages",
        headers={TARGET_URL_HEADER: "https://api.anthropic.com/v1/messages", ROLLUP_HEADER: "1"},
        json={"model": "claude-3-haiku-20240307", "max_tokens": 5, "messages": [], "stream": True},
    )
    assert "content-length" not in response.headers
    assert response.content.startswith(sse)
    assert response.content[len(sse) :].startswith(b": llmobserve-cost {")
