"""Section rollup through aiohttp, requests and botocore, in proxy mode (the proxy reports each
call's cost back) and in direct mode (priced in-process): the same section totals, and the
application never sees a cost report."""

from __future__ import annotations

import importlib.util
import json
from decimal import Decimal
from typing import Any

import pytest

import llmobserve
from proxy.protocol import COST_HEADER_NAME
from semconv import LLMOBSERVE_SECTION_COST, LLMOBSERVE_SECTION_UNPRICED_CALLS
from tests.conftest import ANTHROPIC, OPENAI

from .calls import ANTHROPIC_MESSAGES, CLIENTS, OPENAI_CHAT, Seen, chat, messages, sse_data
from .conftest import in_section

ROLLUP_CLIENTS = {name: CLIENTS[name] for name in ("requests", "aiohttp")}
BEDROCK = "bedrock-runtime.us-east-1.amazonaws.com"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
# The simulator's token counts (12 in, 7 out) at list prices:
GPT_4O_MINI = Decimal("0.000006")  # 12 x $0.15/M + 7 x $0.60/M
CLAUDE_3_HAIKU = Decimal("0.00001175")  # 12 x $0.25/M + 7 x $1.25/M


@pytest.fixture(params=["proxy", "direct"])
def mode(request, start_proxy, simulator, monkeypatch) -> str:
    """`observe()` through a real proxy, or direct with provider hosts sent to the simulator."""
    hosts = (OPENAI, ANTHROPIC, BEDROCK)
    if request.param == "proxy":
        proxy = start_proxy(upstream_overrides=dict.fromkeys(hosts, simulator.url))
        llmobserve.observe(proxy_url=proxy.url)
    else:
        overrides = ",".join(f"{host}={simulator.url}" for host in hosts)
        monkeypatch.setenv("LLMOBSERVE_UPSTREAM_OVERRIDES", overrides)
        llmobserve.observe()
    return str(request.param)


def three_calls(post: Any) -> tuple[Seen, Seen, Seen]:
    """A priced JSON call, a priced stream and a call to a model without a price."""
    return (
        post(OPENAI_CHAT, chat()),
        post(ANTHROPIC_MESSAGES, messages(stream=True)),
        post(OPENAI_CHAT, chat("gpt-imaginary-9")),
    )


@pytest.mark.parametrize("post", ROLLUP_CLIENTS.values(), ids=ROLLUP_CLIENTS.keys())
def test_sections_add_up_json_and_streamed_calls(post, mode, spans):
    traced = in_section(lambda: three_calls(post))
    plain, streamed, unknown = traced.value
    assert traced.cost == GPT_4O_MINI + CLAUDE_3_HAIKU
    assert traced.unpriced_calls == 1
    # The report is the SDK's: not in the headers, not at the end of the stream.
    assert COST_HEADER_NAME not in {name.lower() for name in plain.headers}
    assert plain.json()["usage"]["prompt_tokens"] == 12
    assert unknown.status == 200
    assert b"llmobserve-cost" not in streamed.body
    assert streamed.body.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert sse_data(streamed.body)[-2]["usage"]["output_tokens"] == 7
    finished = {s.name: s.attributes for s in spans.get_finished_spans()}
    assert finished["invoke_agent sdk_test"][LLMOBSERVE_SECTION_COST] == float(traced.cost)
    assert finished["invoke_agent sdk_test"][LLMOBSERVE_SECTION_UNPRICED_CALLS] == 1
    assert finished["execute_tool call"][LLMOBSERVE_SECTION_COST] == float(traced.cost)


@pytest.mark.skipif(importlib.util.find_spec("boto3") is None, reason="boto3 not installed")
def test_sections_add_up_bedrock_calls(mode, monkeypatch):
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent/llmobserve-test-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/llmobserve-test-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    hello = [{"role": "user", "content": [{"text": "Hello"}]}]

    def calls() -> Any:
        conversed = client.converse(modelId=MODEL, messages=hello)
        body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": []}
        body["messages"] = [{"role": "user", "content": "Hello"}]
        invoked = json.loads(
            client.invoke_model(modelId=MODEL, body=json.dumps(body))["body"].read()
        )
        streamed = list(client.converse_stream(modelId=MODEL, messages=hello)["stream"])
        return conversed, invoked, streamed

    try:
        traced = in_section(calls)
    finally:
        client.close()
    conversed, invoked, streamed = traced.value
    assert conversed["usage"]["inputTokens"] == invoked["usage"]["input_tokens"] == 12
    assert COST_HEADER_NAME not in conversed["ResponseMetadata"]["HTTPHeaders"]
    assert streamed[-1]["metadata"]["usage"]["outputTokens"] == 7
    # Direct mode prices the event stream in-process; the proxy reports it in a last message.
    assert traced.cost == 3 * CLAUDE_3_HAIKU
