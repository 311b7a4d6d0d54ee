"""The OpenAI-compatible family, read by one parser with small per-provider hooks: Groq,
DeepSeek, xAI, OpenRouter, Perplexity, Mistral, Together, Fireworks, Cerebras, AI21, Hugging
Face, and self-hosted servers (vLLM, Ollama, LM Studio) on hosts the user declares."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pricing import TokenUsage
from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.llm import OPENAI_COMPATIBLE
from tests.proxy.providers._llm_support import (
    HTML_ERROR_PAGE,
    SSE,
    endpoint_for,
    facts_for,
    fixture,
    observe,
)

HELLO = b'{"model": "m", "messages": [{"role": "user", "content": "Hello"}], "stream": true}'


@pytest.mark.parametrize(
    ("host", "provider", "path"),
    [
        ("api.mistral.ai", "mistral_ai", "/v1/chat/completions"),
        ("codestral.mistral.ai", "mistral_ai", "/v1/fim/completions"),
        ("api.groq.com", "groq", "/openai/v1/chat/completions"),
        ("api.ai21.com", "ai21", "/studio/v1/chat/completions"),
        ("router.huggingface.co", "huggingface", "/v1/chat/completions"),
        ("router.huggingface.co", "huggingface", "/novita/v3/openai/chat/completions"),
        (
            "my-endpoint.us-east-1.aws.endpoints.huggingface.cloud",
            "huggingface",
            "/v1/chat/completions",
        ),
        ("api.together.xyz", "together", "/v1/chat/completions"),
        ("api.together.ai", "together", "/v1/completions"),
        ("api.perplexity.ai", "perplexity", "/chat/completions"),
        ("api.deepseek.com", "deepseek", "/chat/completions"),
        ("api.deepseek.com", "deepseek", "/v1/chat/completions"),
        ("api.x.ai", "x_ai", "/v1/chat/completions"),
        ("api.fireworks.ai", "fireworks", "/inference/v1/chat/completions"),
        ("openrouter.ai", "openrouter", "/api/v1/chat/completions"),
        ("api.cerebras.ai", "cerebras", "/v1/chat/completions"),
    ],
)
def test_host_and_path_find_the_provider_and_a_chat_or_completion_endpoint(
    host: str, provider: str, path: str
) -> None:
    found = provider_for_host(host)

    assert found is not None and found.id == provider
    endpoint = detect_endpoint(provider, "POST", path)
    assert endpoint is not None
    assert endpoint.operation in ("chat", "text_completion")


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("groq", "/v1/chat/completions"),  # Groq serves OpenAI paths under /openai
        ("fireworks", "/v1/chat/completions"),
        ("openrouter", "/v1/chat/completions"),
        ("ai21", "/v1/chat/completions"),
        ("mistral_ai", "/v1/models"),
        ("deepseek", "/user/balance"),
    ],
)
def test_wrong_prefix_is_not_metered(provider: str, path: str) -> None:
    assert detect_endpoint(provider, "POST", path) is None


@pytest.mark.parametrize(
    ("provider", "path", "inject"),
    [
        ("deepseek", "/chat/completions", True),  # documents stream_options.include_usage
        ("openai_compatible", "/v1/chat/completions", True),
        ("mistral_ai", "/v1/chat/completions", False),  # 422 on unknown fields
        ("groq", "/openai/v1/chat/completions", False),  # reports x_groq.usage anyway
        ("x_ai", "/v1/chat/completions", False),  # reports usage in every chunk
        ("openrouter", "/api/v1/chat/completions", False),  # always reports usage
    ],
)
def test_stream_usage_is_asked_for_only_where_the_option_is_documented(
    provider: str, path: str, inject: bool
) -> None:
    endpoint = endpoint_for(provider, path)

    assert endpoint.stream_usage_opt_in is inject
    assert facts_for(endpoint, HELLO).usage_injected is inject


def test_hugging_face_legacy_path_names_the_model() -> None:
    path = "/models/meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions"

    endpoint = endpoint_for("huggingface", path)

    assert endpoint.model == "meta-llama/Llama-3.1-8B-Instruct"


# Groq


def test_groq_json_reads_openai_usage() -> None:
    result = observe(
        endpoint_for("groq", "/openai/v1/chat/completions"), fixture("groq/chat_completion.json")
    )

    assert result.usage == TokenUsage(input_tokens=18, output_tokens=7)
    assert result.response_model == "llama-3.3-70b-versatile"


@pytest.mark.parametrize("seed", range(4))
def test_groq_stream_reads_x_groq_usage(seed: int) -> None:
    endpoint = endpoint_for("groq", "/openai/v1/chat/completions")

    result = observe(
        endpoint, fixture("groq/chat_completion_stream.txt"), content_type=SSE, seed=seed
    )

    assert result.usage == TokenUsage(input_tokens=36, output_tokens=2)
    assert result.response_model == "llama-3.1-8b-instant"
    assert result.problem is None


@pytest.mark.parametrize(
    "path", ["/openai/v1/responses", "/openai/v1/audio/transcriptions", "/openai/v1/audio/speech"]
)
def test_groq_serves_openai_responses_and_audio_paths(path: str) -> None:
    assert detect_endpoint("groq", "POST", path) is not None


# DeepSeek


def test_deepseek_json_reads_cache_hit_tokens_inside_prompt_tokens() -> None:
    result = observe(
        endpoint_for("deepseek", "/chat/completions"), fixture("deepseek/chat_completion.json")
    )

    assert result.usage == TokenUsage(input_tokens=1616, output_tokens=10, cache_read_tokens=1536)


def test_deepseek_reads_cache_hits_without_openai_details() -> None:
    document = json.loads(fixture("deepseek/chat_completion.json"))
    del document["usage"]["prompt_tokens_details"]

    result = observe(endpoint_for("deepseek", "/chat/completions"), json.dumps(document).encode())

    assert result.usage is not None
    assert result.usage.cache_read_tokens == 1536


def test_deepseek_stream_reads_reasoning_inside_completion_tokens() -> None:
    endpoint = endpoint_for("deepseek", "/chat/completions")

    result = observe(endpoint, fixture("deepseek/chat_completion_stream.txt"), content_type=SSE)

    assert result.usage == TokenUsage(input_tokens=12, output_tokens=48, reasoning_tokens=41)
    assert result.response_model == "deepseek-reasoner"


# xAI


def test_xai_adds_reasoning_to_completion_tokens_and_reads_cost_ticks() -> None:
    result = observe(
        endpoint_for("x_ai", "/v1/chat/completions"), fixture("xai/chat_completion.json")
    )

    assert result.usage == TokenUsage(
        input_tokens=32, output_tokens=9 + 94, cache_read_tokens=6, reasoning_tokens=94
    )
    assert result.reported_cost == Decimal("0.0000053")


def test_xai_stream_keeps_the_last_cumulative_usage() -> None:
    endpoint = endpoint_for("x_ai", "/v1/chat/completions")

    result = observe(endpoint, fixture("xai/chat_completion_stream.txt"), content_type=SSE)

    assert result.usage == TokenUsage(input_tokens=38, output_tokens=7)


# OpenRouter and Perplexity report their own cost


def test_openrouter_json_reads_cost_and_cache_write_tokens() -> None:
    endpoint = endpoint_for("openrouter", "/api/v1/chat/completions")

    result = observe(endpoint, fixture("openrouter/chat_completion.json"))

    assert result.usage == TokenUsage(
        input_tokens=2194, output_tokens=12, cache_read_tokens=1024, cache_write_tokens=1000
    )
    assert result.reported_cost == Decimal("0.0004472")
    assert result.response_model == "anthropic/claude-3.5-haiku"


def test_openrouter_byok_cost_adds_the_upstream_charge_to_the_fee() -> None:
    # BYOK: `cost` is OpenRouter's 5% fee (0.000108); the provider bills the 0.00216 upstream
    # cost (1200 * $0.80/M + 300 * $4/M) to the caller's key: 0.000108 + 0.00216 = 0.002268.
    endpoint = endpoint_for("openrouter", "/api/v1/chat/completions")

    result = observe(endpoint, fixture("openrouter/chat_completion_byok.json"))

    assert result.reported_cost == Decimal("0.002268")


def test_openrouter_non_byok_cost_is_not_doubled_by_its_upstream_copy() -> None:
    # Credit-paid calls repeat `cost` in `upstream_inference_cost`: it is the same charge.
    document = json.loads(fixture("openrouter/chat_completion.json"))
    document["usage"]["cost_details"] = {"upstream_inference_cost": 0.0004472}
    endpoint = endpoint_for("openrouter", "/api/v1/chat/completions")

    result = observe(endpoint, json.dumps(document).encode())

    assert result.reported_cost == Decimal("0.0004472")


def test_openrouter_stream_skips_processing_comments_and_reads_cost() -> None:
    endpoint = endpoint_for("openrouter", "/api/v1/chat/completions")

    result = observe(endpoint, fixture("openrouter/chat_completion_stream.txt"), content_type=SSE)

    assert result.usage == TokenUsage(input_tokens=14, output_tokens=2)
    assert result.reported_cost == Decimal("0.0000033")


def test_perplexity_reads_total_cost() -> None:
    result = observe(
        endpoint_for("perplexity", "/chat/completions"), fixture("perplexity/chat_completion.json")
    )

    assert result.usage == TokenUsage(input_tokens=14, output_tokens=210)
    assert result.reported_cost == Decimal("0.009192")
    assert result.response_model == "sonar-pro"


# Mistral and the plain ones


def test_mistral_stream_reads_usage_of_the_last_chunk_without_being_asked() -> None:
    endpoint = endpoint_for("mistral_ai", "/v1/chat/completions")

    result = observe(endpoint, fixture("mistral/chat_completion_stream.txt"), content_type=SSE)

    assert result.usage == TokenUsage(input_tokens=10, output_tokens=3)
    assert result.finish_reasons == ("stop",)


@pytest.mark.parametrize(
    ("provider", "path", "name", "usage"),
    [
        ("mistral_ai", "/v1/chat/completions", "mistral/chat_completion.json", (16, 18)),
        ("together", "/v1/chat/completions", "together/chat_completion.json", (42, 4)),
        ("fireworks", "/inference/v1/chat/completions", "fireworks/chat_completion.json", (21, 2)),
        ("cerebras", "/v1/chat/completions", "cerebras/chat_completion.json", (12, 7)),
        ("ai21", "/studio/v1/chat/completions", "ai21/chat_completion.json", (36, 11)),
        ("huggingface", "/v1/chat/completions", "huggingface/chat_completion.json", (45, 8)),
    ],
)
def test_openai_shaped_json_is_read_by_the_shared_parser(
    provider: str, path: str, name: str, usage: tuple[int, int]
) -> None:
    result = observe(endpoint_for(provider, path), fixture(name))

    assert result.usage == TokenUsage(input_tokens=usage[0], output_tokens=usage[1])
    assert result.problem is None


# Self-hosted servers on declared hosts


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"])
def test_self_hosted_openai_paths_are_metered(path: str) -> None:
    assert detect_endpoint(OPENAI_COMPATIBLE, "POST", path) is not None


@pytest.mark.parametrize("path", ["/api/chat", "/api/generate", "/v1/models", "/health"])
def test_self_hosted_native_paths_are_not(path: str) -> None:
    assert detect_endpoint(OPENAI_COMPATIBLE, "POST", path) is None


# Bad input


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("groq", "/openai/v1/chat/completions"),
        ("deepseek", "/chat/completions"),
        ("x_ai", "/v1/chat/completions"),
        ("openrouter", "/api/v1/chat/completions"),
        ("perplexity", "/chat/completions"),
    ],
)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),
        (HTML_ERROR_PAGE, "text/html"),
        (b'{"usage": {"prompt_tokens": "\xff"}}', "application/json"),
        (b"", SSE),
        (b'data: {"id":"x","model":"m","choices":[{"delta":{"content":"\xff"}}]}\n\n', SSE),
        (b"event: unknown\ndata: {}\n\n", SSE),
    ],
)
def test_bad_bodies_give_a_problem(
    provider: str, path: str, body: bytes, content_type: str
) -> None:
    result = observe(endpoint_for(provider, path), body, content_type=content_type)

    assert result.usage is None
    assert result.problem
