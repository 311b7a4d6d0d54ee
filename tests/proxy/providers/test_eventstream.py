"""The event-stream write side: the encoder, the cost message and the boundary follower.

Frames are checked with botocore's own `EventStreamBuffer` (which verifies both CRCs), not
only with our decoder, so the two sides cannot agree on a mistake.
"""

from __future__ import annotations

import itertools
import json
import struct
import zlib

import pytest

from proxy.protocol import STREAM_COST_EVENT_TYPE
from proxy.providers.services.eventstream import (
    COST_MESSAGE_HEADERS,
    EventStreamDecoder,
    MessageBoundary,
    cost_message,
    encode_message,
)

from ._services_support import event, exception

eventstream = pytest.importorskip("botocore.eventstream")

REPORT = b'{"status":"priced","usd":"0.00001175"}'
MESSAGES = (
    event("messageStart", {"role": "assistant"}),
    event("contentBlockDelta", {"delta": {"text": "Hi"}, "contentBlockIndex": 0}),
    event("metadata", {"usage": {"inputTokens": 12, "outputTokens": 7}}),
)
STREAM = b"".join(MESSAGES)


def botocore_messages(data: bytes) -> list[object]:
    buffer = eventstream.EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_encode_message_round_trips_through_botocore_and_our_decoder():
    headers = {":message-type": "event", ":event-type": "chunk", "name-é": "välue"}
    frame = encode_message(headers, b'{"bytes":"aGk="}')
    (message,) = botocore_messages(frame)
    assert message.headers == headers
    assert message.payload == b'{"bytes":"aGk="}'
    (ours,) = EventStreamDecoder().feed(frame)
    assert (dict(ours.headers), ours.payload) == (headers, b'{"bytes":"aGk="}')


def test_encode_message_with_no_headers_and_no_payload_is_a_valid_frame():
    frame = encode_message({}, b"")
    assert len(frame) == 16
    (message,) = botocore_messages(frame)
    assert (message.headers, message.payload) == ({}, b"")


def test_encode_message_refuses_headers_the_format_cannot_carry():
    with pytest.raises(ValueError, match="does not fit"):
        encode_message({"x" * 256: "v"}, b"")
    with pytest.raises(ValueError, match="does not fit"):
        encode_message({"name": "v" * 0x10000}, b"")
    with pytest.raises(ValueError, match="larger than"):
        encode_message({f"h{i}": "v" * 60_000 for i in range(3)}, b"")  # > MAX_HEADERS_BYTES


def test_cost_message_is_an_event_of_our_type_carrying_the_report():
    (message,) = botocore_messages(cost_message(REPORT))
    assert message.headers == {
        ":message-type": "event",
        ":event-type": STREAM_COST_EVENT_TYPE,
        ":content-type": "application/json",
    }
    assert json.loads(message.payload) == json.loads(REPORT)
    assert cost_message(REPORT) == encode_message(message.headers, REPORT)
    assert cost_message(REPORT)[12 : 12 + len(COST_MESSAGE_HEADERS)] == COST_MESSAGE_HEADERS


def test_botocore_event_stream_parses_the_cost_message_to_nothing_it_yields():
    # What botocore does if the message ever reached it: an unknown event parses to `{}`,
    # which `EventStream.__iter__` drops. The SDK still removes it (other readers may not).
    boto3 = pytest.importorskip("boto3")
    from botocore.parsers import EventStreamJSONParser

    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    shape = client.meta.service_model.operation_model("ConverseStream").output_shape
    client.close()

    class Raw:
        def stream(self) -> object:
            yield STREAM + cost_message(REPORT)

    stream = eventstream.EventStream(
        Raw(), shape.members["stream"], EventStreamJSONParser(), "ConverseStream"
    )
    events = list(stream)
    assert [next(iter(e)) for e in events] == ["messageStart", "contentBlockDelta", "metadata"]


def test_message_boundary_is_at_the_end_only_after_a_whole_message_at_every_split():
    ends = set(itertools.accumulate(len(m) for m in MESSAGES))
    for split in range(len(STREAM) + 1):
        boundary = MessageBoundary()
        boundary.feed(STREAM[:split])
        assert boundary.at_message_end is (split in ends), split
        boundary.feed(STREAM[split:])
        assert boundary.at_message_end


def test_message_boundary_byte_by_byte_and_with_exceptions():
    data = STREAM + exception("ThrottlingException", "slow down")
    boundary = MessageBoundary()
    for index in range(len(data)):
        boundary.feed(data[index : index + 1])
    assert boundary.at_message_end


def test_message_boundary_gives_up_on_a_prelude_it_cannot_trust():
    corrupt = bytearray(STREAM)
    corrupt[9] ^= 0xFF  # the first prelude's CRC
    boundary = MessageBoundary()
    boundary.feed(bytes(corrupt))
    assert not boundary.at_message_end
    impossible = struct.pack(">II", 10, 0)  # shorter than a prelude and a CRC
    boundary = MessageBoundary()
    boundary.feed(impossible + struct.pack(">I", zlib.crc32(impossible)))
    boundary.feed(b"\x00" * 4)
    assert not boundary.at_message_end


def test_message_boundary_of_nothing_is_not_a_message_end():
    boundary = MessageBoundary()
    boundary.feed(b"")
    assert not boundary.at_message_end
