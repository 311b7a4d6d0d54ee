"""Section cost rollup: each call's cost is added to every section it was made in.

The frames of the active sections travel in the OpenTelemetry context (so threads started
with OpenTelemetry's threading instrumentation and asyncio tasks see them). In proxy mode the
proxy reports each call's cost back - a header on JSON responses, an SSE comment at the end
of SSE streams, one last message at the end of AWS event streams (see `proxy.call`) - and this
module strips that from what the application sees.
Each patched client shows it the response body through a `BodyTap` (`read_back` for httpx
and httpx2, `llmobserve._bodies` for urllib3 and aiohttp responses).
"""

from __future__ import annotations

import functools
import json
import logging
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from opentelemetry import context
from opentelemetry.trace import Span

from proxy.protocol import COST_HEADER_NAME, STREAM_COST_PREFIX
from proxy.providers.services.eventstream import (
    COST_MESSAGE_HEADERS,
    EVENT_STREAM_TYPE,
    PRELUDE_BYTES,
    prelude_lengths,
)
from semconv import LlmobserveCostStatusValues

log = logging.getLogger("llmobserve")

_FRAMES = context.create_key("llmobserve-section-frames")
_UNPRICED = frozenset(
    {LlmobserveCostStatusValues.UNKNOWN_MODEL, LlmobserveCostStatusValues.USAGE_UNAVAILABLE}
)
STREAM_COST_MARKER = STREAM_COST_PREFIX.encode()
_MAX_CALL_USD = Decimal(1_000_000)


@dataclass
class Frame:
    """One entry into a section: the costs of the calls made inside it."""

    span: Span
    cost: Decimal = Decimal(0)
    calls: int = 0
    unpriced: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, usd: Decimal | None) -> None:
        with self._lock:
            if usd is None:
                self.unpriced += 1
            else:
                self.cost += usd
                self.calls += 1


def active_frames(ctx: context.Context | None = None) -> tuple[Frame, ...]:
    frames = context.get_value(_FRAMES, ctx)
    return frames if isinstance(frames, tuple) else ()


def with_frame(frame: Frame, ctx: context.Context) -> context.Context:
    return context.set_value(_FRAMES, (*active_frames(ctx), frame), ctx)


def add_call(frames: tuple[Frame, ...], usd: Decimal | None) -> None:
    for frame in frames:
        frame.add(usd)


def apply_report(frames: tuple[Frame, ...], report: str) -> None:
    """Apply the proxy's `{"status": ..., "usd": ...}` report to the frames."""
    try:
        document = json.loads(report)
        status = document.get("status")
        if status == LlmobserveCostStatusValues.PRICED:
            usd = Decimal(document["usd"])
            # Untrusted input: NaN, infinities, negative or absurd amounts would poison (or
            # overflow, raising into the application) every section total they reach.
            if not (usd.is_finite() and 0 <= usd <= _MAX_CALL_USD):
                raise ValueError(f"implausible cost {document['usd']!r}")
            add_call(frames, usd)
        elif status in _UNPRICED:
            add_call(frames, None)
    except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError):
        log.warning("llmobserve: unreadable cost report from the proxy")


class BodyTap(Protocol):
    """Sees a response body go by on its way to the application (rollup, direct mode)."""

    def begin(self, decoded: bool) -> None:
        """Before the first chunk: whether chunks arrive with their content-encoding undone."""

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to pass on in place of `chunk` (it may hold some back, or drop some)."""

    def close(self, error: BaseException | None = None) -> bytes:
        """End of the body (or of reading it): bytes still held back. Called once."""


class CommentFilter:
    """Removes the proxy's final cost comment from an SSE byte stream and applies it.

    The comment is a line of its own (`: llmobserve-cost {...}`), so the marker counts only at
    the start of a line: an event whose text happens to contain it passes untouched. Only bytes
    that may begin the marker at a line start are held back, never an event's closing blank
    line, so each event reaches the application as soon as it arrives.
    """

    def __init__(self, frames: tuple[Frame, ...]) -> None:
        self._frames = frames
        self._held = b""  # a possible start of the marker, at a line start
        self._line_start = True  # the next byte passed on starts a line
        self._comment: bytes | None = None

    def begin(self, decoded: bool) -> None:
        pass  # the proxy appends the comment as plain text, whatever the encoding

    def feed(self, chunk: bytes) -> bytes:
        if self._comment is not None:
            self._comment += chunk
            return b""
        data = self._held + chunk
        line_start = bool(self._held) or self._line_start
        index = _marker_at_line_start(data, line_start)
        if index >= 0:
            self._comment, self._held = data[index + len(STREAM_COST_MARKER) :], b""
            return data[:index]
        keep = _partial_marker(data, line_start)
        self._held = data[len(data) - keep :] if keep else b""
        out = data[: len(data) - keep]
        if out:
            self._line_start = out.endswith(b"\n")
        return out

    def close(self, error: BaseException | None = None) -> bytes:
        held, self._held = self._held, b""
        if self._comment is not None:
            apply_report(self._frames, self._comment.decode("utf-8", "replace").strip())
            self._comment = None
        return held


def _marker_at_line_start(data: bytes, line_start: bool) -> int:
    index = data.find(STREAM_COST_MARKER)
    while index >= 0:
        if (index == 0 and line_start) or data[index - 1 : index] == b"\n":
            return index
        index = data.find(STREAM_COST_MARKER, index + 1)
    return -1


def _partial_marker(data: bytes, line_start: bool) -> int:
    """Length of the longest suffix of `data` that may be the start of the marker."""
    for size in range(min(len(data), len(STREAM_COST_MARKER) - 1), 0, -1):
        start = len(data) - size
        at_line_start = (start == 0 and line_start) or data[start - 1 : start] == b"\n"
        if at_line_start and data.endswith(STREAM_COST_MARKER[:size]):
            return size
    return 0


class SyncCostStream:
    """An httpx-like response stream seen through a `BodyTap` that takes the cost report off
    (`CommentFilter` for SSE, `CostMessageFilter` for AWS event streams)."""

    def __init__(self, inner: Any, tap: BodyTap) -> None:
        self._inner = inner
        self._filter = tap

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            out = self._filter.feed(chunk)
            if out:
                yield out
        rest = self._filter.close()
        if rest:
            yield rest

    def close(self) -> None:
        self._inner.close()


class AsyncCostStream:
    def __init__(self, inner: Any, tap: BodyTap) -> None:
        self._inner = inner
        self._filter = tap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            out = self._filter.feed(chunk)
            if out:
                yield out
        rest = self._filter.close()
        if rest:
            yield rest

    async def aclose(self) -> None:
        await self._inner.aclose()


@functools.cache
def _stream_class(base: type, is_async: bool) -> type:
    # httpx and httpx2 check that response streams derive from their own byte-stream bases.
    mixin = AsyncCostStream if is_async else SyncCostStream
    return type(mixin.__name__, (mixin, base), {})


def read_back(
    response: Any, frames: tuple[Frame, ...], *, stream_base: type, is_async: bool
) -> None:
    """Take the proxy's cost report off an httpx-like response, applying it to `frames`.

    `stream_base` is the library's `SyncByteStream` or `AsyncByteStream`.
    """
    report = response.headers.get(COST_HEADER_NAME)
    if report is not None:
        del response.headers[COST_HEADER_NAME]
        apply_report(frames, report)
        return
    content_type = response.headers.get("content-type", "")
    tap: BodyTap
    if content_type.startswith("text/event-stream"):
        tap = CommentFilter(frames)
    elif frames and content_type.startswith(EVENT_STREAM_TYPE):
        tap = CostMessageFilter(frames)
    else:
        return
    response.stream = _stream_class(stream_base, is_async)(response.stream, tap)


def read_report(frames: tuple[Frame, ...], report: str | None, content_type: str) -> BodyTap | None:
    """Apply the proxy's report: from its header (`report`, which the caller removed from the
    response), else the filter that takes it off an SSE or AWS event-stream body, else None
    (nothing reported)."""
    if report is not None:
        apply_report(frames, report)
        return None
    if content_type.startswith("text/event-stream"):
        return CommentFilter(frames)
    if content_type.startswith(EVENT_STREAM_TYPE):
        return CostMessageFilter(frames)
    return None


_COST_MESSAGE_MAX_BYTES = 64 * 1024  # a report is ~50 bytes; never hold back more than this


def _may_be_report(total: int, headers_length: int) -> bool:
    return headers_length == len(COST_MESSAGE_HEADERS) and total <= _COST_MESSAGE_MAX_BYTES


class CostMessageFilter:
    """Removes the proxy's cost message from an AWS event stream and applies its report.

    It follows the stream's framing and recognises the message by its exact header bytes
    (`COST_MESSAGE_HEADERS`), so readers such as botocore never see it (they would parse an
    unknown event). Only the start of a message is held back, and only while it may still be
    the cost message: its prelude, then bytes that match those headers. Any other message
    passes on as soon as it differs, so no event waits for later network data. Bytes it cannot
    frame (bad prelude CRC, impossible lengths, a body still encoded) turn it into a plain
    pass-through for the rest of the stream; a cut message at the end passes on unchanged.
    """

    def __init__(self, frames: tuple[Frame, ...]) -> None:
        self._frames = frames
        self._held = b""  # the current message's first bytes, while it may be the cost message
        self._remaining = 0  # bytes of the current (ordinary) message still to pass on
        self._total = 0  # the held message's total length, once its prelude is read
        self._framing = True  # False: a plain pass-through from here on (fail open)
        self._report: bytes | None = None

    def begin(self, decoded: bool) -> None:
        pass  # the proxy appends the message to identity-encoded streams only

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        at, size = 0, len(chunk)
        run = 0  # where the bytes passed on unchanged (not yet in `out`) begin
        while at < size and self._framing:
            if self._remaining:
                step = min(self._remaining, size - at)
                self._remaining -= step
                at += step
                continue
            if not self._held and size - at >= PRELUDE_BYTES:
                lengths = prelude_lengths(chunk[at : at + PRELUDE_BYTES])
                if lengths is None:
                    self._framing = False
                    break
                if not _may_be_report(*lengths):
                    self._remaining = lengths[0]
                    continue
            if at > run:
                out.append(chunk[run:at])
            # Never past the end of this message: its prelude first, then its length.
            need = (self._total or PRELUDE_BYTES) - len(self._held)
            self._held += chunk[at : at + need]
            at += need
            self._decide(out)
            run = at
        if not out:
            return chunk if run == 0 else chunk[run:]
        out.append(chunk[run:])
        return b"".join(out)

    def _decide(self, out: list[bytes]) -> None:
        """Pass the held bytes on, keep holding them, or drop a complete cost message."""
        held = self._held
        if self._total == 0:
            if len(held) < PRELUDE_BYTES:
                return
            lengths = prelude_lengths(held)
            if lengths is None:
                self._release(out, framing=False)
                return
            if not _may_be_report(*lengths):
                self._release(out, remaining=lengths[0])
                return
            self._total = lengths[0]
        if not COST_MESSAGE_HEADERS.startswith(held[PRELUDE_BYTES:][: len(COST_MESSAGE_HEADERS)]):
            self._release(out, remaining=self._total)
        elif len(held) == self._total:
            (crc,) = struct.unpack_from(">I", held, self._total - 4)
            if zlib.crc32(held[:-4]) != crc:
                self._release(out, framing=False)
                return
            self._report = held[PRELUDE_BYTES + len(COST_MESSAGE_HEADERS) : -4]
            self._held, self._total = b"", 0

    def _release(self, out: list[bytes], *, remaining: int = 0, framing: bool = True) -> None:
        """The held bytes start an ordinary message of `remaining` bytes (or cannot be framed)."""
        out.append(self._held)
        self._remaining = max(remaining - len(self._held), 0)
        self._held, self._total, self._framing = b"", 0, framing

    def close(self, error: BaseException | None = None) -> bytes:
        held, self._held = self._held, b""
        if self._report is not None:
            apply_report(self._frames, self._report.decode("utf-8", "replace"))
            self._report = None
        return held
