"""Anthropic Messages responses, JSON and streamed.

Usage: https://docs.anthropic.com/en/api/messages (`usage`). `input_tokens` EXCLUDES
`cache_read_input_tokens` and `cache_creation_input_tokens`; the OpenTelemetry
`gen_ai.usage.input_tokens` includes them, so the three are added.
Streams: `message_start` carries the initial usage and `message_delta` events carry
cumulative usage (`MessageDeltaUsage`): seed from the first, overwrite field by field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pricing import TokenUsage
from proxy.providers.result import CallResult, UsageError, mapping, text, token_count
from proxy.providers.sse import Event

_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


def read_usage(usage: Mapping[str, object]) -> TokenUsage:
    uncached = token_count(usage, "input_tokens", required=True)
    output = token_count(usage, "output_tokens", required=True)
    cache_write = token_count(usage, "cache_creation_input_tokens")
    cache_read = token_count(usage, "cache_read_input_tokens")
    return TokenUsage(
        input_tokens=uncached + cache_write + cache_read,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


class Messages:
    """`WireFormat` for `/v1/messages`."""

    def read_document(self, document: object) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        model, response_id = text(body.get("model")), text(body.get("id"))
        reason = text(body.get("stop_reason"))
        reasons = (reason,) if reason else ()
        usage = mapping(body.get("usage"))
        if usage is None:
            return CallResult(model, response_id, None, reasons, "response has no usage object")
        try:
            return CallResult(model, response_id, read_usage(usage), reasons)
        except UsageError as exc:
            return CallResult(model, response_id, None, reasons, f"unreadable usage: {exc}")

    def read_error(self, document: object) -> str | None:
        error = mapping((mapping(document) or {}).get("error"))
        return text(error.get("type")) if error is not None else None

    def stream_reader(self) -> MessagesStreamReader:
        return MessagesStreamReader()


class MessagesStreamReader:
    def __init__(self) -> None:
        self._model: str | None = None
        self._id: str | None = None
        self._usage: dict[str, object] = {}
        self._reason: str | None = None
        self._problem: str | None = None
        self._error: str | None = None
        self._started = False
        self._stopped = False

    def on_event(self, event: Event) -> None:
        name = event.name
        if name not in (b"message_start", b"message_delta", b"message_stop", b"error"):
            return
        if name == b"message_stop":
            self._stopped = True
            return
        try:
            body = mapping(json.loads(event.data)) or {}
        except ValueError:
            self._problem = f"{name.decode()} event is not valid JSON"
            return
        if name == b"error":
            error = mapping(body.get("error")) or {}
            self._error = text(error.get("type")) or "stream_error"
        elif name == b"message_start":
            message = mapping(body.get("message")) or {}
            self._started = True
            self._model, self._id = text(message.get("model")), text(message.get("id"))
            self._merge(mapping(message.get("usage")))
        else:
            delta = mapping(body.get("delta")) or {}
            self._reason = text(delta.get("stop_reason")) or self._reason
            self._merge(mapping(body.get("usage")))

    def _merge(self, usage: Mapping[str, object] | None) -> None:
        if usage is None:
            return
        for field in _USAGE_FIELDS:
            if usage.get(field) is not None:
                self._usage[field] = usage[field]

    def result(self) -> CallResult:
        reasons = (self._reason,) if self._reason else ()
        usage: TokenUsage | None = None
        problem = self._problem
        if not self._started:
            problem = problem or "stream ended before message_start (truncated)"
        else:
            try:
                usage = read_usage(self._usage)
            except UsageError as exc:
                problem = f"unreadable usage: {exc}"
            if usage is not None and not self._stopped:
                # Usage so far is real (billed), but the final count may be missing.
                problem = "stream ended before message_stop (truncated); usage so far"
        return CallResult(self._model, self._id, usage, reasons, problem, self._error)
