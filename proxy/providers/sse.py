"""Incremental Server-Sent Events framing (https://html.spec.whatwg.org/#server-sent-events).

Only framing: events are split on blank lines and their `event:`/`data:` fields read. Payloads
stay bytes so a caller decodes JSON only for the few events that carry usage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\n|\r")


@dataclass(frozen=True)
class Event:
    raw: bytes
    """The event as received, boundary included."""
    name: bytes
    """The `event:` field, empty when absent."""
    data: bytes
    """The `data:` lines joined by newlines."""
    complete: bool = True
    """False for the bytes of an event abandoned for exceeding the size cap (not parsed)."""


def parse_event(raw: bytes) -> Event:
    # Most events are one `data:` line ending in a blank line: read those without a regex.
    if raw.endswith(b"\n\n"):
        line = raw[:-2]
        if line.startswith(b"data:") and b"\n" not in line and b"\r" not in line:
            value = line[5:]
            return Event(raw, b"", value[1:] if value.startswith(b" ") else value)
    name = b""
    data: list[bytes] = []
    for line in _LINE.split(raw):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b"event:"):
            name = line[6:].strip()
    return Event(raw, name, b"\n".join(data))


class EventSplitter:
    """Feed bytes, get complete events; an incomplete tail waits for more bytes."""

    def __init__(self, max_pending: int) -> None:
        self._pending = b""
        self._max_pending = max_pending
        self.overflowed = False

    def feed(self, chunk: bytes) -> Iterator[Event]:
        buffer = self._pending + chunk if self._pending else chunk
        if b"\r" in buffer:
            start = 0
            for match in _BOUNDARY.finditer(buffer):
                yield parse_event(buffer[start : match.end()])
                start = match.end()
            self._pending = buffer[start:]
        else:  # `\n\n` is then the only boundary: split, as the regex would, without it
            *events, self._pending = buffer.split(b"\n\n")
            for event in events:
                yield parse_event(event + b"\n\n")
        if len(self._pending) > self._max_pending:
            # One event larger than the cap: give up on it rather than hold unbounded memory,
            # but hand its bytes back so a caller that forwards events loses nothing.
            overflow, self._pending = self._pending, b""
            self.overflowed = True
            yield Event(overflow, b"", b"", complete=False)

    def tail(self) -> bytes:
        """Bytes after the last complete event (a stream cut mid-event)."""
        pending, self._pending = self._pending, b""
        return pending
