"""What the LLM wire formats share: numbers, request bodies, and response readers that see the
request (for bodies whose usage depends on it: images, audio, speech)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal

from proxy.forwarding import read_request
from proxy.providers.base import Endpoint, EndpointDetector, RequestFacts
from proxy.providers.result import CallResult, StreamReader, decode_json, mapping, text, token_count
from proxy.providers.sse import EventSplitter

MAX_BODY_BYTES = 16 * 1024 * 1024
"""Bodies our own readers hold at most (the observer's default parse limit)."""

_FIELD_NAME = re.compile(rb'name="([^"]*)"')
_MAX_FIELD_CHARS = 4096


def quantity(value: object) -> Decimal | None:
    """A non-negative finite JSON number as an exact Decimal (`0.1` stays `0.1`), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return Decimal(str(value)) if value >= 0 else None


def whole_count(usage: Mapping[str, object], key: str, *, required: bool = False) -> int:
    """A count some providers send as a JSON float (`12.0`, Cohere's billed units)."""
    value = usage.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return token_count({key: value}, key, required=required)


def reported_cost(usage: Mapping[str, object]) -> Decimal | None:
    """USD a provider put in its usage: a number (OpenRouter `usage.cost`) or an object with
    `total_cost` (Perplexity).

    OpenRouter BYOK calls (`is_byok: true`): `cost` is only OpenRouter's fee (5% of what the
    model would cost there, https://openrouter.ai/docs/faq), while the provider bills
    `cost_details.upstream_inference_cost` to the caller's own key
    (https://openrouter.ai/docs/use-cases/usage-accounting): the call cost both. Other calls
    repeat `cost` in `upstream_inference_cost` (or send null), so it is not added.
    """
    cost = usage.get("cost")
    breakdown = mapping(cost)
    total = quantity(breakdown.get("total_cost") if breakdown is not None else cost)
    if total is None or usage.get("is_byok") is not True:
        return total
    details = mapping(usage.get("cost_details")) or {}
    upstream = quantity(details.get("upstream_inference_cost"))
    return total + upstream if upstream is not None else total


def openai_error(document: object) -> str | None:
    """The `error.code` (else `error.type`) of an OpenAI-shaped error body."""
    error = mapping((mapping(document) or {}).get("error"))
    if error is None:
        return None
    return text(error.get("code")) or text(error.get("type"))


def json_object(body: bytes) -> dict[str, object] | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def form_fields(body: bytes) -> dict[str, str]:
    """The text fields of a `multipart/form-data` body (file parts are skipped, not copied).

    The request's Content-Type is not at hand, so the boundary is the body's first line
    (RFC 7578 section 4.1: the body starts with `--boundary`).
    """
    if not body.startswith(b"--"):
        return {}
    end = body.find(b"\r\n")
    if end <= 2:
        return {}
    delimiter = b"\r\n" + body[:end]
    fields: dict[str, str] = {}
    start = end + 2
    while start < len(body):
        head_end = body.find(b"\r\n\r\n", start)
        if head_end < 0:
            break
        next_part = body.find(delimiter, head_end)
        if next_part < 0:
            break
        head = body[start:head_end]
        name = _FIELD_NAME.search(head)
        if name is not None and b"filename=" not in head:
            value = body[head_end + 4 : min(next_part, head_end + 4 + _MAX_FIELD_CHARS)]
            fields[name.group(1).decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        start = next_part + len(delimiter) + 2  # the CRLF (or `--`) after the delimiter
    return fields


def json_request(body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
    """The default request reading (JSON `model` and `stream`, stream usage opt-in)."""
    return read_request(body, stream_usage_opt_in=endpoint.stream_usage_opt_in, inject=inject)


def detector(table: Mapping[tuple[str, str], Endpoint]) -> EndpointDetector:
    """`detect(method, path)` over an exact (method, path) table."""

    def detect(method: str, path: str) -> Endpoint | None:
        return table.get((method, path))

    return detect


def first_detector(*detectors: EndpointDetector) -> EndpointDetector:
    def detect(method: str, path: str) -> Endpoint | None:
        for candidate in detectors:
            endpoint = candidate(method, path)
            if endpoint is not None:
                return endpoint
        return None

    return detect


def is_event_stream(content_type: str) -> bool:
    return content_type.lower().startswith("text/event-stream")


class DocumentReader:
    """A JSON body read whole at the end, by a function that may use the request."""

    def __init__(self, read: Callable[[object], CallResult]) -> None:
        self._read = read
        self._parts: list[bytes] = []
        self._size = 0
        self._overflow = False

    def feed(self, data: bytes) -> None:
        if self._overflow:
            return
        self._size += len(data)
        if self._size > MAX_BODY_BYTES:
            self._overflow = True
            self._parts.clear()
            return
        self._parts.append(data)

    def result(self) -> CallResult:
        if self._overflow:
            return CallResult(problem=f"response body larger than {MAX_BODY_BYTES} bytes")
        body = b"".join(self._parts)
        if not body:
            return CallResult(problem="response body is empty")
        document = decode_json(body)
        if isinstance(document, CallResult):
            return document
        return self._read(document)


class FixedResult:
    """A body that carries no usage (audio bytes, plain text): its bytes are not kept."""

    def __init__(self, result: CallResult) -> None:
        self._result = result

    def feed(self, data: bytes) -> None:
        return

    def result(self) -> CallResult:
        return self._result


class EventStreamReader:
    """An SSE body read by a `StreamReader`, its result completed with what the request said."""

    def __init__(
        self, reader: StreamReader, complete: Callable[[CallResult], CallResult] | None = None
    ) -> None:
        self._reader = reader
        self._complete = complete
        self._splitter = EventSplitter(MAX_BODY_BYTES)

    def feed(self, data: bytes) -> None:
        for event in self._splitter.feed(data):
            if event.complete:
                self._reader.on_event(event)

    def result(self) -> CallResult:
        result = self._reader.result()
        if self._splitter.overflowed and result.problem is None:
            problem = f"a stream event exceeded the parse limit ({MAX_BODY_BYTES} bytes)"
            result = dataclasses.replace(result, problem=problem)
        return self._complete(result) if self._complete is not None else result


def with_request(result: CallResult, request: RequestFacts) -> CallResult:
    """`result` with the request's units and dimensions where the response has none."""
    return dataclasses.replace(
        result,
        units={**request.units, **result.units},
        dimensions={**request.dimensions, **result.dimensions},
    )
