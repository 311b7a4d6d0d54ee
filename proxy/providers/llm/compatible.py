"""The OpenAI-compatible family: one parser (`proxy.providers.openai.ChatCompletions`), small
hooks (`Dialect`) where a provider's usage departs from OpenAI's, and where each one serves it.

Hooks, per provider documentation:
- Groq: streams put usage in the last chunk's `x_groq.usage`
  (https://console.groq.com/docs/api-reference#chat-create; groq-python `types/chat`).
- DeepSeek: `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens` = `prompt_tokens`
  (https://api-docs.deepseek.com/guides/kv_cache).
- xAI: `completion_tokens_details.reasoning_tokens` are NOT in `completion_tokens` (they are in
  `total_tokens`), so output = completion + reasoning
  (https://docs.x.ai/docs/key-information/consumption-and-rate-limits); `cost_in_usd_ticks` is
  the price in 1e-10 USD. Streams repeat the running usage in every chunk: the last wins.
- OpenRouter: `usage.cost` (USD) and `prompt_tokens_details.cache_write_tokens`
  (https://openrouter.ai/docs/use-cases/usage-accounting).
- Perplexity: `usage.cost.total_cost` (USD) (https://docs.perplexity.ai/getting-started/pricing).
- Gemini's OpenAI surface: `completion_tokens` leaves thinking out while `total_tokens` counts
  it; the difference is output (https://ai.google.dev/gemini-api/docs/openai).
Which hosts accept `stream_options` decides `inject`: Mistral rejects unknown fields with 422
(https://docs.mistral.ai/api/#tag/chat - it reports usage in the last chunk anyway), so the
proxy asks for stream usage only where the provider documents the option.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import unquote

from pricing import TokenUsage
from proxy.providers.base import Endpoint
from proxy.providers.llm._common import detector, quantity, reported_cost
from proxy.providers.llm._names import (
    CHAT,
    COMPATIBLE_CHAT,
    DEEPSEEK_CHAT,
    EMBEDDINGS,
    GEMINI_OPENAI_CHAT,
    GROQ_CHAT,
    OPENAI_EMBEDDINGS,
    OPENROUTER_CHAT,
    PERPLEXITY_CHAT,
    TEXT_COMPLETION,
    XAI_CHAT,
)
from proxy.providers.llm.openai_api import openai_paths
from proxy.providers.openai import ChatCompletions, Dialect, read_usage, top_level_usage
from proxy.providers.result import UsageError, mapping, token_count

_XAI_TICKS_PER_USD = Decimal(10) ** 10


def groq_usage(body: Mapping[str, object]) -> Mapping[str, object] | None:
    return top_level_usage(body) or mapping((mapping(body.get("x_groq")) or {}).get("usage"))


def deepseek_tokens(usage: Mapping[str, object]) -> TokenUsage:
    tokens = read_usage(usage)
    hits = token_count(usage, "prompt_cache_hit_tokens")
    if hits > tokens.input_tokens:
        raise UsageError(f"prompt_cache_hit_tokens ({hits}) exceed prompt_tokens")
    cached = max(hits, tokens.cache_read_tokens)
    return TokenUsage(tokens.input_tokens, tokens.output_tokens, cached, 0, tokens.reasoning_tokens)


def xai_tokens(usage: Mapping[str, object]) -> TokenUsage:
    tokens = read_usage(usage)
    reasoning = tokens.reasoning_tokens
    return TokenUsage(
        tokens.input_tokens,
        tokens.output_tokens + reasoning,
        tokens.cache_read_tokens,
        0,
        reasoning,
    )


def xai_cost(usage: Mapping[str, object]) -> Decimal | None:
    ticks = quantity(usage.get("cost_in_usd_ticks"))
    return ticks / _XAI_TICKS_PER_USD if ticks is not None else None


def openrouter_tokens(usage: Mapping[str, object]) -> TokenUsage:
    tokens = read_usage(usage)
    details = mapping(usage.get("prompt_tokens_details")) or {}
    written = token_count(details, "cache_write_tokens")
    if written + tokens.cache_read_tokens > tokens.input_tokens:
        raise UsageError("cache read and write tokens exceed prompt_tokens")
    return TokenUsage(
        tokens.input_tokens,
        tokens.output_tokens,
        tokens.cache_read_tokens,
        written,
        tokens.reasoning_tokens,
    )


def gemini_openai_tokens(usage: Mapping[str, object]) -> TokenUsage:
    tokens = read_usage(usage)
    total = token_count(usage, "total_tokens")
    thinking = total - tokens.input_tokens - tokens.output_tokens
    if thinking <= 0:
        return tokens
    return TokenUsage(
        tokens.input_tokens, tokens.output_tokens + thinking, tokens.cache_read_tokens, 0, thinking
    )


WIRE_FORMATS = {
    COMPATIBLE_CHAT: ChatCompletions(),
    GROQ_CHAT: ChatCompletions(Dialect(usage=groq_usage)),
    DEEPSEEK_CHAT: ChatCompletions(Dialect(tokens=deepseek_tokens)),
    XAI_CHAT: ChatCompletions(Dialect(tokens=xai_tokens, cost=xai_cost)),
    OPENROUTER_CHAT: ChatCompletions(Dialect(tokens=openrouter_tokens, cost=reported_cost)),
    PERPLEXITY_CHAT: ChatCompletions(Dialect(cost=reported_cost)),
    GEMINI_OPENAI_CHAT: ChatCompletions(Dialect(tokens=gemini_openai_tokens)),
}

_BASIC = frozenset({"chat", "completions", "embeddings"})


def family(
    prefix: str,
    chat_wire: str = COMPATIBLE_CHAT,
    *,
    inject: bool = False,
    kinds: frozenset[str] = _BASIC,
) -> dict[tuple[str, str], Endpoint]:
    """Chat (with `chat_wire`), completions and embeddings under `prefix`."""
    table = openai_paths(prefix, chat_wire=chat_wire, inject=inject, kinds=kinds)
    completion = ("POST", f"{prefix}/completions")
    if completion in table:  # completions share the chat dialect (DeepSeek cache fields, ...)
        table[completion] = Endpoint(TEXT_COMPLETION, chat_wire, stream_usage_opt_in=inject)
    return table


DETECT_MISTRAL = detector(
    {
        **family("/v1"),
        # Codestral fill-in-the-middle: a completion with chat-shaped usage.
        ("POST", "/v1/fim/completions"): Endpoint(TEXT_COMPLETION, COMPATIBLE_CHAT),
    }
)
DETECT_AI21 = detector(family("/studio/v1", kinds=frozenset({"chat"})))
DETECT_TOGETHER = detector(family("/v1"))
DETECT_FIREWORKS = detector(family("/inference/v1"))
DETECT_CEREBRAS = detector(family("/v1", kinds=frozenset({"chat", "completions"})))
# DeepSeek documents `stream_options.include_usage`; its base URL works with and without /v1.
DETECT_DEEPSEEK = detector(
    {
        **family("", DEEPSEEK_CHAT, inject=True, kinds=frozenset({"chat"})),
        **family("/v1", DEEPSEEK_CHAT, inject=True, kinds=frozenset({"chat"})),
        **family("/beta", DEEPSEEK_CHAT, inject=True, kinds=frozenset({"completions"})),
    }
)
DETECT_XAI = detector(
    family("/v1", XAI_CHAT, kinds=frozenset({"chat", "completions", "responses"}))
)
DETECT_OPENROUTER = detector(family("/api/v1", OPENROUTER_CHAT, kinds=_BASIC | {"responses"}))
DETECT_PERPLEXITY = detector(
    {
        **family("", PERPLEXITY_CHAT, kinds=frozenset({"chat"})),
        **family("/v1", PERPLEXITY_CHAT, kinds=frozenset({"chat", "responses"})),
    }
)
DETECT_GROQ = detector(
    family("/openai/v1", GROQ_CHAT, kinds=frozenset({"chat", "responses", "audio"}))
)
# Gemini's OpenAI surface, on the Gemini API host.
DETECT_GEMINI_OPENAI = detector(
    family("/v1beta/openai", GEMINI_OPENAI_CHAT, kinds=frozenset({"chat", "embeddings"}))
)
# Self-hosted vLLM, Ollama (`/v1`) and LM Studio document `stream_options.include_usage`.
DETECT_SELF_HOSTED = detector(family("/v1", inject=True))


_HF_LEGACY = re.compile(r"^/models/(.+?)(?:/v1)?/chat/completions$")


def detect_huggingface(method: str, path: str) -> Endpoint | None:
    """Inference Providers router (`/v1/chat/completions`, `/{provider}/.../chat/completions`),
    legacy `/models/{model}/v1/chat/completions`, and TGI endpoints (`/v1/chat/completions`).

    https://huggingface.co/docs/inference-providers/index
    """
    if method != "POST":
        return None
    if path.endswith("/chat/completions"):
        legacy = _HF_LEGACY.match(path)
        model = unquote(legacy.group(1)) if legacy is not None else None
        return Endpoint(CHAT, COMPATIBLE_CHAT, model=model)
    if path.endswith("/v1/embeddings"):
        return Endpoint(EMBEDDINGS, OPENAI_EMBEDDINGS)
    return None
