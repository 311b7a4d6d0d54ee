"""Cohere API v2: chat (JSON and SSE), embed and rerank.

Chat (https://docs.cohere.com/reference/chat, cohere-python `types/usage.py`): `usage` has
`billed_units` (what is billed) and `tokens` (raw, with prompt-template tokens that are not
billed): billed units are priced, raw tokens only when billed units are missing. Streams
(https://docs.cohere.com/reference/chat-stream): SSE events typed by their JSON `type`; the
final `message-end` carries `delta.usage` and `delta.finish_reason`.
Embed (https://docs.cohere.com/reference/embed): `meta.billed_units.input_tokens`, `images`
and `image_tokens` (Embed v4 image inputs, priced apart from text tokens; cohere-python
`types/api_meta_billed_units.py`). Rerank (https://docs.cohere.com/reference/rerank):
`meta.billed_units.search_units` (one query with up to 100 documents is one search unit).
The SDK types billed units as floats; integral floats (`12.0`) are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from pricing import TokenUsage
from proxy.providers.llm._common import whole_count
from proxy.providers.llm._names import UNIT_IMAGE_TOKENS, UNIT_IMAGES, UNIT_SEARCH_UNITS
from proxy.providers.llm.embeddings import NoStream
from proxy.providers.llm.responses import event_type
from proxy.providers.result import CallResult, UsageError, mapping, text
from proxy.providers.sse import Event


def read_chat_usage(usage: Mapping[str, object]) -> TokenUsage:
    billed = mapping(usage.get("billed_units"))
    counts = billed if billed is not None else mapping(usage.get("tokens"))
    if counts is None:
        raise UsageError("usage has neither billed_units nor tokens")
    return TokenUsage(
        input_tokens=whole_count(counts, "input_tokens", required=True),
        output_tokens=whole_count(counts, "output_tokens"),
    )


_BILLED_UNITS = (
    ("search_units", UNIT_SEARCH_UNITS),
    ("images", UNIT_IMAGES),
    ("image_tokens", UNIT_IMAGE_TOKENS),
)
_EMBED_UNITS = frozenset({UNIT_IMAGES, UNIT_IMAGE_TOKENS})


def billed_units(billed: Mapping[str, object]) -> dict[str, Decimal]:
    units: dict[str, Decimal] = {}
    for key, unit in _BILLED_UNITS:
        count = whole_count(billed, key)
        if count:
            units[unit] = Decimal(count)
    return units


def read_error(document: object) -> str | None:
    # v2 errors are `{"id": ..., "message": ...}`: no code to report.
    return None


def _chat(body: Mapping[str, object], usage: Mapping[str, object] | None) -> CallResult:
    response_id = text(body.get("id"))
    reason = text(body.get("finish_reason"))
    reasons = (reason,) if reason else ()
    if usage is None:
        return CallResult(None, response_id, None, reasons, "response has no usage object")
    try:
        units = billed_units(mapping(usage.get("billed_units")) or {})
        return CallResult(None, response_id, read_chat_usage(usage), reasons, units=units)
    except UsageError as exc:
        return CallResult(None, response_id, None, reasons, f"unreadable usage: {exc}")


class Chat:
    """`WireFormat` for `/v2/chat` (the response names no model: the request's is used)."""

    def read_document(self, document: object) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        return _chat(body, mapping(body.get("usage")))

    def read_error(self, document: object) -> str | None:
        return read_error(document)

    def stream_reader(self) -> ChatStreamReader:
        return ChatStreamReader()


class ChatStreamReader:
    def __init__(self) -> None:
        self._id: str | None = None
        self._final: CallResult | None = None
        self._problem: str | None = None
        self._error: str | None = None

    def on_event(self, event: Event) -> None:
        kind = event_type(event)
        if kind not in ("message-start", "message-end"):
            return
        try:
            body = mapping(json.loads(event.data)) or {}
        except ValueError:
            self._problem = f"{kind} event is not valid JSON"
            return
        if kind == "message-start":
            self._id = self._id or text(body.get("id"))
            return
        delta = mapping(body.get("delta")) or {}
        self._error = text(delta.get("error")) and "stream_error"
        final = {"id": body.get("id") or self._id, "finish_reason": delta.get("finish_reason")}
        self._final = _chat(final, mapping(delta.get("usage")))

    def result(self) -> CallResult:
        if self._final is None:
            problem = self._problem or "stream ended before message-end (truncated)"
            return CallResult(response_id=self._id, problem=problem)
        final = self._final
        return CallResult(
            None,
            final.response_id,
            final.usage,
            final.finish_reasons,
            final.problem or self._problem,
            self._error,
            final.units,
        )


def _meta_billed(document: object) -> tuple[Mapping[str, object] | None, CallResult | None]:
    body = mapping(document)
    if body is None:
        return None, CallResult(problem="response body is not a JSON object")
    billed = mapping((mapping(body.get("meta")) or {}).get("billed_units"))
    if billed is None:
        problem = "response has no meta.billed_units"
        return None, CallResult(response_id=text(body.get("id")), problem=problem)
    return billed, None


class Embed:
    """`WireFormat` for `/v2/embed`: billed input tokens, images and image tokens.

    Image tokens are reported as a unit, not folded into input tokens: they have their own
    price, and a call that read as text tokens alone (or as zero) would read low.
    """

    def read_document(self, document: object) -> CallResult:
        billed, failed = _meta_billed(document)
        if billed is None:
            return failed or CallResult()
        units = {k: v for k, v in billed_units(billed).items() if k in _EMBED_UNITS}
        try:
            tokens = TokenUsage(whole_count(billed, "input_tokens"), 0)
        except UsageError as exc:
            return CallResult(problem=f"unreadable usage: {exc}", units=units)
        return CallResult(usage=tokens if tokens.input_tokens or not units else None, units=units)

    def read_error(self, document: object) -> str | None:
        return read_error(document)

    def stream_reader(self) -> NoStream:
        return NoStream()


class Rerank:
    """`WireFormat` for `/v2/rerank`: search units."""

    def read_document(self, document: object) -> CallResult:
        billed, failed = _meta_billed(document)
        if billed is None:
            return failed or CallResult()
        try:
            units = billed_units(billed)
        except UsageError as exc:
            return CallResult(problem=f"unreadable usage: {exc}")
        if UNIT_SEARCH_UNITS not in units:
            return CallResult(problem="meta.billed_units has no search_units")
        return CallResult(units={UNIT_SEARCH_UNITS: units[UNIT_SEARCH_UNITS]})

    def read_error(self, document: object) -> str | None:
        return read_error(document)

    def stream_reader(self) -> NoStream:
        return NoStream()
