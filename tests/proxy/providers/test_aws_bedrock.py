"""AWS Bedrock: detection, InvokeModel/Converse JSON, binary event streams, a real proxy."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from pricing import TokenUsage
from proxy.providers.catalog import provider_for_host
from proxy.providers.services import match_regional_host
from proxy.providers.services.eventstream import EventStreamDecoder
from semconv import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    LLMOBSERVE_COST_STATUS,
)
from tests.proxy.providers._services_support import (
    Reply,
    chunk,
    detect,
    encode_message,
    event,
    exception,
    fake_upstream,
    fixture,
    observe,
    random_chunks,
)

BEDROCK = "aws.bedrock"
HOST = "bedrock-runtime.us-east-1.amazonaws.com"
MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
ENCODED = "anthropic.claude-3-5-haiku-20241022-v1%3A0"
STREAM = "application/vnd.amazon.eventstream"
CONVERSE_STREAM = fixture("aws_bedrock", "converse_stream.bin")
# converse_stream.bin: 25 uncached + 1200 written to the cache; 61 out.
CONVERSE_STREAM_USAGE = TokenUsage(input_tokens=1225, output_tokens=61, cache_write_tokens=1200)
TOKEN_HEADERS = {
    "x-amzn-bedrock-input-token-count": "14",
    "x-amzn-bedrock-output-token-count": "29",
    "x-amzn-bedrock-cache-read-input-token-count": "1024",
    "x-amzn-bedrock-cache-write-input-token-count": "0",
}
ANTHROPIC_BODY = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64}).encode()


def invoke(model: str = ENCODED, action: str = "invoke"):
    return detect(BEDROCK, "POST", f"/model/{model}/{action}")


def anthropic_stream(*, with_metrics: bool = True) -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_bdrk_01",
            "model": "claude-3-5-haiku-20241022",
            "usage": {"input_tokens": 9, "cache_creation_input_tokens": 1843, "output_tokens": 1},
        },
    }
    delta = {"type": "content_block_delta", "index": 0, "delta": {"text": "Hi"}}
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 14},
    }
    stop: dict[str, object] = {"type": "message_stop"}
    if with_metrics:
        stop["amazon-bedrock-invocationMetrics"] = {
            "inputTokenCount": 9,
            "outputTokenCount": 14,
            "invocationLatency": 512,
            "firstByteLatency": 230,
            "cacheWriteInputTokenCount": 1843,
        }
    return b"".join(chunk(e) for e in (start, delta, end, stop))


ANTHROPIC_STREAM_USAGE = TokenUsage(input_tokens=1852, output_tokens=14, cache_write_tokens=1843)


# Detection


@pytest.mark.parametrize(
    ("path", "model", "stream"),
    [
        (f"/model/{ENCODED}/invoke", MODEL, None),
        (f"/model/{ENCODED}/invoke-with-response-stream", MODEL, True),
        (
            "/model/us.meta.llama3-3-70b-instruct-v1%3A0/converse",
            "us.meta.llama3-3-70b-instruct-v1:0",
            None,
        ),
        (f"/model/{ENCODED}/converse-stream", MODEL, True),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/converse",
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
            None,
        ),
    ],
)
def test_detect_decodes_the_model_id_in_the_path(
    path: str, model: str, stream: bool | None
) -> None:
    endpoint = detect(BEDROCK, "POST", path)

    assert (endpoint.model, endpoint.stream, endpoint.operation) == (model, stream, "chat")


def test_detect_calls_titan_embeddings_an_embeddings_operation() -> None:
    assert invoke("amazon.titan-embed-text-v2%3A0").operation == "embeddings"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/model/{ENCODED}/count-tokens"),
        ("GET", f"/model/{ENCODED}/invoke"),
        ("POST", "/"),
    ],
)
def test_detect_is_none_for_calls_that_are_not_billed(method: str, path: str) -> None:
    from proxy.providers.endpoints import detect_endpoint

    assert detect_endpoint(BEDROCK, method, path) is None


@pytest.mark.parametrize(
    "host",
    [
        "bedrock-runtime.us-east-1.amazonaws.com",
        "bedrock-runtime-fips.us-west-2.amazonaws.com",
        "bedrock-runtime.eu-central-1.amazonaws.com",
        "bedrock-runtime.cn-north-1.amazonaws.com.cn",
        "bedrock-runtime.us-gov-west-1.amazonaws.com",
    ],
)
def test_regional_hosts_belong_to_bedrock(host: str) -> None:
    provider = provider_for_host(host)
    assert provider is not None and provider.id == BEDROCK
    assert match_regional_host(host) == BEDROCK


def test_match_regional_host_knows_regions_added_later_and_rejects_lookalikes() -> None:
    assert match_regional_host("bedrock-runtime.xx-future-9.amazonaws.com") == BEDROCK
    assert match_regional_host("polly-fips.ca-central-1.amazonaws.com") == "aws.polly"
    assert match_regional_host("bedrock-runtime.us-east-1.amazonaws.com.evil.com") is None
    assert match_regional_host("bedrock.us-east-1.amazonaws.com") is None  # control plane


# InvokeModel JSON


def test_invoke_prefers_header_counts_and_adds_cache_reads_to_input() -> None:
    body = fixture("aws_bedrock", "invoke_anthropic.json")
    headers = {**TOKEN_HEADERS, "x-amzn-bedrock-output-token-count": "30"}

    result = observe(invoke(), body, request_body=ANTHROPIC_BODY, headers=headers)

    # 14 uncached + 1024 read from the cache; the header's 30 wins over the body's 29.
    assert result.usage == TokenUsage(input_tokens=1038, output_tokens=30, cache_read_tokens=1024)
    assert result.response_id == "msg_bdrk_01Lq8ZtVx3Gm5NcRy7Hp2WkD"
    assert result.finish_reasons == ("end_turn",)
    assert result.response_model is None  # the path's Bedrock id is what is billed
    assert result.problem is None


@pytest.mark.parametrize(
    ("name", "usage", "reasons"),
    [
        ("invoke_anthropic.json", TokenUsage(1038, 29, cache_read_tokens=1024), ("end_turn",)),
        ("invoke_llama.json", TokenUsage(17, 42), ("stop",)),
        ("invoke_titan_embed.json", TokenUsage(7, 0), ()),
        ("invoke_titan_text.json", TokenUsage(11, 23), ("FINISH",)),
        ("invoke_nova.json", TokenUsage(21, 9), ("end_turn",)),
    ],
)
def test_invoke_reads_model_native_usage_when_headers_are_absent(
    name: str, usage: TokenUsage, reasons: tuple[str, ...]
) -> None:
    body = fixture("aws_bedrock", name)

    result = observe(invoke(), body, chunks=random_chunks(body))

    assert (result.usage, result.finish_reasons, result.problem) == (usage, reasons, None)


def test_invoke_without_headers_or_body_usage_says_why() -> None:
    result = observe(
        invoke("mistral.mistral-7b-instruct-v0%3A2"), fixture("aws_bedrock", "invoke_mistral.json")
    )

    assert result.usage is None
    assert result.finish_reasons == ("stop",)
    assert "no x-amzn-bedrock-*-token-count headers" in (result.problem or "")


def test_invoke_uses_headers_when_the_body_is_not_json() -> None:
    result = observe(invoke(), b"\x89PNG not json", content_type="image/png", headers=TOKEN_HEADERS)

    assert result.usage == TokenUsage(1038, 29, cache_read_tokens=1024)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"usage": {"input_tokens": 1',
        b"\xff\xfe{}",
    ],
    ids=["empty", "html", "truncated", "invalid-utf8"],
)
def test_invoke_bad_bodies_without_headers_are_a_problem_not_an_exception(body: bytes) -> None:
    result = observe(invoke(), body)

    assert result.usage is None
    assert result.problem is not None


def test_invoke_invalid_counts_are_a_problem() -> None:
    body = json.dumps({"prompt_token_count": -3, "generation_token_count": 4}).encode()

    result = observe(invoke(), body)

    assert result.usage is None
    assert result.problem is not None and result.problem.startswith("unreadable usage:")


def test_error_document_is_read_by_the_core_path() -> None:
    result = observe(invoke(), fixture("aws_bedrock", "error_validation.json"), status=400)

    assert result.usage is None
    assert result.error_type is None  # the type is in the x-amzn-ErrorType header only


def test_request_body_is_forwarded_untouched() -> None:
    from tests.proxy.providers._services_support import facts

    found = facts(invoke(action="converse-stream"), ANTHROPIC_BODY)

    assert found.body is ANTHROPIC_BODY
    assert (found.model, found.stream, found.usage_injected) == (MODEL, True, False)


# Converse JSON


def test_converse_adds_cache_tokens_to_input() -> None:
    body = fixture("aws_bedrock", "converse.json")

    result = observe(invoke(action="converse"), body, chunks=random_chunks(body, max_size=9))

    # inputTokens 12 excludes the 2048 read from the cache.
    assert result.usage == TokenUsage(input_tokens=2060, output_tokens=48, cache_read_tokens=2048)
    assert result.finish_reasons == ("end_turn",)
    assert result.problem is None


def test_converse_without_usage_says_so() -> None:
    result = observe(invoke(action="converse"), b'{"output": {}, "stopReason": "end_turn"}')

    assert (result.usage, result.problem) == (None, "response has no usage object")


# ConverseStream (binary)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_converse_stream_fixture_in_random_chunks(seed: int) -> None:
    result = observe(
        invoke(action="converse-stream"),
        CONVERSE_STREAM,
        content_type=STREAM,
        chunks=random_chunks(CONVERSE_STREAM, seed=seed, max_size=50),
    )

    assert result.usage == CONVERSE_STREAM_USAGE
    assert result.finish_reasons == ("end_turn",)
    assert (result.problem, result.error_type) == (None, None)


def test_converse_stream_fed_byte_by_byte() -> None:
    pieces = [CONVERSE_STREAM[i : i + 1] for i in range(len(CONVERSE_STREAM))]

    result = observe(
        invoke(action="converse-stream"), CONVERSE_STREAM, content_type=STREAM, chunks=pieces
    )

    assert result.usage == CONVERSE_STREAM_USAGE


def test_converse_stream_fixture_decodes_with_botocore_too() -> None:
    eventstream = pytest.importorskip("botocore.eventstream")
    buffer = eventstream.EventStreamBuffer()
    buffer.add_data(CONVERSE_STREAM)

    theirs = [(m.headers[":event-type"], m.payload) for m in buffer]
    ours = [
        (m.header(":event-type"), m.payload) for m in EventStreamDecoder().feed(CONVERSE_STREAM)
    ]

    assert ours == theirs
    assert [t for t, _ in ours][-1] == "metadata"


def test_converse_stream_cut_mid_message_is_truncated() -> None:
    cut = CONVERSE_STREAM[: len(CONVERSE_STREAM) - 20]

    result = observe(
        invoke(action="converse-stream"), cut, content_type=STREAM, chunks=random_chunks(cut)
    )

    assert result.usage is None
    assert result.problem == "stream ended mid-message (truncated) before its metadata event"


def test_converse_stream_cut_between_messages_is_truncated() -> None:
    messages = EventStreamDecoder().feed(CONVERSE_STREAM)
    without_metadata = b"".join(
        event(m.header(":event-type") or "", json.loads(m.payload)) for m in messages[:-1]
    )

    result = observe(invoke(action="converse-stream"), without_metadata, content_type=STREAM)

    assert result.usage is None
    assert result.finish_reasons == ("end_turn",)
    assert result.problem == "stream ended before its metadata event (truncated)"


@pytest.mark.parametrize(
    ("offset", "what"), [(5, "prelude CRC mismatch"), (40, "message CRC mismatch")]
)
def test_converse_stream_bad_crc_is_a_problem_not_an_exception(offset: int, what: str) -> None:
    corrupt = bytearray(CONVERSE_STREAM)
    corrupt[offset] ^= 0xFF

    result = observe(
        invoke(action="converse-stream"),
        bytes(corrupt),
        content_type=STREAM,
        chunks=random_chunks(bytes(corrupt)),
    )

    assert result.usage is None
    assert result.problem is not None and what in result.problem


def test_converse_stream_skips_unknown_event_types() -> None:
    stream = event("somethingNew", {"x": 1}) + CONVERSE_STREAM + event("laterAddition", [1])

    result = observe(invoke(action="converse-stream"), stream, content_type=STREAM)

    assert (result.usage, result.problem) == (CONVERSE_STREAM_USAGE, None)


def test_converse_stream_exception_sets_the_error_type() -> None:
    messages = EventStreamDecoder().feed(CONVERSE_STREAM)
    stream = b"".join(
        event(m.header(":event-type") or "", json.loads(m.payload)) for m in messages[:2]
    )
    stream += exception("throttlingException", "Too many tokens, please wait before trying again.")

    result = observe(invoke(action="converse-stream"), stream, content_type=STREAM)

    assert result.error_type == "ThrottlingException"
    assert result.usage is None


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>504 Gateway Time-out</html>", b"\xff" * 20],
    ids=["empty", "html", "garbage"],
)
def test_converse_stream_non_stream_bodies_are_a_problem(body: bytes) -> None:
    result = observe(invoke(action="converse-stream"), body, content_type=STREAM)

    assert result.usage is None
    assert result.problem is not None


def test_converse_stream_metadata_with_invalid_utf8_is_a_problem() -> None:
    bad = encode_message(
        {":event-type": "metadata", ":message-type": "event"}, b'{"usage": "\xff"}'
    )

    result = observe(invoke(action="converse-stream"), bad, content_type=STREAM)

    assert (result.usage, result.problem) == (None, "metadata event is not valid JSON")


# InvokeModelWithResponseStream (binary, base64 model events)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_invoke_stream_reads_invocation_metrics_of_the_last_chunk(seed: int) -> None:
    stream = anthropic_stream()

    result = observe(
        invoke(action="invoke-with-response-stream"),
        stream,
        content_type=STREAM,
        chunks=random_chunks(stream, seed=seed, max_size=64),
    )

    assert result.usage == ANTHROPIC_STREAM_USAGE
    assert result.response_id == "msg_bdrk_01"
    assert result.finish_reasons == ("end_turn",)
    assert result.problem is None


def test_invoke_stream_without_metrics_keeps_anthropic_usage_so_far() -> None:
    stream = anthropic_stream(with_metrics=False)
    cut = stream[: stream.rindex(chunk({"type": "message_stop"}))]

    result = observe(invoke(action="invoke-with-response-stream"), cut, content_type=STREAM)

    assert result.usage == ANTHROPIC_STREAM_USAGE
    assert result.problem == (
        "stream ended before the chunk with amazon-bedrock-invocationMetrics (truncated); "
        "usage so far from the model's own events"
    )


def test_invoke_stream_llama_chunks_with_metrics() -> None:
    events = [
        {
            "generation": "Hel",
            "prompt_token_count": 17,
            "generation_token_count": 1,
            "stop_reason": None,
        },
        {
            "generation": "lo",
            "prompt_token_count": None,
            "generation_token_count": 2,
            "stop_reason": "stop",
            "amazon-bedrock-invocationMetrics": {"inputTokenCount": 17, "outputTokenCount": 2},
        },
    ]
    stream = b"".join(chunk(e) for e in events)

    result = observe(
        invoke("meta.llama3-8b-instruct-v1%3A0", "invoke-with-response-stream"),
        stream,
        content_type=STREAM,
    )

    assert (result.usage, result.finish_reasons) == (TokenUsage(17, 2), ("stop",))


def test_invoke_stream_ignores_corrupt_chunks_when_metrics_arrive() -> None:
    bad_base64 = event("chunk", {"bytes": "%%%not base64%%%"})
    bad_utf8 = event("chunk", {"bytes": base64.b64encode(b'{"type": "\xff"}').decode()})
    stream = bad_base64 + bad_utf8 + anthropic_stream()

    result = observe(invoke(action="invoke-with-response-stream"), stream, content_type=STREAM)

    assert (result.usage, result.problem) == (ANTHROPIC_STREAM_USAGE, None)


def test_invoke_stream_model_error_exception_keeps_usage_so_far() -> None:
    stream = anthropic_stream(with_metrics=False)
    stream = stream[: stream.rindex(chunk({"type": "message_stop"}))]
    stream += exception("modelStreamErrorException", "The model stopped responding.")

    result = observe(invoke(action="invoke-with-response-stream"), stream, content_type=STREAM)

    assert result.error_type == "ModelStreamErrorException"
    assert result.usage == ANTHROPIC_STREAM_USAGE


def test_invoke_stream_truncated_mid_frame() -> None:
    stream = anthropic_stream()[:-7]

    result = observe(invoke(action="invoke-with-response-stream"), stream, content_type=STREAM)

    assert result.problem is not None and "truncated" in result.problem


# Through a real proxy


def test_converse_and_converse_stream_through_the_proxy(start_proxy) -> None:
    converse_path = f"/model/{ENCODED}/converse"
    stream_path = f"/model/{ENCODED}/converse-stream"
    replies = {
        ("POST", converse_path): Reply(fixture("aws_bedrock", "converse.json")),
        ("POST", stream_path): Reply(CONVERSE_STREAM, headers={"content-type": STREAM}, piece=17),
    }
    with fake_upstream(replies) as (url, upstream):
        proxy = start_proxy(upstream_overrides={HOST: url})
        request = b'{"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}'
        first = httpx.post(f"{proxy.url}/bedrock{converse_path}", content=request)
        second = httpx.post(f"{proxy.url}/bedrock{stream_path}", content=request)

    assert first.status_code == second.status_code == 200
    assert second.content == CONVERSE_STREAM  # binary frames reach the client unchanged
    assert [r.path for r in upstream.received] == [converse_path, stream_path]  # %3A kept
    assert all(r.body == request for r in upstream.received)  # signed bodies untouched
    spans = sorted(proxy.spans(2), key=lambda s: GEN_AI_REQUEST_STREAM in s.attributes)
    assert [s.name for s in spans] == [f"chat {MODEL}"] * 2
    converse, stream = (s.attributes for s in spans)
    assert converse[GEN_AI_PROVIDER_NAME] == BEDROCK
    assert (converse[GEN_AI_OPERATION_NAME], converse[GEN_AI_REQUEST_MODEL]) == ("chat", MODEL)
    assert (converse[GEN_AI_USAGE_INPUT_TOKENS], converse[GEN_AI_USAGE_OUTPUT_TOKENS]) == (2060, 48)
    assert converse[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2048
    assert stream[GEN_AI_REQUEST_STREAM] is True
    assert (stream[GEN_AI_USAGE_INPUT_TOKENS], stream[GEN_AI_USAGE_OUTPUT_TOKENS]) == (1225, 61)
    assert stream[GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 1200
    for attributes in (converse, stream):
        assert attributes[LLMOBSERVE_COST_STATUS] in ("priced", "unknown_model")


def test_invoke_with_token_headers_through_the_proxy(start_proxy) -> None:
    path = f"/model/{ENCODED}/invoke"
    reply = Reply(
        fixture("aws_bedrock", "invoke_anthropic.json"),
        headers={"content-type": "application/json", **TOKEN_HEADERS},
    )
    with fake_upstream({("POST", path): reply}) as (url, _):
        proxy = start_proxy(upstream_overrides={HOST: url})
        response = httpx.post(
            f"{proxy.url}{path}",
            content=ANTHROPIC_BODY,
            headers={"X-LLMObserve-Target-URL": f"https://{HOST}{path}"},
        )

    assert response.status_code == 200
    assert response.headers["x-amzn-bedrock-input-token-count"] == "14"
    attributes = proxy.span().attributes
    assert (attributes[GEN_AI_USAGE_INPUT_TOKENS], attributes[GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        1038,
        29,
    )
    assert attributes[LLMOBSERVE_COST_STATUS] in ("priced", "unknown_model")
