"""The provider simulator, driven in-process and through the real OpenAI/Anthropic SDKs.

Token arithmetic for the message "Hello" (see the `llmobserve.simulator` docstring):
input = 10 + ceil(5 / 4) = 12, output = 7 words of the canned reply.
"""

from __future__ import annotations

import base64
import json
import time

import anthropic
import httpx2
import openai
import pytest

import llmobserve.simulator
from llmobserve.simulator import SCENARIO_HEADER

HELLO = [{"role": "user", "content": "Hello"}]
OPENAI_AUTH = {"authorization": "Bearer sk-simulator"}
ANTHROPIC_AUTH = {"x-api-key": "sk-ant-simulator", "anthropic-version": "2023-06-01"}
CLAUDE = "claude-3-haiku-20240307"


def _scenario(name: str) -> dict[str, str]:
    return {SCENARIO_HEADER: name}


def _sse(text: str) -> list[tuple[str | None, str]]:
    """Split an SSE body into (event name or None, data) pairs."""
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        name, data = None, None
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data = value
        assert data is not None, block
        events.append((name, data))
    return events


async def _openai_raw(
    client: httpx2.AsyncClient, body: dict[str, object], headers: dict[str, str] | None = None
) -> httpx2.Response:
    payload = {"model": "gpt-4o-mini", "messages": HELLO, **body}
    return await client.post(
        "/v1/chat/completions", json=payload, headers={**OPENAI_AUTH, **(headers or {})}
    )


async def _anthropic_raw(
    client: httpx2.AsyncClient, body: dict[str, object], headers: dict[str, str] | None = None
) -> httpx2.Response:
    payload = {"model": CLAUDE, "max_tokens": 64, "messages": HELLO, **body}
    return await client.post(
        "/v1/messages", json=payload, headers={**ANTHROPIC_AUTH, **(headers or {})}
    )


# --- package and control endpoints ---------------------------------------------------------


def test_simulator_public_api_is_pinned() -> None:
    assert sorted(llmobserve.simulator.__all__) == [
        "ASGIApp",
        "NO_GZIP_HEADER",
        "SCENARIOS",
        "SCENARIO_HEADER",
        "create_app",
    ]
    assert "SIMULATOR" in (llmobserve.simulator.__doc__ or "")


async def test_health_reports_service(client: httpx2.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "llmobserve-simulator"}


async def test_app_marks_every_response_as_simulated(client: httpx2.AsyncClient) -> None:
    responses = [
        await client.get("/health"),
        await client.get("/__simulator__/requests"),
        await client.post("/v1/chat/completions", json={}),
        await client.post("/v1/nowhere", json={}),
        await _openai_raw(client, {"stream": True}),
        await _anthropic_raw(client, {}, _scenario("rate_limit")),
    ]
    assert [r.headers["x-llmobserve-simulator"] for r in responses] == ["1"] * len(responses)


async def test_app_unknown_route_returns_404(client: httpx2.AsyncClient) -> None:
    response = await client.post("/v1/nowhere", json={})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_app_unknown_scenario_returns_400_in_provider_shape(
    client: httpx2.AsyncClient,
) -> None:
    openai_response = await _openai_raw(client, {}, _scenario("nope"))
    anthropic_response = await _anthropic_raw(client, {}, _scenario("nope"))
    assert openai_response.status_code == 400
    assert "nope" in openai_response.json()["error"]["message"]
    assert anthropic_response.status_code == 400
    assert anthropic_response.json()["error"]["type"] == "invalid_request_error"


async def test_request_log_records_method_path_query_headers_and_body(
    client: httpx2.AsyncClient,
) -> None:
    body = {"model": "gpt-4o-mini", "messages": HELLO}
    await client.post(
        "/v1/chat/completions?api-version=2024-10-21",
        json=body,
        headers={**OPENAI_AUTH, "X-Customer-Id": "acme", "host": "api.openai.com"},
    )

    [entry] = (await client.get("/__simulator__/requests")).json()
    assert entry["method"] == "POST"
    assert entry["path"] == "/v1/chat/completions"
    assert entry["query_string"] == "api-version=2024-10-21"
    assert ["x-customer-id", "acme"] in entry["headers"]
    assert ["host", "api.openai.com"] in entry["headers"]
    assert ["authorization", "Bearer sk-simulator"] in entry["headers"]
    assert json.loads(entry["body"]) == body
    assert entry["body_base64"] is False


async def test_request_log_base64_encodes_non_utf8_body(client: httpx2.AsyncClient) -> None:
    await client.post("/v1/messages", content=b"\xff\xfe\x00", headers=ANTHROPIC_AUTH)

    [entry] = (await client.get("/__simulator__/requests")).json()
    assert entry["body_base64"] is True
    assert base64.b64decode(entry["body"]) == b"\xff\xfe\x00"


async def test_request_log_records_rejected_requests_and_resets_on_delete(
    client: httpx2.AsyncClient,
) -> None:
    await client.post("/v1/messages", json={"model": CLAUDE, "messages": HELLO})
    await client.get("/health")
    assert len((await client.get("/__simulator__/requests")).json()) == 1

    assert (await client.delete("/__simulator__/requests")).status_code == 200
    assert (await client.get("/__simulator__/requests")).json() == []


# --- gzip ----------------------------------------------------------------------------------


async def test_gzip_applied_to_json_when_accepted(client: httpx2.AsyncClient) -> None:
    response = await _openai_raw(client, {}, {"accept-encoding": "gzip, deflate"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["usage"]["prompt_tokens"] == 12


async def test_gzip_not_applied_when_opted_out_or_not_accepted(
    client: httpx2.AsyncClient,
) -> None:
    opted_out = await _openai_raw(client, {}, {"x-simulator-no-gzip": "1"})
    identity = await _anthropic_raw(client, {}, {"accept-encoding": "identity"})
    refused = await _anthropic_raw(client, {}, {"accept-encoding": "gzip;q=0"})
    for response in (opted_out, identity, refused):
        assert "content-encoding" not in response.headers
        assert response.json()


async def test_gzip_never_applied_to_streams(client: httpx2.AsyncClient) -> None:
    openai_stream = await _openai_raw(client, {"stream": True}, {"accept-encoding": "gzip"})
    anthropic_stream = await _anthropic_raw(client, {"stream": True}, {"accept-encoding": "gzip"})
    for response in (openai_stream, anthropic_stream):
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers


async def test_openai_sdk_decodes_gzipped_response(
    openai_client: openai.AsyncOpenAI,
) -> None:
    raw = await openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO
    )
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.parse().usage is not None


# --- OpenAI --------------------------------------------------------------------------------


async def test_openai_chat_completion_parsed_by_sdk(openai_client: openai.AsyncOpenAI) -> None:
    raw = await openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO
    )
    completion = raw.parse()

    assert raw.headers["x-request-id"].startswith("req_")
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.service_tier == "default"
    assert completion.system_fingerprint
    [choice] = completion.choices
    assert choice.message.content == "Hello! How can I help you today?"
    assert choice.finish_reason == "stop"
    assert choice.logprobs is None
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 7, 19)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.prompt_tokens_details.audio_tokens == 0
    details = usage.completion_tokens_details
    assert details is not None
    assert details.reasoning_tokens == 0
    assert details.audio_tokens == 0
    assert details.accepted_prediction_tokens == 0
    assert details.rejected_prediction_tokens == 0


async def test_openai_model_resolves_aliases_and_echoes_other_names(
    openai_client: openai.AsyncOpenAI,
) -> None:
    gpt_4o = await openai_client.chat.completions.create(model="gpt-4o", messages=HELLO)
    other = await openai_client.chat.completions.create(model="gpt-4.1-nano", messages=HELLO)
    assert gpt_4o.model == "gpt-4o-2024-08-06"
    assert other.model == "gpt-4.1-nano"


async def test_openai_usage_counts_system_and_text_parts(
    openai_client: openai.AsyncOpenAI,
) -> None:
    completion = await openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You are terse."},  # 14 chars -> 4
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hello"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    {"type": "text", "text": " there"},
                ],  # "Hello there": 11 chars -> 3
            },
        ],
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 10 + 4 + 3


async def test_openai_stream_with_include_usage_parsed_by_sdk(
    openai_client: openai.AsyncOpenAI,
) -> None:
    stream = await openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! How can I help you today?"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 7
    assert chunks[-2].choices[0].finish_reason == "stop"
    *content_chunks, usage_chunk = chunks
    assert all("usage" in c.model_fields_set and c.usage is None for c in content_chunks)
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (12, 7)
    assert usage_chunk.usage.total_tokens == 19
    assert {c.id for c in chunks} == {chunks[0].id}
    assert {c.model for c in chunks} == {"gpt-4o-mini-2024-07-18"}


async def test_openai_stream_without_include_usage_has_no_usage_key(
    openai_client: openai.AsyncOpenAI, client: httpx2.AsyncClient
) -> None:
    stream = await openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True
    )
    chunks = [chunk async for chunk in stream]
    raw = await _openai_raw(client, {"stream": True})
    payloads = [json.loads(data) for _, data in _sse(raw.text)[:-1]]

    assert all("usage" not in c.model_fields_set for c in chunks)
    assert all(c.choices for c in chunks)
    assert all("usage" not in payload for payload in payloads)
    assert len(payloads) == len(chunks) == 9


async def test_openai_stream_is_compact_sse_ending_with_done(client: httpx2.AsyncClient) -> None:
    response = await _openai_raw(
        client, {"stream": True, "stream_options": {"include_usage": True}}
    )

    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.text.endswith("data: [DONE]\n\n")
    events = _sse(response.text)
    assert all(name is None for name, _ in events)
    for _, data in events[:-1]:
        assert data == json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False)
        assert json.loads(data)["object"] == "chat.completion.chunk"


async def test_openai_cached_scenario_counts_cached_inside_prompt_tokens(
    openai_client: openai.AsyncOpenAI,
) -> None:
    completion = await openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, extra_headers=_scenario("cached")
    )
    stream = await openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=_scenario("cached"),
    )
    streamed = [chunk async for chunk in stream][-1].usage

    for usage in (completion.usage, streamed):
        assert usage is not None
        assert usage.prompt_tokens_details is not None
        assert (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens) == (1036, 1024)
        assert (usage.completion_tokens, usage.total_tokens) == (7, 1043)


async def test_openai_reasoning_scenario_counts_reasoning_inside_completion_tokens(
    openai_client: openai.AsyncOpenAI,
) -> None:
    completion = await openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, extra_headers=_scenario("reasoning")
    )
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 64
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 71, 83)


async def test_openai_rate_limit_scenario_raises_rate_limit_error(
    openai_client: openai.AsyncOpenAI,
) -> None:
    with pytest.raises(openai.RateLimitError) as error_info:
        await openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, extra_headers=_scenario("rate_limit")
        )
    error = error_info.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "1"
    assert error.code == "rate_limit_exceeded"
    assert error.type == "requests"
    assert error.param is None


async def test_openai_server_error_scenario_raises_internal_server_error(
    openai_client: openai.AsyncOpenAI,
) -> None:
    with pytest.raises(openai.InternalServerError) as error_info:
        await openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, extra_headers=_scenario("server_error")
        )
    assert error_info.value.status_code == 500
    assert error_info.value.type == "server_error"


async def test_openai_missing_bearer_token_returns_401(client: httpx2.AsyncClient) -> None:
    body = {"model": "gpt-4o-mini", "messages": HELLO}
    missing = await client.post("/v1/chat/completions", json=body)
    wrong_scheme = await client.post(
        "/v1/chat/completions", json=body, headers={"authorization": "Basic abc"}
    )
    for response in (missing, wrong_scheme):
        assert response.status_code == 401
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["param"], error["code"]) == (
            "invalid_request_error",
            None,
            "invalid_api_key",
        )


async def test_openai_malformed_scenario_returns_truncated_json(
    client: httpx2.AsyncClient,
) -> None:
    response = await _openai_raw(client, {}, _scenario("malformed"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text.startswith('{"id":"chatcmpl-')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


async def test_openai_malformed_stream_is_cut_mid_chunk_without_usage_or_done(
    client: httpx2.AsyncClient,
) -> None:
    response = await _openai_raw(
        client, {"stream": True, "stream_options": {"include_usage": True}}, _scenario("malformed")
    )
    *complete, cut = response.text.split("\n\n")
    assert [json.loads(block.removeprefix("data: "))["usage"] for block in complete] == [None] * 3
    assert cut.startswith("data: {")
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.removeprefix("data: "))
    assert "[DONE]" not in response.text


async def test_openai_slow_stream_waits_between_chunks(client: httpx2.AsyncClient) -> None:
    started = time.monotonic()
    response = await _openai_raw(client, {"stream": True}, _scenario("slow_stream"))
    elapsed = time.monotonic() - started
    gaps = len(_sse(response.text)) - 1  # 9 chunks + [DONE]
    assert elapsed >= gaps * 0.05 * 0.9


# --- Anthropic -----------------------------------------------------------------------------


async def test_anthropic_message_parsed_by_sdk(
    anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    raw = await anthropic_client.messages.with_raw_response.create(
        model=CLAUDE, max_tokens=64, messages=HELLO
    )
    message = await raw.parse()

    assert raw.headers["request-id"].startswith("req_")
    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.model) == ("message", "assistant", CLAUDE)
    [block] = message.content
    assert block.type == "text"
    assert block.text == "Hello! I'm Claude. How can I help?"
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (12, 7)
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
    assert usage.cache_creation is not None
    assert usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert usage.cache_creation.ephemeral_1h_input_tokens == 0
    assert usage.service_tier == "standard"


async def test_anthropic_usage_counts_system_prompt_and_text_blocks(
    anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    message = await anthropic_client.messages.create(
        model=CLAUDE,
        max_tokens=64,
        system=[{"type": "text", "text": "You are terse."}],  # 14 chars -> 4
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]},  # 2
            {"role": "assistant", "content": "Hi."},  # 1
            {"role": "user", "content": "Summarise the contract."},  # 23 chars -> 6
        ],
    )
    assert message.usage.input_tokens == 10 + 4 + 2 + 1 + 6


async def test_anthropic_stream_parsed_by_sdk(anthropic_client: anthropic.AsyncAnthropic) -> None:
    async with anthropic_client.messages.stream(
        model=CLAUDE, max_tokens=64, messages=HELLO
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        message = await stream.get_final_message()

    assert len(pieces) == 7
    assert "".join(pieces) == "Hello! I'm Claude. How can I help?"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello! I'm Claude. How can I help?"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 7)


async def test_anthropic_stream_events_follow_documented_sequence(
    client: httpx2.AsyncClient,
) -> None:
    response = await _anthropic_raw(client, {"stream": True})
    events = _sse(response.text)
    names = [name for name, _ in events]
    payloads = [json.loads(data) for _, data in events]

    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["request-id"].startswith("req_")
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 7,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert [payload["type"] for payload in payloads] == names
    start_usage = payloads[0]["message"]["usage"]
    assert (start_usage["input_tokens"], start_usage["output_tokens"]) == (12, 1)
    assert payloads[0]["message"]["content"] == []
    assert all(p["delta"]["type"] == "text_delta" for p in payloads[3:10])
    assert payloads[-2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert payloads[-2]["usage"]["output_tokens"] == 7


async def test_anthropic_cached_scenario_reports_cache_tokens_outside_input_tokens(
    anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    message = await anthropic_client.messages.create(
        model=CLAUDE, max_tokens=64, messages=HELLO, extra_headers=_scenario("cached")
    )
    async with anthropic_client.messages.stream(
        model=CLAUDE, max_tokens=64, messages=HELLO, extra_headers=_scenario("cached")
    ) as stream:
        streamed = await stream.get_final_message()

    for usage in (message.usage, streamed.usage):
        assert (usage.input_tokens, usage.output_tokens) == (12, 7)
        assert usage.cache_read_input_tokens == 1024
        assert usage.cache_creation_input_tokens == 256
        assert usage.cache_creation is not None
        assert usage.cache_creation.ephemeral_5m_input_tokens == 256
        assert usage.cache_creation.ephemeral_1h_input_tokens == 0


async def test_anthropic_reasoning_scenario_leaves_usage_unchanged(
    anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    message = await anthropic_client.messages.create(
        model=CLAUDE, max_tokens=64, messages=HELLO, extra_headers=_scenario("reasoning")
    )
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 7)


async def test_anthropic_rate_limit_scenario_raises_rate_limit_error(
    anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    with pytest.raises(anthropic.RateLimitError) as error_info:
        await anthropic_client.messages.create(
            model=CLAUDE, max_tokens=64, messages=HELLO, extra_headers=_scenario("rate_limit")
        )
    error = error_info.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "1"
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == "rate_limit_error"
    assert error.request_id == error.body["request_id"]


async def test_anthropic_server_error_scenario_returns_api_error(
    anthropic_client: anthropic.AsyncAnthropic,
) -> None:
    with pytest.raises(anthropic.InternalServerError) as error_info:
        await anthropic_client.messages.create(
            model=CLAUDE, max_tokens=64, messages=HELLO, extra_headers=_scenario("server_error")
        )
    assert error_info.value.status_code == 500
    assert isinstance(error_info.value.body, dict)
    assert error_info.value.body["error"]["type"] == "api_error"


async def test_anthropic_missing_api_key_returns_401(client: httpx2.AsyncClient) -> None:
    response = await client.post(
        "/v1/messages",
        json={"model": CLAUDE, "max_tokens": 64, "messages": HELLO},
        headers={"anthropic-version": "2023-06-01", "authorization": "Basic abc"},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["request-id"]


async def test_anthropic_accepts_x_api_key_or_bearer_token(client: httpx2.AsyncClient) -> None:
    body = {"model": CLAUDE, "max_tokens": 64, "messages": HELLO}
    with_api_key = await client.post("/v1/messages", json=body, headers={"x-api-key": "k"})
    with_bearer = await client.post(
        "/v1/messages", json=body, headers={"authorization": "Bearer k"}
    )
    assert (with_api_key.status_code, with_bearer.status_code) == (200, 200)


async def test_anthropic_malformed_scenario_returns_truncated_json(
    client: httpx2.AsyncClient,
) -> None:
    response = await _anthropic_raw(client, {}, _scenario("malformed"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


async def test_anthropic_malformed_stream_stops_mid_event_before_message_delta(
    client: httpx2.AsyncClient,
) -> None:
    response = await _anthropic_raw(client, {"stream": True}, _scenario("malformed"))
    *complete, cut = response.text.split("\n\n")
    assert [block.split("\n")[0] for block in complete] == [
        "event: message_start",
        "event: content_block_start",
        "event: ping",
        "event: content_block_delta",
    ]
    assert cut.startswith("event: content_block_delta\ndata: {")
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.split("data: ", 1)[1])
    assert "message_delta" not in response.text
    assert "message_stop" not in response.text


async def test_anthropic_slow_stream_waits_between_events(client: httpx2.AsyncClient) -> None:
    started = time.monotonic()
    response = await _anthropic_raw(client, {"stream": True}, _scenario("slow_stream"))
    elapsed = time.monotonic() - started
    assert elapsed >= (len(_sse(response.text)) - 1) * 0.05 * 0.9
