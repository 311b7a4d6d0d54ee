"""Token usage as Bedrock reports it: response headers, Converse `usage`, model-native bodies.

Bedrock's `inputTokens` (and the input-token header and invocation metric) EXCLUDE cache reads
and writes; `TokenUsage.input_tokens` includes them (see `bedrock.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pricing import TokenUsage
from proxy.providers import anthropic, openai
from proxy.providers.result import mapping, text
from proxy.providers.result import token_count as tokens
from proxy.providers.services._common import Context


def usage_from_headers(context: Context) -> TokenUsage | None:
    counts = {}
    for key in ("input", "output", "cache-read-input", "cache-write-input"):
        raw = context.header(f"x-amzn-bedrock-{key}-token-count")
        if raw is not None and raw.isdigit():
            counts[key] = int(raw)
    if "input" not in counts or "output" not in counts:
        return None
    read, write = counts.get("cache-read-input", 0), counts.get("cache-write-input", 0)
    return TokenUsage(counts["input"] + read + write, counts["output"], read, write)


def converse_usage(usage: Mapping[str, object]) -> TokenUsage:
    """Converse `TokenUsage` (and Nova's native `usage`, which shares the names)."""
    uncached = tokens(usage, "inputTokens", required=True)
    output = tokens(usage, "outputTokens", required=True)
    read = tokens(usage, "cacheReadInputTokens") or tokens(usage, "cacheReadInputTokenCount")
    write = tokens(usage, "cacheWriteInputTokens") or tokens(usage, "cacheWriteInputTokenCount")
    return TokenUsage(uncached + read + write, output, read, write)


def invocation_metrics_usage(metrics: Mapping[str, object]) -> TokenUsage:
    """`amazon-bedrock-invocationMetrics` of a stream's last chunk."""
    uncached = tokens(metrics, "inputTokenCount", required=True)
    output = tokens(metrics, "outputTokenCount", required=True)
    read = tokens(metrics, "cacheReadInputTokenCount")
    write = tokens(metrics, "cacheWriteInputTokenCount")
    return TokenUsage(uncached + read + write, output, read, write)


def native_usage(body: Mapping[str, object]) -> TokenUsage | None:
    """Usage in a model-native InvokeModel body, for the families that report it.

    Anthropic `usage.input_tokens` (cache excluded), OpenAI-style `usage.prompt_tokens`
    (Mistral Large, AI21, OpenAI open-weight models), Nova `usage.inputTokens`, Meta Llama
    `prompt_token_count`/`generation_token_count`, Titan `inputTextTokenCount` (+ `results[]`
    `tokenCount`), Cohere `meta.billed_units`. Raises `UsageError` when a count is invalid.
    """
    usage = mapping(body.get("usage"))
    if usage is not None:
        for key, read in _USAGE_OBJECTS:
            if key in usage:
                return read(usage)
    if "prompt_token_count" in body or "generation_token_count" in body:
        return TokenUsage(
            tokens(body, "prompt_token_count"), tokens(body, "generation_token_count")
        )
    if "inputTextTokenCount" in body:
        results = body.get("results")
        items = results if isinstance(results, list) else []
        output = sum(tokens(r, "tokenCount") for r in items if isinstance(r, dict))
        return TokenUsage(tokens(body, "inputTextTokenCount"), output)
    billed = mapping((mapping(body.get("meta")) or {}).get("billed_units"))
    if billed is not None:
        return TokenUsage(tokens(billed, "input_tokens"), tokens(billed, "output_tokens"))
    return None


_USAGE_OBJECTS: tuple[tuple[str, Callable[[Mapping[str, object]], TokenUsage]], ...] = (
    ("input_tokens", anthropic.read_usage),
    ("prompt_tokens", openai.read_usage),
    ("inputTokens", converse_usage),
)


def finish_reasons(body: Mapping[str, object]) -> tuple[str, ...]:
    reason = (
        text(body.get("stop_reason"))
        or text(body.get("stopReason"))
        or text(body.get("finish_reason"))
    )
    if reason:
        return (reason,)
    found: list[str] = []
    for key, field in (("results", "completionReason"), ("outputs", "stop_reason")):
        items = body.get(key)
        if isinstance(items, list):
            found += [r for r in (text((mapping(i) or {}).get(field)) for i in items) if r]
    choices = body.get("choices")
    if isinstance(choices, list):
        found += [r for r in (text((mapping(c) or {}).get("finish_reason")) for c in choices) if r]
    return tuple(found)
