"""OpenAI Chat Completions responses, JSON and streamed.

Usage: https://platform.openai.com/docs/api-reference/chat/object (`usage`).
`prompt_tokens` INCLUDES `prompt_tokens_details.cached_tokens`, and `completion_tokens`
INCLUDES `completion_tokens_details.reasoning_tokens` - both match the OpenTelemetry
meaning of `gen_ai.usage.input_tokens` / `output_tokens`, so they are taken as they are.
Streams report usage only with `stream_options.include_usage`, in one extra chunk with
`"choices": []` just before `data: [DONE]`; every other chunk then has `"usage": null`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pricing import TokenUsage
from proxy.providers.result import CallResult, UsageError, mapping, text, token_count
from proxy.providers.sse import Event

_NULL_USAGE = ((b',"usage":null', b""), (b'"usage":null,', b""))


def read_usage(usage: Mapping[str, object]) -> TokenUsage:
    prompt = token_count(usage, "prompt_tokens", required=True)
    completion = token_count(usage, "completion_tokens", required=True)
    prompt_details = mapping(usage.get("prompt_tokens_details")) or {}
    completion_details = mapping(usage.get("completion_tokens_details")) or {}
    cached = token_count(prompt_details, "cached_tokens")
    reasoning = token_count(completion_details, "reasoning_tokens")
    if cached > prompt:
        raise UsageError(f"cached_tokens ({cached}) exceed prompt_tokens ({prompt})")
    return TokenUsage(
        input_tokens=prompt,
        output_tokens=completion,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
    )


def top_level_usage(body: Mapping[str, object]) -> Mapping[str, object] | None:
    """The `usage` object of a completion or chunk, where OpenAI puts it."""
    return mapping(body.get("usage"))


def no_reported_cost(usage: Mapping[str, object]) -> Decimal | None:
    return None


@dataclass(frozen=True)
class Dialect:
    """Where an OpenAI-compatible provider's usage departs from OpenAI's; OpenAI's by default.

    `usage` finds the usage object of a body or chunk (Groq streams carry it in
    `x_groq.usage`), `tokens` reads it (DeepSeek cache fields, xAI's additive reasoning) and
    `cost` reads the USD the provider itself reported (OpenRouter `usage.cost`).
    """

    usage: Callable[[Mapping[str, object]], Mapping[str, object] | None] = top_level_usage
    tokens: Callable[[Mapping[str, object]], TokenUsage] = read_usage
    cost: Callable[[Mapping[str, object]], Decimal | None] = no_reported_cost


OPENAI_DIALECT = Dialect()


def _finish_reasons(chunk: Mapping[str, object]) -> tuple[str, ...]:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return ()
    reasons = (mapping(choice) or {} for choice in choices)
    return tuple(r for r in (text(c.get("finish_reason")) for c in reasons) if r)


class ChatCompletions:
    """`WireFormat` for `/v1/chat/completions` and its OpenAI-compatible cousins."""

    def __init__(self, dialect: Dialect = OPENAI_DIALECT) -> None:
        self._dialect = dialect

    def read_document(self, document: object) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        model, response_id = text(body.get("model")), text(body.get("id"))
        reasons = _finish_reasons(body)
        usage = self._dialect.usage(body)
        if usage is None:
            return CallResult(model, response_id, None, reasons, "response has no usage object")
        cost = self._dialect.cost(usage)
        try:
            tokens = self._dialect.tokens(usage)
        except UsageError as exc:
            problem = f"unreadable usage: {exc}"
            return CallResult(model, response_id, None, reasons, problem, reported_cost=cost)
        return CallResult(model, response_id, tokens, reasons, reported_cost=cost)

    def read_error(self, document: object) -> str | None:
        error = mapping((mapping(document) or {}).get("error"))
        if error is None:
            return None
        return text(error.get("code")) or text(error.get("type"))

    def stream_reader(self) -> ChatStreamReader:
        return ChatStreamReader(self._dialect)


def is_usage_chunk(event: Event) -> bool:
    """The extra chunk `include_usage` adds: usage set, choices empty."""
    data = event.data
    has_usage = b'"usage":{' in data or b'"usage": {' in data
    return has_usage and (b'"choices":[]' in data or b'"choices": []' in data)


def strip_null_usage(raw: bytes) -> bytes:
    """Remove the `"usage":null` member `include_usage` adds to every other chunk.

    Inside a JSON string these bytes would be escaped (`\\"usage\\"`), so only the member matches.
    """
    for pattern, replacement in _NULL_USAGE:
        if pattern in raw:
            return raw.replace(pattern, replacement, 1)
    return raw


class ChatStreamReader:
    """Reads `chat.completion.chunk` events; decodes JSON only where something is reported."""

    def __init__(self, dialect: Dialect = OPENAI_DIALECT) -> None:
        self._dialect = dialect
        self._cost: Decimal | None = None
        self._model: str | None = None
        self._id: str | None = None
        self._usage: TokenUsage | None = None
        self._reasons: tuple[str, ...] = ()
        self._problem: str | None = None
        self._error: str | None = None
        self._done = False

    def on_event(self, event: Event) -> None:
        data = event.data
        if not data:
            return
        if data == b"[DONE]":
            self._done = True
            return
        # Every chunk of a stream passes here: plain byte tests, and JSON only for the few
        # chunks that report something (identity, usage, finish reason, error).
        if not (
            self._model is None
            or b'"usage":{' in data
            or b'"usage": {' in data
            or b'"finish_reason":"' in data
            or b'"finish_reason": "' in data
            or b'"error"' in data
        ):
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            self._problem = "stream carried an event that is not valid JSON"
            return
        body = mapping(chunk) or {}
        error = mapping(body.get("error"))
        if error is not None:
            self._error = text(error.get("code")) or text(error.get("type")) or "stream_error"
        self._model = self._model or text(body.get("model"))
        self._id = self._id or text(body.get("id"))
        self._reasons = self._reasons + _finish_reasons(body)
        usage = self._dialect.usage(body)
        if usage is not None:
            cost = self._dialect.cost(usage)
            self._cost = self._cost if cost is None else cost
            try:
                self._usage = self._dialect.tokens(usage)  # cumulative: the last one wins
            except UsageError as exc:
                self._problem = f"unreadable usage: {exc}"

    def result(self) -> CallResult:
        problem = self._problem
        if self._usage is None and problem is None:
            problem = (
                "stream reported no usage"
                if self._done
                else "stream ended before its usage chunk (truncated)"
            )
        return CallResult(
            self._model,
            self._id,
            self._usage,
            self._reasons,
            None if self._usage else problem,
            self._error,
            reported_cost=self._cost,
        )
