"""Azure OpenAI: deployment URLs, the v1 API, the model from the response, the first chunk."""

from __future__ import annotations

import json

import pytest

from pricing import TokenUsage
from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from tests.proxy.providers._llm_support import (
    HTML_ERROR_PAGE,
    SSE,
    endpoint_for,
    facts_for,
    fixture,
    observe,
)

AZURE = "azure.ai.openai"
DEPLOYMENT = endpoint_for(AZURE, "/openai/deployments/prod-gpt4o/chat/completions")
STREAM = fixture("azure_openai/chat_completion_stream.txt")


@pytest.mark.parametrize(
    "host",
    ["acme.openai.azure.com", "acme.cognitiveservices.azure.com", "acme.services.ai.azure.com"],
)
def test_provider_for_host_finds_azure_resources(host: str) -> None:
    provider = provider_for_host(host)

    assert provider is not None
    assert provider.id == AZURE


@pytest.mark.parametrize(
    ("path", "operation", "wire_format"),
    [
        ("/openai/deployments/prod-gpt4o/chat/completions", "chat", "openai_completions"),
        ("/openai/deployments/prod-gpt4o/completions", "text_completion", "openai_completions"),
        ("/openai/deployments/emb/embeddings", "embeddings", "openai_embeddings"),
        ("/openai/deployments/dalle3/images/generations", "image_generation", "openai_images"),
        (
            "/openai/deployments/whisper/audio/transcriptions",
            "transcription",
            "openai_transcription",
        ),
        ("/openai/deployments/whisper/audio/translations", "translation", "openai_transcription"),
        ("/openai/deployments/tts/audio/speech", "speech", "openai_speech"),
    ],
)
def test_detect_endpoint_reads_deployment_urls(path: str, operation: str, wire_format: str) -> None:
    endpoint = detect_endpoint(AZURE, "POST", path)

    assert endpoint is not None
    assert (endpoint.operation, endpoint.wire_format) == (operation, wire_format)
    assert endpoint.model == path.split("/")[3]


def test_detect_endpoint_never_injects_stream_options_into_dated_api_calls() -> None:
    # Older api-versions reject `stream_options`; the query string is not visible here.
    assert not DEPLOYMENT.stream_usage_opt_in


@pytest.mark.parametrize(
    ("path", "inject"),
    [
        ("/openai/v1/chat/completions", True),
        ("/openai/v1/responses", False),
        ("/openai/v1/embeddings", False),
        ("/openai/responses", False),
        ("/models/chat/completions", False),
    ],
)
def test_detect_endpoint_reads_v1_and_foundry_paths(path: str, inject: bool) -> None:
    endpoint = detect_endpoint(AZURE, "POST", path)

    assert endpoint is not None
    assert endpoint.model is None
    assert endpoint.stream_usage_opt_in is inject


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/openai/deployments/prod/chat/completions"),
        ("POST", "/openai/deployments/prod/fine_tuning/jobs"),
        ("POST", "/openai/deployments"),
        ("GET", "/openai/models"),
    ],
)
def test_detect_endpoint_is_none_for_other_azure_paths(method: str, path: str) -> None:
    assert detect_endpoint(AZURE, method, path) is None


def test_request_model_is_the_deployment_when_the_body_names_none() -> None:
    request = facts_for(DEPLOYMENT, json.dumps({"messages": []}).encode())

    assert request.model == "prod-gpt4o"


def test_json_response_names_the_real_model_and_cached_tokens() -> None:
    result = observe(DEPLOYMENT, fixture("azure_openai/chat_completion.json"))

    assert result.response_model == "gpt-4o-2024-11-20"
    assert result.usage == TokenUsage(input_tokens=1290, output_tokens=10, cache_read_tokens=1152)
    assert result.finish_reasons == ("stop",)


@pytest.mark.parametrize("seed", range(4))
def test_stream_skips_the_empty_first_chunk_and_reads_the_usage_chunk(seed: int) -> None:
    result = observe(DEPLOYMENT, STREAM, content_type=SSE, seed=seed)

    assert result.response_model == "gpt-4o-mini-2024-07-18"  # not the first chunk's ""
    assert result.response_id == "chatcmpl-BqBc3zA4bY5xW6vU7tS8rQ9pO0nM"
    assert result.usage == TokenUsage(input_tokens=9, output_tokens=3)
    assert result.problem is None


def test_stream_without_usage_chunk_says_so() -> None:
    cut = STREAM.index(b'data: {"choices":[],"created":1751891100')

    result = observe(DEPLOYMENT, STREAM[:cut] + b"data: [DONE]\n\n", content_type=SSE)

    assert result.usage is None
    assert result.problem == "stream reported no usage"


@pytest.mark.parametrize("body", [b"", HTML_ERROR_PAGE, b'{"id": "\xff"}'])
def test_bad_bodies_give_a_problem(body: bytes) -> None:
    result = observe(DEPLOYMENT, body)

    assert result.usage is None
    assert result.problem
