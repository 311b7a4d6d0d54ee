"""OpenAI Responses API (`POST /v1/responses`), JSON and streamed; also xAI, OpenRouter,
Perplexity, Groq and Azure, which serve the same shape.

Usage (https://platform.openai.com/docs/api-reference/responses/object, openai-python
`types/responses/response_usage.py`): `input_tokens` INCLUDES
`input_tokens_details.cached_tokens`, `output_tokens` INCLUDES
`output_tokens_details.reasoning_tokens` - the OpenTelemetry meanings, taken as they are.
Built-in tools are billed per call on top of tokens: each `web_search_call` (and the other
`*_call` items below) in `output` is one billable call.
Streams (https://platform.openai.com/docs/api-reference/responses-streaming): named events;
the terminal `response.completed` | `response.incomplete` | `response.failed` carries the
whole response, usage included. There is no `[DONE]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal

from pricing import TokenUsage
from proxy.providers.llm._common import reported_cost
from proxy.providers.llm._names import DIMENSION_SERVICE_TIER, UNIT_WEB_SEARCH_REQUESTS
from proxy.providers.result import CallResult, UsageError, mapping, text, token_count
from proxy.providers.sse import Event

# Output item type -> billable unit. Web search is in the pricing vocabulary; the others are
# counted so a price can be attached to them later.
TOOL_UNITS: Mapping[str, str] = {
    "web_search_call": UNIT_WEB_SEARCH_REQUESTS,
    "file_search_call": "file_search_requests",
    "code_interpreter_call": "code_interpreter_calls",
    "image_generation_call": "image_generation_calls",
}
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_IDENTITY = frozenset({"response.created", "response.in_progress"})
_TYPE = re.compile(rb'"type"\s*:\s*"([^"]{1,80})"')


def read_usage(usage: Mapping[str, object]) -> TokenUsage:
    input_tokens = token_count(usage, "input_tokens", required=True)
    output_tokens = token_count(usage, "output_tokens", required=True)
    cached = token_count(mapping(usage.get("input_tokens_details")) or {}, "cached_tokens")
    reasoning = token_count(mapping(usage.get("output_tokens_details")) or {}, "reasoning_tokens")
    if cached > input_tokens:
        raise UsageError(f"cached_tokens ({cached}) exceed input_tokens ({input_tokens})")
    if reasoning > output_tokens:
        raise UsageError(f"reasoning_tokens ({reasoning}) exceed output_tokens ({output_tokens})")
    return TokenUsage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
    )


def tool_calls(output: object) -> dict[str, Decimal]:
    """Billable built-in tool calls among the response's output items."""
    counts: dict[str, Decimal] = {}
    for item in output if isinstance(output, list) else ():
        unit = TOOL_UNITS.get(text((mapping(item) or {}).get("type")) or "")
        if unit is not None:
            counts[unit] = counts.get(unit, Decimal(0)) + 1
    return counts


def read_response(body: Mapping[str, object]) -> CallResult:
    """A Response object: from a JSON body or from a stream's terminal event."""
    model, response_id = text(body.get("model")), text(body.get("id"))
    status = text(body.get("status"))
    incomplete = text((mapping(body.get("incomplete_details")) or {}).get("reason"))
    reasons = tuple(r for r in (incomplete or status,) if r)
    error = mapping(body.get("error"))
    error_type = (text(error.get("code")) or "response_failed") if error is not None else None
    tier = text(body.get("service_tier"))
    dimensions = {DIMENSION_SERVICE_TIER: tier} if tier else {}
    units = tool_calls(body.get("output"))
    usage = mapping(body.get("usage"))
    tokens: TokenUsage | None = None
    cost: Decimal | None = None
    problem: str | None = "response has no usage object"
    if usage is not None:
        cost = reported_cost(usage)
        try:
            tokens, problem = read_usage(usage), None
        except UsageError as exc:
            problem = f"unreadable usage: {exc}"
    return CallResult(
        model, response_id, tokens, reasons, problem, error_type, units, dimensions, cost
    )


class Responses:
    """`WireFormat` for `/v1/responses`."""

    def read_document(self, document: object) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        return read_response(body)

    def read_error(self, document: object) -> str | None:
        error = mapping((mapping(document) or {}).get("error"))
        if error is None:
            return None
        return text(error.get("code")) or text(error.get("type"))

    def stream_reader(self) -> ResponsesStreamReader:
        return ResponsesStreamReader()


def event_type(event: Event) -> str | None:
    """The event's type: its `event:` name, else the data's leading `"type"` member."""
    if event.name:
        return event.name.decode("utf-8", "replace")
    found = _TYPE.search(event.data[:200])
    return found.group(1).decode("utf-8", "replace") if found else None


class ResponsesStreamReader:
    """Decodes only the lifecycle events: the first for identity, the terminal for usage."""

    def __init__(self) -> None:
        self._model: str | None = None
        self._id: str | None = None
        self._final: CallResult | None = None
        self._problem: str | None = None
        self._error: str | None = None

    def on_event(self, event: Event) -> None:
        kind = event_type(event)
        if kind not in _TERMINAL and kind not in _IDENTITY and kind != "error":
            return
        try:
            body = mapping(json.loads(event.data)) or {}
        except ValueError:
            self._problem = f"{kind} event is not valid JSON"
            return
        if kind == "error":
            self._error = text(body.get("code")) or text(body.get("type")) or "stream_error"
            return
        response = mapping(body.get("response")) or {}
        if kind in _IDENTITY:
            self._model = self._model or text(response.get("model"))
            self._id = self._id or text(response.get("id"))
            return
        self._final = read_response(response)

    def result(self) -> CallResult:
        final = self._final
        if final is None:
            problem = self._problem or "stream ended before response.completed (truncated)"
            return CallResult(self._model, self._id, problem=problem, error_type=self._error)
        return CallResult(
            final.response_model or self._model,
            final.response_id or self._id,
            final.usage,
            final.finish_reasons,
            final.problem or self._problem,
            final.error_type or self._error,
            final.units,
            final.dimensions,
            final.reported_cost,
        )
