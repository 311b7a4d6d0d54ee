"""The AWS event stream binary framing (`application/vnd.amazon.eventstream`), write side.

https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream
describes the frame, which Bedrock's ConverseStream and InvokeModelWithResponseStream use:

    [total length: uint32][headers length: uint32][prelude CRC32: uint32]
    [headers][payload][message CRC32: uint32]

Each header is [name length: uint8][name][type: uint8 (7 = string)][value length: uint16][value];
the message CRC covers everything before it. botocore's `EventStreamBuffer` checks both CRCs.
"""

from __future__ import annotations

import struct
import zlib

_STRING = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING, len(raw_value))
        + raw_value
    )


def event_message(event_type: str, payload: bytes) -> bytes:
    """One `:message-type: event` frame carrying a JSON `payload`."""
    headers = (
        _header(":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))
