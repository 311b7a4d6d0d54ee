"""Watch one response go by: forward its bytes, read what it reports, never raise.

The proxy (and, in direct mode, the SDK) feeds every body chunk through `ResponseObserver.feed`
and forwards what it returns - the chunk itself, except when the proxy asked an OpenAI stream
for usage on the client's behalf: then the usage chunk and the `"usage":null` members it caused
are removed so the client gets exactly the stream it asked for.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping

from proxy.providers import anthropic, llm, openai, services
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.decoding import BodyDecoder, DecodingError
from proxy.providers.endpoints import ANTHROPIC_MESSAGES, OPENAI_CHAT
from proxy.providers.result import CallResult, ResponseReader, StreamReader, WireFormat
from proxy.providers.sse import Event, EventSplitter

log = logging.getLogger(__name__)

WIRE_FORMATS: dict[str, WireFormat] = {
    OPENAI_CHAT: openai.ChatCompletions(),
    ANTHROPIC_MESSAGES: anthropic.Messages(),
    **llm.WIRE_FORMATS,
    **services.WIRE_FORMATS,
}


def wire_format(endpoint: Endpoint) -> WireFormat:
    return WIRE_FORMATS[endpoint.wire_format]


def request_facts(endpoint: Endpoint, body: bytes, *, inject_stream_usage: bool) -> RequestFacts:
    """What the request says (model, streaming, request-side units), and the body to send."""
    reader = getattr(wire_format(endpoint), "read_request", None)
    if reader is not None:
        facts: RequestFacts = reader(body, endpoint, inject_stream_usage)
    else:
        from proxy.forwarding import read_request

        facts = read_request(
            body, stream_usage_opt_in=endpoint.stream_usage_opt_in, inject=inject_stream_usage
        )
    if endpoint.model and not facts.model:
        facts = dataclasses.replace(facts, model=endpoint.model)
    if endpoint.stream and not facts.stream:
        facts = dataclasses.replace(facts, stream=True)
    return facts


DEFAULT_MAX_PARSE_BYTES = 16 * 1024 * 1024


class ResponseObserver:
    """Per-response state; `feed` returns the bytes to forward, `finish` what was read."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        status: int,
        content_type: str,
        content_encoding: str,
        drop_injected_usage: bool = False,
        max_parse_bytes: int = DEFAULT_MAX_PARSE_BYTES,
        request: RequestFacts | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._wire = WIRE_FORMATS[endpoint.wire_format]
        self._custom: ResponseReader | None = None
        self._status = status
        self._max = max_parse_bytes
        self._problem: str | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._stream: StreamReader | None = None
        self._headers = headers or {}
        self._splitter = EventSplitter(max_parse_bytes)
        self._decoder: BodyDecoder | None = None
        try:
            self._decoder = BodyDecoder(content_encoding, max_parse_bytes)
        except DecodingError as exc:
            self._problem = str(exc)
        make_reader = getattr(self._wire, "response_reader", None)
        if make_reader is not None and status < 400:
            self._custom = make_reader(content_type, request or RequestFacts(), headers or {})
        streaming = (
            self._custom is None
            and content_type.lower().startswith("text/event-stream")
            and status < 400
        )
        self._streaming = streaming
        if streaming:
            self._stream = self._wire.stream_reader()
        # Removing chunks is only possible on bytes we can frame: identity encoding.
        self._filter = (
            drop_injected_usage
            and streaming
            and content_encoding.strip().lower() in ("", "identity")
        )

    @property
    def filtering(self) -> bool:
        return self._filter

    def feed(self, chunk: bytes) -> bytes:
        if self._filter:
            return self._feed_filtered(chunk)
        try:
            self._read(chunk)
        except DecodingError as exc:
            self._stop_reading(str(exc))
        except Exception as exc:  # a parser bug must never cost the client its response
            log.exception("usage parser failed; forwarding unchanged")
            self._stop_reading(f"parser error: {type(exc).__name__}")
        return chunk

    def _stop_reading(self, problem: str) -> None:
        self._problem = problem
        self._decoder = None
        self._stream = None
        self._custom = None
        self._body.clear()

    def _feed_filtered(self, chunk: bytes) -> bytes:
        # Framing and the usage-chunk test are plain byte operations; only the reader can
        # fail, and then events keep flowing, unread. Nothing held back is ever dropped.
        out: list[bytes] = []
        for event in self._splitter.feed(chunk):
            if not event.complete:
                out.append(event.raw)
                continue
            self._read_event(event)
            if openai.is_usage_chunk(event):
                continue
            out.append(openai.strip_null_usage(event.raw))
        return b"".join(out)

    def _read_event(self, event: Event) -> None:
        if self._stream is None:
            return
        try:
            self._stream.on_event(event)
        except Exception as exc:
            log.exception("usage parser failed; forwarding unchanged")
            self._stop_reading(f"parser error: {type(exc).__name__}")

    def _read(self, chunk: bytes) -> None:
        if self._decoder is None:
            return
        for piece in self._decoder.decode(chunk):
            if self._custom is not None:
                self._custom.feed(piece)
                continue
            if self._stream is not None:
                for event in self._splitter.feed(piece):
                    if event.complete:
                        self._stream.on_event(event)
                continue
            self._size += len(piece)
            if self._size > self._max:
                self._stop_reading(f"response body larger than {self._max} bytes; usage not read")
                return
            self._body.append(piece)

    def finish(self) -> tuple[bytes, CallResult]:
        """End of the body: the bytes still held back (filter mode) and what was read."""
        tail = self._splitter.tail() if self._filter else b""
        try:
            return tail, self._typed_error(self._result())
        except Exception as exc:
            log.exception("usage parser failed at end of body")
            return tail, CallResult(problem=f"parser error: {type(exc).__name__}")

    def _result(self) -> CallResult:
        if self._decoder is not None and not self._filter:
            try:
                rest = self._decoder.flush()
            except DecodingError as exc:
                self._stop_reading(str(exc))
                rest = b""
            if rest:
                self._read(rest)
        if self._custom is not None:
            return _with_problem(self._custom.result(), self._problem)
        if self._splitter.overflowed and self._problem is None:
            self._problem = f"a stream event exceeded the parse limit ({self._max} bytes)"
        stream = self._stream or (self._wire.stream_reader() if self._streaming else None)
        if stream is not None:
            # What the observer saw (size cap, encoding, parser error) explains a missing
            # usage better than the reader's own guess.
            return _with_problem(stream.result(), self._problem)
        if self._problem is not None:
            return CallResult(problem=self._problem)
        return self._read_document(b"".join(self._body))

    def _read_document(self, body: bytes) -> CallResult:
        if not body:
            return CallResult(problem="response body is empty")
        kind = "error body" if self._status >= 400 else "response body"
        try:
            document = json.loads(body)
        except UnicodeDecodeError as exc:
            return CallResult(
                problem=f"{kind} is not valid JSON (invalid UTF-8 at byte {exc.start})"
            )
        except json.JSONDecodeError as exc:
            return CallResult(problem=f"{kind} is not valid JSON ({exc.msg} at byte {exc.pos})")
        if self._status >= 400:
            return CallResult(error_type=self._wire.read_error(document))
        return self._wire.read_document(document)

    def _typed_error(self, result: CallResult) -> CallResult:
        """An error code the wire format finds in the headers (AWS `x-amzn-errortype`) wins
        over the body's: it is there even when the body is empty or a CDN's HTML page."""
        read = getattr(self._wire, "error_from_headers", None)
        if self._status < 400 or read is None:
            return result
        found: str | None = read(self._headers)
        return dataclasses.replace(result, error_type=found) if found else result


def _with_problem(result: CallResult, problem: str | None) -> CallResult:
    if problem is None:
        return result
    return dataclasses.replace(result, problem=problem)
