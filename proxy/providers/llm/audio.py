"""OpenAI audio: transcriptions/translations and speech (also Azure deployments and Groq).

Transcriptions (https://platform.openai.com/docs/api-reference/audio/createTranscription,
openai-python `types/audio/transcription.py`, `transcription_verbose.py`): the request is
multipart (`model`, `stream`, `response_format`). `usage` is `{"type": "tokens",
"input_tokens", "output_tokens", ...}` (gpt-4o-transcribe family) or `{"type": "duration",
"seconds"}` (whisper-1: billed per second of audio); `verbose_json` also has a top-level
`duration`. `text`/`srt`/`vtt` answers are plain text: nothing billable to read. Streams end
with `transcript.text.done`, which carries the token `usage`
(`types/audio/transcription_text_done_event.py`).
Speech (https://platform.openai.com/docs/api-reference/audio/createSpeech): the answer is
audio; tts-1/tts-1-hd are billed per character of `input`, so the units come from the request.
With `stream_format: "sse"` the final `speech.audio.done` event carries token `usage`
(gpt-4o-mini-tts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from pricing import TokenUsage
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.llm._common import (
    DocumentReader,
    EventStreamReader,
    FixedResult,
    form_fields,
    is_event_stream,
    json_object,
    json_request,
    openai_error,
    quantity,
    with_request,
)
from proxy.providers.llm._names import UNIT_CHARACTERS, UNIT_SECONDS
from proxy.providers.llm.responses import event_type
from proxy.providers.result import (
    CallResult,
    ResponseReader,
    UsageError,
    mapping,
    text,
    token_count,
)
from proxy.providers.sse import Event

_TEXT_FORMATS = "the text, srt and vtt response formats carry no usage (audio length unknown)"


def read_token_usage(usage: Mapping[str, object]) -> TokenUsage:
    return TokenUsage(
        input_tokens=token_count(usage, "input_tokens", required=True),
        output_tokens=token_count(usage, "output_tokens", required=True),
    )


def read_transcription(document: object) -> CallResult:
    body = mapping(document)
    if body is None:
        return CallResult(problem="response body is not a JSON object")
    usage = mapping(body.get("usage")) or {}
    kind = text(usage.get("type"))
    if kind == "tokens":
        try:
            return CallResult(usage=read_token_usage(usage))
        except UsageError as exc:
            return CallResult(problem=f"unreadable usage: {exc}")
    # Duration usage names the field `seconds` (newer types) or `duration` (older ones).
    seconds = quantity(usage.get("seconds", usage.get("duration"))) if kind == "duration" else None
    seconds = seconds if seconds is not None else quantity(body.get("duration"))
    if seconds is None:
        return CallResult(problem="response reports neither token usage nor audio duration")
    return CallResult(units={UNIT_SECONDS: seconds})


class _FinalEventReader:
    """A stream whose one billable event (`done`) carries token usage."""

    def __init__(self, done: str) -> None:
        self._done = done
        self._seen = False
        self._usage: TokenUsage | None = None
        self._problem: str | None = None
        self._error: str | None = None

    def on_event(self, event: Event) -> None:
        kind = event_type(event)
        if kind not in (self._done, "error"):
            return
        try:
            body = mapping(json.loads(event.data)) or {}
        except ValueError:
            self._problem = f"{kind} event is not valid JSON"
            return
        if kind == "error":
            error = mapping(body.get("error")) or body
            self._error = text(error.get("code")) or text(error.get("type")) or "stream_error"
            return
        self._seen = True
        usage = mapping(body.get("usage"))
        if usage is None:
            self._problem = f"{self._done} reported no usage"
            return
        try:
            self._usage = read_token_usage(usage)
        except UsageError as exc:
            self._problem = f"unreadable usage: {exc}"

    def result(self) -> CallResult:
        problem = self._problem
        if not self._seen and problem is None:
            problem = f"stream ended before {self._done} (truncated)"
        return CallResult(usage=self._usage, problem=problem, error_type=self._error)


class Transcriptions:
    """`WireFormat` for `/audio/transcriptions` and `/audio/translations`."""

    def read_request(self, body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
        if json_object(body) is not None:  # not OpenAI's shape, but cheap to accept
            return json_request(body, endpoint, inject)
        form = form_fields(body)
        stream = form.get("stream", "").strip().lower() == "true"
        return RequestFacts(form.get("model") or None, stream, body)

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        if is_event_stream(content_type):
            return EventStreamReader(_FinalEventReader("transcript.text.done"))
        if content_type and "json" not in content_type.lower():
            return FixedResult(CallResult(problem=_TEXT_FORMATS))
        return DocumentReader(read_transcription)

    def read_document(self, document: object) -> CallResult:
        return read_transcription(document)

    def read_error(self, document: object) -> str | None:
        return openai_error(document)

    def stream_reader(self) -> _FinalEventReader:
        return _FinalEventReader("transcript.text.done")


def read_speech_request(body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
    document = json_object(body) or {}
    facts = json_request(body, endpoint, inject)
    spoken = document.get("input")
    units = {UNIT_CHARACTERS: Decimal(len(spoken))} if isinstance(spoken, str) else {}
    stream = facts.stream or document.get("stream_format") == "sse"
    return RequestFacts(facts.model, stream, facts.body, facts.usage_injected, units=units)


class Speech:
    """`WireFormat` for `/audio/speech`: characters from the request, tokens from SSE."""

    def read_request(self, body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
        return read_speech_request(body, endpoint, inject)

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        if is_event_stream(content_type):
            reader = _FinalEventReader("speech.audio.done")
            return EventStreamReader(reader, lambda r: with_request(r, request))
        return FixedResult(with_request(CallResult(), request))  # the body is audio

    def read_document(self, document: object) -> CallResult:
        return CallResult(problem="speech responses are audio, not JSON")

    def read_error(self, document: object) -> str | None:
        return openai_error(document)

    def stream_reader(self) -> _FinalEventReader:
        return _FinalEventReader("speech.audio.done")
