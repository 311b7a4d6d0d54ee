"""`CostMessageFilter`: the proxy's cost message comes off an AWS event stream, exactly, however
the stream is cut into reads, and ordinary events are never held back past their first bytes."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from opentelemetry.trace import INVALID_SPAN

from llmobserve._rollup import CostMessageFilter, Frame, read_report
from proxy.providers.services.eventstream import COST_MESSAGE_HEADERS, cost_message
from tests.proxy.providers._services_support import encode_message, event

eventstream = pytest.importorskip("botocore.eventstream")

REPORT = b'{"status":"priced","usd":"0.00001175"}'
MESSAGES = (
    event("messageStart", {"role": "assistant"}),
    event("contentBlockDelta", {"delta": {"text": "Hi"}, "contentBlockIndex": 0}),
    event("metadata", {"usage": {"inputTokens": 12, "outputTokens": 7}}),
)
EVENTS = b"".join(MESSAGES)
STREAM = EVENTS + cost_message(REPORT)
# An ordinary event whose headers are exactly as long as the cost message's: it can only be
# told apart by its header bytes.
LOOKALIKE = encode_message(
    {
        ":message-type": "event",
        ":event-type": "llmobserve-coat",
        ":content-type": "application/json",
    },
    b'{"x":1}',
)


def run(pieces: list[bytes]) -> tuple[bytes, Frame]:
    frame = Frame(INVALID_SPAN)
    tap = CostMessageFilter((frame,))
    tap.begin(False)
    out = b"".join(tap.feed(piece) for piece in pieces) + tap.close()
    return out, frame


def test_cost_message_filter_removes_the_report_split_anywhere_and_applies_it():
    for split in range(len(STREAM) + 1):
        out, frame = run([STREAM[:split], STREAM[split:]])
        assert out == EVENTS, split
        assert (frame.cost, frame.calls) == (Decimal("0.00001175"), 1), split


def test_cost_message_filter_removes_the_report_read_byte_by_byte():
    out, frame = run([STREAM[i : i + 1] for i in range(len(STREAM))])
    assert (out, frame.cost) == (EVENTS, Decimal("0.00001175"))


def test_cost_message_filter_passes_each_whole_event_on_at_once():
    tap = CostMessageFilter((Frame(INVALID_SPAN),))
    for message in MESSAGES:
        assert tap.feed(message) is message  # not even copied
    assert tap.feed(LOOKALIKE) == LOOKALIKE  # told apart within the same read
    assert tap.feed(b"".join(MESSAGES)) == b"".join(MESSAGES)


def test_cost_message_filter_holds_back_only_a_prelude_or_bytes_that_match_the_report():
    tap = CostMessageFilter((Frame(INVALID_SPAN),))
    passed = b""
    for index, byte in enumerate(LOOKALIKE):
        passed += tap.feed(bytes([byte]))
        held = index + 1 - len(passed)
        # Never more than the prelude and the header bytes the message shares with ours.
        assert held <= 12 + COST_MESSAGE_HEADERS.index(b"cost") + 2, index
    assert passed == LOOKALIKE
    report = cost_message(REPORT)
    passed = b"".join(tap.feed(report[i : i + 1]) for i in range(len(report) - 1))
    assert passed == b""  # the report, all but its last byte: held, as it may be ours
    assert tap.feed(report[-1:]) == b""


def test_cost_message_filter_applies_unpriced_reports_as_unpriced_calls():
    stream = EVENTS + cost_message(b'{"status":"unknown_model","usd":null}')
    out, frame = run([stream])
    assert out == EVENTS
    assert (frame.calls, frame.unpriced) == (0, 1)


def test_cost_message_filter_passes_a_cut_report_on_unchanged():
    cut = STREAM[:-5]
    out, frame = run([cut])
    assert out == cut
    assert frame.calls == frame.unpriced == 0


def test_cost_message_filter_passes_a_corrupt_report_on_unchanged():
    corrupt = bytearray(STREAM)
    corrupt[-1] ^= 0x01  # the report's message CRC
    for split in (len(EVENTS) + 3, len(corrupt) - 2):
        out, frame = run([bytes(corrupt[:split]), bytes(corrupt[split:])])
        assert out == bytes(corrupt)
        assert frame.calls == 0


def test_cost_message_filter_passes_bytes_it_cannot_frame_through():
    garbage = b"\x1f\x8b\x08\x00" + bytes(range(60))  # e.g. a body still gzip-encoded
    out, frame = run([garbage[:5], garbage[5:], cost_message(REPORT)])
    assert out == garbage + cost_message(REPORT)
    assert frame.calls == 0


def test_cost_message_filter_output_decodes_with_botocore_to_the_upstream_events():
    out, _ = run([STREAM[:100], STREAM[100:]])
    buffer = eventstream.EventStreamBuffer()
    buffer.add_data(out)
    types = [m.headers[":event-type"] for m in buffer]
    assert types == ["messageStart", "contentBlockDelta", "metadata"]


def test_read_report_picks_the_filter_by_content_type():
    frames = (Frame(INVALID_SPAN),)
    tap = read_report(frames, None, "application/vnd.amazon.eventstream")
    assert isinstance(tap, CostMessageFilter)
    assert read_report(frames, None, "application/json") is None


@pytest.mark.parametrize("seed", range(20))
def test_cost_message_filter_on_random_streams_cut_at_random(seed):
    rng = random.Random(seed)
    kinds = [
        lambda: event("contentBlockDelta", {"delta": {"text": "x" * rng.randint(0, 300)}}),
        lambda: LOOKALIKE,
        lambda: encode_message({}, b"p" * rng.randint(0, 40)),
        lambda: encode_message({":event-type": "chunk"}, b"{}"),
    ]
    events = b"".join(rng.choice(kinds)() for _ in range(rng.randint(0, 12)))
    reported = rng.random() < 0.7
    stream = events + (cost_message(REPORT) if reported else b"")
    cuts = sorted(rng.sample(range(len(stream) + 1), min(len(stream) + 1, rng.randint(0, 15))))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    out, frame = run(pieces)
    assert out == events
    assert frame.calls == (1 if reported else 0)
