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
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

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
