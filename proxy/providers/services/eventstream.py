"""Incremental decoder for `application/vnd.amazon.eventstream` (AWS binary event streams).

Frame layout (big-endian; https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html,
https://docs.aws.amazon.com/lexv2/latest/dg/event-stream-encoding.html):

    total length u32 | headers length u32 | prelude CRC32 (of the 8 bytes before it)
    headers | payload | message CRC32 (of every byte before it)

Each header: name length u8, name (UTF-8), value type u8, value. Value types: 0 true, 1 false,
2 int8, 3 int16, 4 int32, 5 int64, 6 bytes (u16 length), 7 string (u16 length), 8 timestamp
(int64 ms), 9 UUID (16 bytes). CRC32 is the gzip one (`zlib.crc32`).

The decoder never raises: a bad CRC, an impossible length or an unknown header type sets
`problem` and stops decoding (after a framing error nothing later can be trusted).

The write side serves section rollup: the proxy appends the call's cost report to a stream as
one more message (`cost_message`), after a `MessageBoundary` saw the upstream's bytes end on a
message boundary, and the SDK recognises and removes it by its exact header bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from proxy.protocol import STREAM_COST_EVENT_TYPE

EVENT_STREAM_TYPE: Final = "application/vnd.amazon.eventstream"
PRELUDE_BYTES: Final = 12
MAX_HEADERS_BYTES: Final = 128 * 1024
MAX_PAYLOAD_BYTES: Final = 16 * 1024 * 1024
"""The limits botocore enforces for the same format."""

HeaderValue = bool | int | bytes | str

_FIXED: Final = {2: (">b", 1), 3: (">h", 2), 4: (">i", 4), 5: (">q", 8), 8: (">q", 8)}


@dataclass(frozen=True)
class Message:
    headers: Mapping[str, HeaderValue]
    payload: bytes

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None


class HeaderError(ValueError):
    pass


def parse_headers(data: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    at = 0
    while at < len(data):
        size = data[at]
        name = data[at + 1 : at + 1 + size].decode("utf-8", "replace")
        at += 1 + size
        if at >= len(data):
            raise HeaderError(f"header {name!r} has no value type")
        kind = data[at]
        at += 1
        value: HeaderValue
        if kind in (0, 1):
            value = kind == 0
        elif kind in _FIXED:
            fmt, width = _FIXED[kind]
            if at + width > len(data):
                raise HeaderError(f"header {name!r} value is cut short")
            value = struct.unpack_from(fmt, data, at)[0]
            at += width
        elif kind in (6, 7):
            if at + 2 > len(data):
                raise HeaderError(f"header {name!r} value is cut short")
            (length,) = struct.unpack_from(">H", data, at)
            raw = data[at + 2 : at + 2 + length]
            if len(raw) != length:
                raise HeaderError(f"header {name!r} value is cut short")
            value = raw if kind == 6 else raw.decode("utf-8", "replace")
            at += 2 + length
        elif kind == 9:
            value = data[at : at + 16]
            at += 16
        else:
            raise HeaderError(f"header {name!r} has unknown value type {kind}")
        headers[name] = value
    return headers


class EventStreamDecoder:
    """Feed bytes in any pieces; get complete, CRC-checked messages."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._offset = 0
        """Stream offset of the first byte in `_buffer` (for messages that say where)."""
        self.problem: str | None = None
        self.messages = 0

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message held (non-zero at the end: the stream was cut)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        if self.problem is not None:
            return []
        self._buffer += data
        out: list[Message] = []
        while len(self._buffer) >= PRELUDE_BYTES:
            total, headers_length, prelude_crc = struct.unpack_from(">III", self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                return self._fail(out, f"prelude CRC mismatch at byte {self._offset}")
            payload_length = total - headers_length - PRELUDE_BYTES - 4
            if (
                headers_length > MAX_HEADERS_BYTES
                or payload_length > MAX_PAYLOAD_BYTES
                or payload_length < 0
            ):
                return self._fail(out, f"impossible message lengths at byte {self._offset}")
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            (message_crc,) = struct.unpack_from(">I", frame, total - 4)
            if zlib.crc32(frame[: total - 4]) != message_crc:
                return self._fail(out, f"message CRC mismatch at byte {self._offset}")
            end_headers = PRELUDE_BYTES + headers_length
            try:
                headers = parse_headers(frame[PRELUDE_BYTES:end_headers])
            except HeaderError as exc:
                return self._fail(out, f"bad message headers at byte {self._offset}: {exc}")
            out.append(Message(headers, frame[end_headers : total - 4]))
            del self._buffer[:total]
            self._offset += total
            self.messages += 1
        return out

    def _fail(self, decoded: list[Message], problem: str) -> list[Message]:
        self.problem = f"event stream: {problem}; rest of the stream not read"
        self._buffer.clear()
        return decoded


_STRING: Final = 7
_MAX_NAME_BYTES: Final = 255
_MAX_STRING_BYTES: Final = 0xFFFF


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One frame whose headers are strings (value type 7), in the order given."""
    parts: list[bytes] = []
    for name, value in headers.items():
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        if not raw_name or len(raw_name) > _MAX_NAME_BYTES or len(raw_value) > _MAX_STRING_BYTES:
            raise ValueError(f"header {name!r} does not fit the event-stream encoding")
        parts.append(
            struct.pack(">B", len(raw_name))
            + raw_name
            + struct.pack(">BH", _STRING, len(raw_value))
            + raw_value
        )
    encoded = b"".join(parts)
    if len(encoded) > MAX_HEADERS_BYTES or len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError("message larger than event-stream readers accept")
    return _framed(encoded, payload)


def _framed(encoded_headers: bytes, payload: bytes) -> bytes:
    """Prelude (total and header lengths, their CRC32), headers, payload, message CRC32."""
    total = PRELUDE_BYTES + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded_headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


COST_MESSAGE_HEADERS: Final = encode_message(
    {
        ":message-type": "event",
        ":event-type": STREAM_COST_EVENT_TYPE,
        ":content-type": "application/json",
    },
    b"",
)[PRELUDE_BYTES:-4]
"""The header bytes of every cost message: the SDK recognises one by them alone."""


def cost_message(report: bytes) -> bytes:
    """The message carrying the proxy's cost report (JSON) at the end of a stream."""
    return _framed(COST_MESSAGE_HEADERS, report)


def prelude_lengths(prelude: bytes) -> tuple[int, int] | None:
    """(total length, headers length) from a message's first 12 bytes; None when the prelude
    CRC does not match or the lengths are impossible (the stream is not one we can frame)."""
    total, headers_length, crc = struct.unpack_from(">III", prelude)
    if zlib.crc32(prelude[:8]) != crc:
        return None
    payload_length = total - headers_length - PRELUDE_BYTES - 4
    if headers_length > MAX_HEADERS_BYTES or not 0 <= payload_length <= MAX_PAYLOAD_BYTES:
        return None
    return total, headers_length


class MessageBoundary:
    """Follows a stream's frame lengths, reading preludes only: whether the bytes fed so far
    end exactly where a message ends. Cheaper than decoding (no message CRC, no headers), and
    gives up for good on a prelude it cannot trust."""

    def __init__(self) -> None:
        self._prelude = b""  # the next message's prelude, as far as it has arrived
        self._remaining = 0  # bytes of the current message after its prelude still to come
        self._broken = False
        self._messages = 0

    @property
    def at_message_end(self) -> bool:
        """At least one message, and the last one complete."""
        return not (self._broken or self._remaining or self._prelude) and self._messages > 0

    def feed(self, data: bytes) -> None:
        at, size = 0, len(data)
        while at < size and not self._broken:
            if self._remaining:
                step = min(self._remaining, size - at)
                self._remaining -= step
                at += step
                continue
            need = PRELUDE_BYTES - len(self._prelude)
            self._prelude += data[at : at + need]
            at += need
            if len(self._prelude) < PRELUDE_BYTES:
                return
            lengths = prelude_lengths(self._prelude)
            if lengths is None:
                self._broken = True
                return
            self._prelude = b""
            self._remaining = lengths[0] - PRELUDE_BYTES
            self._messages += 1
