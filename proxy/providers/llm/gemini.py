"""Google Gemini API and Vertex AI `generateContent`, JSON, SSE (`?alt=sse`) and the JSON array
that `:streamGenerateContent` streams without `alt=sse`.

Usage (https://ai.google.dev/api/generate-content#UsageMetadata): `promptTokenCount` INCLUDES
`cachedContentTokenCount`; `candidatesTokenCount` does NOT include `thoughtsTokenCount`, so
output = candidates + thoughts (thinking is billed as output,
https://ai.google.dev/gemini-api/docs/pricing); `toolUsePromptTokenCount` (prompts of built-in
tools) is outside the prompt count and billed as input. Every streamed chunk may carry running
totals: the last one wins. Model: in the URL; the response's `modelVersion` names the version.
Errors: https://ai.google.dev/gemini-api/docs/troubleshooting (`error.status`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal

from pricing import TokenUsage
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.llm._common import (
    MAX_BODY_BYTES,
    DocumentReader,
    is_event_stream,
    json_object,
    json_request,
    with_request,
)
from proxy.providers.llm._names import UNIT_CHARACTERS
from proxy.providers.result import (
    CallResult,
    ResponseReader,
    UsageError,
    mapping,
    text,
    token_count,
)
from proxy.providers.sse import Event

_MARKERS = (b'"usageMetadata"', b'"finishReason"', b'"error"')
_SPECIAL = re.compile(rb'[\[\]{}"]')
_IN_STRING = re.compile(rb'["\\]')


def read_usage(meta: Mapping[str, object]) -> TokenUsage:
    prompt = token_count(meta, "promptTokenCount", required=True)
    cached = token_count(meta, "cachedContentTokenCount")
    thoughts = token_count(meta, "thoughtsTokenCount")
    if cached > prompt:
        raise UsageError(f"cachedContentTokenCount ({cached}) exceeds promptTokenCount ({prompt})")
    return TokenUsage(
        input_tokens=prompt + token_count(meta, "toolUsePromptTokenCount"),
        output_tokens=token_count(meta, "candidatesTokenCount") + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


def error_status(document: object) -> str | None:
    error = mapping((mapping(document) or {}).get("error"))
    if error is None:
        return None
    code = error.get("code")
    return text(error.get("status")) or (str(code) if isinstance(code, int) else None)


class ChunkState:
    """What a sequence of GenerateContentResponse objects (one, or a stream's) reported."""

    def __init__(self) -> None:
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: TokenUsage | None = None
        self.reasons: tuple[str, ...] = ()
        self.problem: str | None = None
        self.error: str | None = None
        self.chunks = 0

    def add(self, body: Mapping[str, object]) -> None:
        self.chunks += 1
        self.error = error_status(body) or self.error
        self.model = text(body.get("modelVersion")) or self.model
        self.response_id = self.response_id or text(body.get("responseId"))
        candidates = body.get("candidates")
        for candidate in candidates if isinstance(candidates, list) else ():
            reason = text((mapping(candidate) or {}).get("finishReason"))
            if reason:
                self.reasons = (*self.reasons, reason)
        meta = mapping(body.get("usageMetadata"))
        if meta is not None and meta.get("promptTokenCount") is not None:
            try:
                self.usage = read_usage(meta)  # running totals: the last wins
            except UsageError as exc:
                self.problem = f"unreadable usage: {exc}"

    def result(self, *, ended: bool) -> CallResult:
        problem = self.problem
        if problem is None and self.usage is None:
            problem = "response has no usageMetadata" if ended else "stream ended (truncated)"
        elif problem is None and not ended:
            problem = "stream ended before its last chunk (truncated); usage so far"
        return CallResult(
            self.model, self.response_id, self.usage, self.reasons, problem, self.error
        )


class GeminiStreamReader:
    """SSE (`?alt=sse`): one GenerateContentResponse per event. A stream is complete when a
    candidate reports its `finishReason` (Gemini sends no end-of-stream event)."""

    def __init__(self) -> None:
        self._state = ChunkState()

    def on_event(self, event: Event) -> None:
        data = event.data
        if not data or (self._state.chunks and not any(m in data for m in _MARKERS)):
            return
        try:
            body = mapping(json.loads(data))
        except ValueError:
            self._state.problem = "stream carried an event that is not valid JSON"
            return
        if body is not None:
            self._state.add(body)

    def result(self) -> CallResult:
        state = self._state
        return state.result(ended=bool(state.reasons) or state.error is not None)


class JsonArrayReader:
    """`:streamGenerateContent` without `alt=sse`: a JSON array whose elements arrive one by
    one. Each element is decoded as soon as it closes, so a cut stream keeps what it had."""

    def __init__(self) -> None:
        self._state = ChunkState()
        self._depth = 0
        self._element_depth = 2  # inside `[` ... `{`; a bare object (an error) is depth 1
        self._in_string = False
        self._escaped = False
        self._element = bytearray()
        self._closed = False
        self._overflow = False

    def feed(self, data: bytes) -> None:
        start = 0 if self._depth >= self._element_depth else None
        pos, end = 0, len(data)
        while pos < end:
            if self._escaped:
                self._escaped, pos = False, pos + 1
                continue
            found = (_IN_STRING if self._in_string else _SPECIAL).search(data, pos)
            if found is None:
                break
            char, pos = data[found.start()], found.end()
            if char == 0x5C:  # backslash, inside a string
                self._escaped = True
            elif char == 0x22:  # quote
                self._in_string = not self._in_string
            elif char in b"[{":
                start = self._open(char, found.start(), start)
            elif self._depth > 0:  # a stray closer in a body that is not JSON is ignored
                start = self._close(data, start, pos)
        if start is not None:
            self._element += data[start:]
            if len(self._element) > MAX_BODY_BYTES:
                self._overflow = True
                self._element.clear()

    def _open(self, char: int, index: int, start: int | None) -> int | None:
        if self._depth == 0 and char == 0x7B:
            self._element_depth = 1
        self._depth += 1
        return index if self._depth == self._element_depth else start

    def _close(self, data: bytes, start: int | None, pos: int) -> int | None:
        self._depth -= 1
        if self._depth == 0:
            self._closed = True
        if self._depth == self._element_depth - 1 and start is not None:
            self._element += data[start:pos]
            self._complete_element()
            return None
        return start

    def _complete_element(self) -> None:
        element, self._element = bytes(self._element), bytearray()
        if self._overflow:
            self._overflow = False
            self._state.problem = f"a streamed chunk exceeded {MAX_BODY_BYTES} bytes"
            return
        try:
            body = mapping(json.loads(element))
        except ValueError:
            self._state.problem = "stream carried a chunk that is not valid JSON"
            return
        if body is not None:
            self._state.add(body)

    def result(self) -> CallResult:
        if not self._state.chunks and self._state.problem is None:
            return CallResult(problem="response body has no JSON chunks (empty or not JSON)")
        return self._state.result(ended=self._closed)


def read_document(document: object) -> CallResult:
    """One GenerateContentResponse, or a whole streamed array read at once."""
    state = ChunkState()
    for body in document if isinstance(document, list) else [document]:
        chunk = mapping(body)
        if chunk is None:
            return CallResult(problem="response body is not a JSON object")
        state.add(chunk)
    return state.result(ended=True)


class GenerateContent:
    """`WireFormat` for `:generateContent` and `:streamGenerateContent`."""

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader | None:
        if request.stream and not is_event_stream(content_type):
            return JsonArrayReader()
        return None  # one JSON document, or SSE: the observer's default readers

    def read_document(self, document: object) -> CallResult:
        return read_document(document)

    def read_error(self, document: object) -> str | None:
        return error_status(document)

    def stream_reader(self) -> GeminiStreamReader:
        return GeminiStreamReader()


def _text_characters(content: object) -> int:
    parts = (mapping(content) or {}).get("parts")
    return sum(
        len(part_text)
        for part in (parts if isinstance(parts, list) else ())
        if isinstance(part_text := (mapping(part) or {}).get("text"), str)
    )


def read_embed_request(body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
    """`embedContent` / `batchEmbedContents`: the characters of the text parts."""
    facts = json_request(body, endpoint, inject)
    document = json_object(body) or {}
    requests = document.get("requests")
    contents = (
        [(mapping(r) or {}).get("content") for r in requests]
        if isinstance(requests, list)
        else [document.get("content")]
    )
    characters = sum(_text_characters(content) for content in contents)
    return RequestFacts(
        facts.model, False, facts.body, units={UNIT_CHARACTERS: Decimal(characters)}
    )


def read_embedding(document: object, request: RequestFacts) -> CallResult:
    body = mapping(document)
    if body is None:
        return CallResult(problem="response body is not a JSON object")
    meta = mapping(body.get("usageMetadata"))
    if meta is not None and meta.get("promptTokenCount") is not None:
        try:
            return with_request(CallResult(usage=read_usage(meta)), request)
        except UsageError as exc:
            return with_request(CallResult(problem=f"unreadable usage: {exc}"), request)
    problem = "embedContent reports no token count; characters counted from the request"
    return with_request(CallResult(problem=problem), request)


class EmbedContent:
    """`WireFormat` for `:embedContent` and `:batchEmbedContents`."""

    def read_request(self, body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
        return read_embed_request(body, endpoint, inject)

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return DocumentReader(lambda document: read_embedding(document, request))

    def read_document(self, document: object) -> CallResult:
        return read_embedding(document, RequestFacts())

    def read_error(self, document: object) -> str | None:
        return error_status(document)

    def stream_reader(self) -> GeminiStreamReader:
        return GeminiStreamReader()
