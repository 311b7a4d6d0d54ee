"""Bedrock's binary event streams: InvokeModelWithResponseStream and ConverseStream.

Both are `application/vnd.amazon.eventstream` (see `eventstream.py`). Message headers:
`:message-type` (`event`, or `exception` with `:exception-type`), `:event-type`.
- InvokeModelWithResponseStream (`ResponseStream`:
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ResponseStream.html):
  `chunk` events whose JSON payload `{"bytes": "<base64>"}` (`PayloadPart`) decodes to one
  model-native event; the last one carries `amazon-bedrock-invocationMetrics`
  (`inputTokenCount`, `outputTokenCount`, cache counts). Without it (a cut stream) Anthropic's
  own `message_start`/`message_delta` usage, or Llama's running counts, are usage so far.
- ConverseStream (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html):
  `messageStart`, `contentBlock*`, `messageStop` (`stopReason`), then `metadata` with `usage`.
Unknown event types are skipped; exceptions set the error type (`_aws.stream_exception`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from pricing import TokenUsage
from proxy.providers.anthropic import MessagesStreamReader
from proxy.providers.result import CallResult, UsageError, mapping, text
from proxy.providers.services._aws import stream_exception
from proxy.providers.services.bedrock_usage import converse_usage, invocation_metrics_usage
from proxy.providers.services.eventstream import EventStreamDecoder, Message
from proxy.providers.sse import Event

_METRICS = "amazon-bedrock-invocationMetrics"


class _EventStreamReader:
    """Framing, exceptions and the end-of-stream problem shared by both streams."""

    def __init__(self) -> None:
        self._decoder = EventStreamDecoder()
        self.error: str | None = None
        self.problem: str | None = None

    def feed(self, data: bytes) -> None:
        for message in self._decoder.feed(data):
            kind = message.header(":message-type")
            if kind == "exception":
                self.error = stream_exception(message.header(":exception-type"))
            elif kind == "error":
                self.error = message.header(":error-code") or "error"
            else:
                self.on_event(message.header(":event-type"), message)

    def on_event(self, event_type: str | None, message: Message) -> None:
        raise NotImplementedError

    def ending_problem(self, missing: str) -> str:
        """Why the usage event is missing: framing error, cut stream, or never sent."""
        if self._decoder.problem is not None:
            return self._decoder.problem
        if self._decoder.pending:
            return f"stream ended mid-message (truncated) before {missing}"
        if self._decoder.messages == 0:
            return "response body is empty" if self.error is None else "stream failed"
        return f"stream ended before {missing} (truncated)"


class InvokeStreamReader(_EventStreamReader):
    def __init__(self) -> None:
        super().__init__()
        self._metrics: TokenUsage | None = None
        self._anthropic = MessagesStreamReader()
        self._anthropic_seen = False
        self._llama: dict[str, int] = {}
        self._reason: str | None = None
        self._bad_chunks = 0

    def on_event(self, event_type: str | None, message: Message) -> None:
        if event_type != "chunk":
            return
        try:
            part = mapping(json.loads(message.payload))
            encoded = text((part or {}).get("bytes"))
            raw = base64.b64decode(encoded or "", validate=True)
            event = mapping(json.loads(raw))
        except (ValueError, binascii.Error):  # JSON, UTF-8 and base64 errors
            self._bad_chunks += 1
            return
        if event is None:
            self._bad_chunks += 1
            return
        self._on_model_event(event, raw)

    def _on_model_event(self, event: Mapping[str, object], raw: bytes) -> None:
        metrics = mapping(event.get(_METRICS))
        if metrics is not None:
            try:
                self._metrics = invocation_metrics_usage(metrics)
            except UsageError as exc:
                self.problem = f"unreadable {_METRICS}: {exc}"
        kind = text(event.get("type"))
        if kind is not None:  # Anthropic Messages events, as on the Anthropic API
            self._anthropic_seen = True
            self._anthropic.on_event(Event(raw, kind.encode(), raw))
        for key in ("prompt_token_count", "generation_token_count"):
            value = event.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                self._llama[key] = value  # running totals: the last one wins
        self._reason = text(event.get("stop_reason")) or self._reason

    def result(self) -> CallResult:
        fallback = self._anthropic.result() if self._anthropic_seen else CallResult()
        reasons = fallback.finish_reasons or ((self._reason,) if self._reason else ())
        response_id = fallback.response_id
        if self._metrics is not None:
            return CallResult(None, response_id, self._metrics, reasons, self.problem, self.error)
        problem = self.problem or self.ending_problem(f"the chunk with {_METRICS}")
        if self._bad_chunks and self._decoder.problem is None:
            problem = f"{self._bad_chunks} chunk(s) not valid base64 JSON; {problem}"
        usage = fallback.usage
        if usage is None and "generation_token_count" in self._llama:
            usage = TokenUsage(
                self._llama.get("prompt_token_count", 0), self._llama["generation_token_count"]
            )
        if usage is not None:
            problem = f"{problem}; usage so far from the model's own events"
        return CallResult(None, response_id, usage, reasons, problem, self.error)


class ConverseStreamReader(_EventStreamReader):
    def __init__(self) -> None:
        super().__init__()
        self._usage: TokenUsage | None = None
        self._reason: str | None = None

    def on_event(self, event_type: str | None, message: Message) -> None:
        if event_type not in ("metadata", "messageStop"):
            return  # messageStart, contentBlock*, and event types added later
        try:
            payload = mapping(json.loads(message.payload)) or {}
        except ValueError:
            self.problem = f"{event_type} event is not valid JSON"
            return
        if event_type == "messageStop":
            self._reason = text(payload.get("stopReason"))
            return
        usage = mapping(payload.get("usage"))
        if usage is None:
            self.problem = "metadata event has no usage"
            return
        try:
            self._usage = converse_usage(usage)
        except UsageError as exc:
            self.problem = f"unreadable usage: {exc}"

    def result(self) -> CallResult:
        reasons = (self._reason,) if self._reason else ()
        if self._usage is not None:
            return CallResult(usage=self._usage, finish_reasons=reasons, error_type=self.error)
        problem = self.problem or self.ending_problem("its metadata event")
        return CallResult(finish_reasons=reasons, problem=problem, error_type=self.error)
