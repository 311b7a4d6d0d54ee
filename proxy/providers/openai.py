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
from collections.abc import Mapping

from pricing import TokenUsage
from proxy.providers.result import CallResult, UsageError, mapping, text, token_count
from proxy.providers.sse import Event

_USAGE_MARKERS = (b'"usage":{', b'"usage": {')
_FINISH_MARKERS = (b'"finish_reason":"', b'"finish_reason": "')
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


def _finish_reasons(chunk: Mapping[str, object]) -> tuple[str, ...]:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return ()
    reasons = (mapping(choice) or {} for choice in choices)
    return tuple(r for r in (text(c.get("finish_reason")) for c in reasons) if r)


class ChatCompletions:
    """`WireFormat` for `/v1/chat/completions` and its OpenAI-compatible cousins."""

    def read_document(self, document: object) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        model, response_id = text(body.get("model")), text(body.get("id"))
        reasons = _finish_reasons(body)
        usage = mapping(body.get("usage"))
        if usage is None:
            return CallResult(model, response_id, None, reasons, "response has no usage object")
        try:
            return CallResult(model, response_id, read_usage(usage), reasons)
        except UsageError as exc:
            return CallResult(model, response_id, None, reasons, f"unreadable usage: {exc}")

    def read_error(self, document: object) -> str | None:
        error = mapping((mapping(document) or {}).get("error"))
        if error is None:
            return None
        return text(error.get("code")) or text(error.get("type"))

    def stream_reader(self) -> ChatStreamReader:
        return ChatStreamReader()


def is_usage_chunk(event: Event) -> bool:
    """The extra chunk `include_usage` adds: usage set, choices empty."""
    data = event.data
    has_usage = any(marker in data for marker in _USAGE_MARKERS)
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

    def __init__(self) -> None:
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
        needs_identity = self._model is None
        has_usage = any(marker in data for marker in _USAGE_MARKERS)
        has_finish = any(marker in data for marker in _FINISH_MARKERS)
        if not (needs_identity or has_usage or has_finish or b'"error"' in data):
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
        usage = mapping(body.get("usage"))
        if usage is not None:
            try:
                self._usage = read_usage(usage)  # cumulative: the last one wins
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
        )
