"""Gemini API and Vertex AI: model in the URL, thoughts outside candidates, three body shapes."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest

from pricing import TokenUsage
from proxy.providers.base import RequestFacts
from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.llm.gemini import JsonArrayReader
from proxy.providers.usage import ResponseObserver
from tests.proxy.providers._llm_support import (
    HTML_ERROR_PAGE,
    JSON,
    SSE,
    endpoint_for,
    facts_for,
    fixture,
    observe,
    random_chunks,
)

GEMINI = "gcp.gemini"
VERTEX = "gcp.vertex_ai"
GENERATE = endpoint_for(GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent")
STREAM = endpoint_for(GEMINI, "/v1beta/models/gemini-2.0-flash:streamGenerateContent")
EMBED = endpoint_for(GEMINI, "/v1beta/models/gemini-embedding-001:embedContent")
SSE_BODY = fixture("gemini/stream_generate_content.txt")
ARRAY_BODY = fixture("gemini/stream_generate_content_array.json")
STREAM_USAGE = TokenUsage(input_tokens=8, output_tokens=31)
VERTEX_PATH = (
    "/v1/projects/my-project/locations/us-central1/publishers/google/models/"
    "gemini-2.5-pro:generateContent"
)


def _stream_request() -> RequestFacts:
    return facts_for(STREAM, b'{"contents": [{"parts": [{"text": "Tell me a story"}]}]}')


# Detection


@pytest.mark.parametrize(
    ("path", "model", "stream"),
    [
        ("/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash", None),
        ("/v1/models/gemini-2.0-flash:streamGenerateContent", "gemini-2.0-flash", True),
        ("/v1beta/models/gemini-2.5-flash%3AgenerateContent", "gemini-2.5-flash", None),
        ("/v1beta/tunedModels/my-tune-42:generateContent", "tunedModels/my-tune-42", None),
    ],
)
def test_detect_endpoint_reads_gemini_model_from_url(
    path: str, model: str, stream: bool | None
) -> None:
    endpoint = detect_endpoint(GEMINI, "POST", path)

    assert endpoint is not None
    assert (endpoint.operation, endpoint.model, endpoint.stream) == (
        "generate_content",
        model,
        stream,
    )


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta/models/gemini-2.5-flash:countTokens",
        "/v1beta/models/gemini-2.5-flash",
        "/v1beta/cachedContents",
        "/v1beta/models/gemini-2.5-flash:unknownMethod",
    ],
)
def test_detect_endpoint_leaves_free_gemini_calls_unmetered(path: str) -> None:
    assert detect_endpoint(GEMINI, "POST", path) is None


def test_detect_endpoint_finds_gemini_openai_surface() -> None:
    endpoint = detect_endpoint(GEMINI, "POST", "/v1beta/openai/chat/completions")

    assert endpoint is not None
    assert endpoint.wire_format == "gemini_openai_chat"


@pytest.mark.parametrize(
    "host", ["us-central1-aiplatform.googleapis.com", "europe-west4-aiplatform.googleapis.com"]
)
def test_provider_for_host_finds_vertex_regions(host: str) -> None:
    provider = provider_for_host(host)

    assert provider is not None
    assert provider.id == VERTEX


@pytest.mark.parametrize(
    ("path", "model", "wire_format", "stream"),
    [
        (VERTEX_PATH, "gemini-2.5-pro", "gemini_generate_content", None),
        (
            "/v1beta1/projects/p/locations/global/publishers/google/models/"
            "gemini-2.0-flash-001:streamGenerateContent",
            "gemini-2.0-flash-001",
            "gemini_generate_content",
            True,
        ),
        (
            "/v1/publishers/google/models/gemini-2.5-flash:generateContent",
            "gemini-2.5-flash",
            "gemini_generate_content",
            None,
        ),
        (
            "/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
            "claude-sonnet-4@20250514:streamRawPredict",
            "claude-sonnet-4@20250514",
            "vertex_anthropic_messages",
            True,
        ),
    ],
)
def test_detect_endpoint_reads_vertex_model_from_url(
    path: str, model: str, wire_format: str, stream: bool | None
) -> None:
    endpoint = detect_endpoint(VERTEX, "POST", path)

    assert endpoint is not None
    assert (endpoint.model, endpoint.wire_format, endpoint.stream) == (model, wire_format, stream)


def test_detect_endpoint_finds_vertex_openai_endpoint() -> None:
    path = "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions"

    endpoint = detect_endpoint(VERTEX, "POST", path)

    assert endpoint is not None
    assert endpoint.wire_format == "openai_compatible_chat"


# JSON


def test_generate_content_adds_thoughts_to_output_and_keeps_cached_inside_input() -> None:
    request = facts_for(GENERATE, b'{"contents": []}')

    result = observe(GENERATE, fixture("gemini/generate_content.json"), request=request)

    assert request.model == "gemini-2.5-flash"
    assert result.usage == TokenUsage(
        input_tokens=2140, output_tokens=24 + 819, cache_read_tokens=2048, reasoning_tokens=819
    )
    assert result.response_model == "gemini-2.5-flash"
    assert result.response_id == "mX1vaPq2Ht3rz7IP9N2t8Qk"
    assert result.finish_reasons == ("STOP",)
    assert result.problem is None


def test_vertex_generate_content_reads_the_same_usage() -> None:
    endpoint = endpoint_for(VERTEX, VERTEX_PATH)

    result = observe(endpoint, fixture("vertex/generate_content.json"))

    assert result.usage == TokenUsage(input_tokens=9, output_tokens=59, reasoning_tokens=48)
    assert result.response_model == "gemini-2.5-pro"


def test_tool_use_prompt_tokens_are_input() -> None:
    document = json.loads(fixture("gemini/generate_content.json"))
    document["usageMetadata"]["toolUsePromptTokenCount"] = 150

    result = observe(GENERATE, json.dumps(document).encode())

    assert result.usage is not None
    assert result.usage.input_tokens == 2140 + 150


def test_error_status_reads_google_status() -> None:
    result = observe(GENERATE, fixture("gemini/error_rate_limit.json"), status=429)

    assert result.error_type == "RESOURCE_EXHAUSTED"


# SSE (`?alt=sse`)


@pytest.mark.parametrize("seed", range(5))
def test_sse_stream_keeps_the_last_running_total(seed: int) -> None:
    result = observe(STREAM, SSE_BODY, content_type=SSE, request=_stream_request(), seed=seed)

    assert result.usage == STREAM_USAGE
    assert result.response_model == "gemini-2.0-flash"
    assert result.finish_reasons == ("STOP",)
    assert result.problem is None


def test_sse_stream_cut_before_the_last_chunk_keeps_usage_so_far_and_says_so() -> None:
    cut = SSE_BODY.rindex(b"data: ")

    result = observe(STREAM, SSE_BODY[:cut], content_type=SSE, request=_stream_request())

    assert result.usage == TokenUsage(input_tokens=8, output_tokens=12)
    assert result.problem is not None
    assert "truncated" in result.problem


def test_sse_stream_ignores_unknown_events_and_comments() -> None:
    extra = b': ping\n\nevent: unknown\ndata: {"something": "else"}\n\n'

    result = observe(STREAM, extra + SSE_BODY, content_type=SSE, request=_stream_request())

    assert result.usage == STREAM_USAGE


# JSON array streamed without `alt=sse`


@pytest.mark.parametrize("seed", range(10))
def test_json_array_stream_is_read_element_by_element_for_any_chunking(seed: int) -> None:
    result = observe(STREAM, ARRAY_BODY, content_type=JSON, request=_stream_request(), seed=seed)

    assert result.usage == STREAM_USAGE
    assert result.response_model == "gemini-2.0-flash"
    assert result.finish_reasons == ("STOP",)
    assert result.problem is None


def test_json_array_stream_fed_byte_by_byte_handles_brackets_and_quotes_in_text() -> None:
    reader = JsonArrayReader()
    for index in range(len(ARRAY_BODY)):
        reader.feed(ARRAY_BODY[index : index + 1])

    assert reader.result().usage == STREAM_USAGE


def test_json_array_stream_cut_mid_element_keeps_usage_of_complete_elements() -> None:
    cut = ARRAY_BODY.rindex(b'"candidates"')

    result = observe(STREAM, ARRAY_BODY[:cut], content_type=JSON, request=_stream_request())

    assert result.usage == TokenUsage(input_tokens=8, output_tokens=12)
    assert result.problem == "stream ended before its last chunk (truncated); usage so far"


def test_json_array_stream_is_read_after_gzip_decoding() -> None:
    observer = ResponseObserver(
        STREAM,
        status=200,
        content_type=JSON,
        content_encoding="gzip",
        request=_stream_request(),
        headers={},
    )
    for chunk in random_chunks(gzip.compress(ARRAY_BODY), max_size=16):
        observer.feed(chunk)

    assert observer.finish()[1].usage == STREAM_USAGE


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", JSON),
        (HTML_ERROR_PAGE, "text/html"),
        (b'[{"candidates": [', JSON),
        (b"", SSE),
        (b"data: {broken\n\n", SSE),
    ],
)
def test_bad_stream_bodies_give_a_problem(body: bytes, content_type: str) -> None:
    result = observe(STREAM, body, content_type=content_type, request=_stream_request())

    assert result.usage is None
    assert result.problem


def test_json_array_chunk_with_invalid_utf8_is_skipped_and_the_problem_kept() -> None:
    body = ARRAY_BODY.replace(b"Once upon", b"Once \xff\xfe")

    result = observe(STREAM, body, content_type=JSON, request=_stream_request())

    assert result.usage == STREAM_USAGE  # later chunks carry the running total
    assert result.problem == "stream carried a chunk that is not valid JSON"


# Embeddings


def test_embed_content_counts_request_characters_when_the_response_has_no_tokens() -> None:
    body = b'{"content": {"parts": [{"text": "What is the meaning of life?"}]}}'
    request = facts_for(EMBED, body)

    result = observe(EMBED, fixture("gemini/embed_content.json"), request=request)

    assert request.model == "gemini-embedding-001"
    assert result.usage is None
    assert result.units == {"characters": Decimal(28)}
    assert result.problem is not None


def test_batch_embed_contents_counts_every_request() -> None:
    endpoint = endpoint_for(GEMINI, "/v1beta/models/text-embedding-004:batchEmbedContents")
    body = json.dumps(
        {
            "requests": [
                {"content": {"parts": [{"text": "abc"}]}},
                {"content": {"parts": [{"text": "de"}]}},
            ]
        }
    ).encode()

    assert facts_for(endpoint, body).units == {"characters": Decimal(5)}


# Claude on Vertex


def test_vertex_stream_raw_predict_is_read_as_anthropic_messages() -> None:
    path = (
        "/v1/projects/p/locations/us-east5/publishers/anthropic/models/"
        "claude-sonnet-4@20250514:streamRawPredict"
    )
    endpoint = endpoint_for(VERTEX, path)
    request = facts_for(endpoint, b'{"anthropic_version": "vertex-2023-10-16", "stream": true}')

    result = observe(
        endpoint, fixture("vertex/stream_raw_predict.txt"), content_type=SSE, request=request
    )

    assert request.model == "claude-sonnet-4@20250514"
    assert result.usage == TokenUsage(input_tokens=21, output_tokens=5)
    assert result.response_model == "claude-sonnet-4-20250514"
