"""The simulator's Amazon Bedrock runtime: Converse, ConverseStream and InvokeModel.

Token arithmetic for the message "Hello" (see the `llmobserve.simulator` docstring):
input = 10 + ceil(5 / 4) = 12, output = 7 words of the canned reply.
"""

from __future__ import annotations

import json
import struct
import zlib

import httpx2
import pytest

from llmobserve.simulator import SCENARIO_HEADER

NOVA = "amazon.nova-lite-v1:0"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
SIGV4 = {"authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock"}
HELLO = {"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}


def _path(model: str, action: str) -> str:
    # botocore sends the model id percent-encoded (":" as %3A), as it signed it.
    return f"/model/{model.replace(':', '%3A')}/{action}"


async def _post(
    client: httpx2.AsyncClient,
    model: str,
    action: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    return await client.post(
        _path(model, action),
        content=json.dumps(HELLO if body is None else body).encode(),
        headers={**SIGV4, "content-type": "application/json", **(headers or {})},
    )


def _events(raw: bytes) -> list[tuple[dict[str, str], dict[str, object]]]:
    """Decode an AWS event stream, checking both CRCs of every frame."""
    events = []
    while raw:
        total, headers_length, prelude_crc = struct.unpack(">III", raw[:12])
        assert zlib.crc32(raw[:8]) == prelude_crc
        assert zlib.crc32(raw[: total - 4]) == struct.unpack(">I", raw[total - 4 : total])[0]
        headers, at = {}, 12
        while at < 12 + headers_length:
            name_length = raw[at]
            name = raw[at + 1 : at + 1 + name_length].decode()
            at += 1 + name_length
            kind, value_length = struct.unpack(">BH", raw[at : at + 3])
            assert kind == 7  # string
            headers[name] = raw[at + 3 : at + 3 + value_length].decode()
            at += 3 + value_length
        events.append((headers, json.loads(raw[12 + headers_length : total - 4])))
        raw = raw[total:]
    return events


async def test_bedrock_converse_reports_usage_with_the_token_rule(
    client: httpx2.AsyncClient,
) -> None:
    response = await _post(client, NOVA, "converse")
    assert response.status_code == 200
    assert response.headers["x-llmobserve-simulator"] == "1"
    assert response.headers["x-amzn-requestid"]
    body = response.json()
    assert body["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": "Hello! How can I help you today?"}],
    }
    assert body["stopReason"] == "end_turn"
    assert body["usage"] == {
        "inputTokens": 12,
        "outputTokens": 7,
        "totalTokens": 19,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }


async def test_bedrock_converse_counts_the_system_prompt_and_untyped_text_blocks(
    client: httpx2.AsyncClient,
) -> None:
    body = {
        "system": [{"text": "You are terse."}],  # 14 chars -> 4
        "messages": [{"role": "user", "content": [{"text": "Hello"}, {"image": {}}]}],  # 2
    }
    response = await _post(client, NOVA, "converse", body)
    assert response.json()["usage"]["inputTokens"] == 10 + 4 + 2


async def test_bedrock_cached_scenario_reports_cache_tokens_outside_input_tokens(
    client: httpx2.AsyncClient,
) -> None:
    response = await _post(client, CLAUDE, "converse", headers={SCENARIO_HEADER: "cached"})
    usage = response.json()["usage"]
    assert usage["inputTokens"] == 12
    assert (usage["cacheReadInputTokens"], usage["cacheWriteInputTokens"]) == (1024, 256)
    assert usage["totalTokens"] == 12 + 7 + 1024 + 256


async def test_bedrock_converse_stream_is_a_valid_aws_event_stream(
    client: httpx2.AsyncClient,
) -> None:
    response = await _post(client, CLAUDE, "converse-stream")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    events = _events(response.content)
    names = [headers[":event-type"] for headers, _ in events]
    assert names == [
        "messageStart",
        *["contentBlockDelta"] * 7,  # one per word
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert all(h[":message-type"] == "event" for h, _ in events)
    text = "".join(str(p["delta"]["text"]) for h, p in events if "delta" in p)  # type: ignore[index]
    assert text == "Hello! I'm Claude. How can I help?"
    assert events[-1][1]["usage"] == {
        "inputTokens": 12,
        "outputTokens": 7,
        "totalTokens": 19,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }


async def test_bedrock_malformed_stream_is_cut_before_the_usage(
    client: httpx2.AsyncClient,
) -> None:
    response = await _post(client, NOVA, "converse-stream", headers={SCENARIO_HEADER: "malformed"})
    assert b"metadata" not in response.content
    assert b"messageStop" not in response.content


async def test_bedrock_invoke_anthropic_body_and_token_count_headers(
    client: httpx2.AsyncClient,
) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    response = await _post(client, CLAUDE, "invoke", body, {SCENARIO_HEADER: "cached"})
    message = response.json()
    assert message["type"] == "message"
    assert message["model"] == "claude-3-haiku-20240307"
    assert message["content"] == [{"type": "text", "text": "Hello! I'm Claude. How can I help?"}]
    assert message["usage"] == {
        "input_tokens": 12,
        "cache_creation_input_tokens": 256,
        "cache_read_input_tokens": 1024,
        "output_tokens": 7,
    }
    assert response.headers["x-amzn-bedrock-input-token-count"] == "12"
    assert response.headers["x-amzn-bedrock-output-token-count"] == "7"
    assert response.headers["x-amzn-bedrock-cache-read-input-token-count"] == "1024"
    assert response.headers["x-amzn-bedrock-cache-write-input-token-count"] == "256"


async def test_bedrock_invoke_nova_and_llama_bodies(client: httpx2.AsyncClient) -> None:
    nova = (await _post(client, NOVA, "invoke")).json()
    assert nova["usage"]["inputTokens"] == 12
    assert nova["output"]["message"]["content"] == [{"text": "Hello! How can I help you today?"}]
    llama = await _post(client, "meta.llama3-8b-instruct-v1:0", "invoke", {"prompt": "Hello"})
    assert llama.json() == {
        "generation": "Hello! How can I help you today?",
        "prompt_token_count": 12,
        "generation_token_count": 7,
        "stop_reason": "stop",
    }


@pytest.mark.parametrize(
    ("scenario", "status", "error"),
    [
        ("rate_limit", 429, "ThrottlingException"),
        ("server_error", 500, "InternalServerException"),
        ("no-such-scenario", 400, "ValidationException"),
    ],
)
async def test_bedrock_error_scenarios_name_the_error_in_the_header(
    client: httpx2.AsyncClient, scenario: str, status: int, error: str
) -> None:
    response = await _post(client, NOVA, "converse", headers={SCENARIO_HEADER: scenario})
    assert response.status_code == status
    assert response.headers["x-amzn-errortype"] == error
    assert response.json()["message"]
    if status == 429:
        assert response.headers["retry-after"] == "1"


async def test_bedrock_without_authorization_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.post(_path(NOVA, "converse"), content=json.dumps(HELLO).encode())
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


async def test_bedrock_unknown_operation_is_404(client: httpx2.AsyncClient) -> None:
    response = await _post(client, NOVA, "count-tokens")
    assert response.status_code == 404


def test_bedrock_converse_through_boto3() -> None:
    """botocore parses what the simulator sends (its own event-stream parser checks CRCs)."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    from llmobserve._servers import ServerThread
    from llmobserve.simulator import create_app

    with ServerThread(create_app()) as simulator:
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=simulator.url,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(retries={"total_max_attempts": 1}),
        )
        try:
            reply = client.converse(modelId=NOVA, messages=HELLO["messages"])
            assert reply["usage"]["inputTokens"] == 12
            stream = client.converse_stream(modelId=CLAUDE, messages=HELLO["messages"])
            events = list(stream["stream"])
            assert events[-1]["metadata"]["usage"]["outputTokens"] == 7
        finally:
            client.close()
