"""SSE framing: event boundaries, chunk-boundary independence, the pending-bytes cap."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from proxy.providers.sse import Event, EventSplitter, parse_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OPENAI_STREAM = (FIXTURES / "openai/chat_completion_stream.txt").read_bytes()
ANTHROPIC_STREAM = (FIXTURES / "anthropic/message_stream.txt").read_bytes()
SEED = 20240718


def _split(data: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    start = 0
    for size in sizes:
        if start >= len(data):
            return
        yield data[start : start + size]
        start += size
    if start < len(data):
        yield data[start:]


def _random_chunks(data: bytes, rng: random.Random, max_size: int) -> list[bytes]:
    return list(_split(data, iter(lambda: rng.randint(1, max_size), None)))


def _events(chunks: Iterable[bytes], max_pending: int = 1 << 20) -> tuple[list[Event], bytes]:
    splitter = EventSplitter(max_pending)
    events = [event for chunk in chunks for event in splitter.feed(chunk)]
    assert not splitter.overflowed
    return events, splitter.tail()


def _whole(stream: bytes) -> list[Event]:
    events, tail = _events([stream])
    assert tail == b""
    return events


def test_parse_event_reads_name_and_data() -> None:
    event = parse_event(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')

    assert event.name == b"message_stop"
    assert event.data == b'{"type": "message_stop"}'
    assert event.raw == b'event: message_stop\ndata: {"type": "message_stop"}\n\n'


def test_parse_event_joins_data_lines_with_newlines() -> None:
    event = parse_event(b"data: first\ndata:second\ndata:  third\n\n")

    # One leading space is removed (WHATWG SSE "field value"); a second one is data.
    assert event.data == b"first\nsecond\n third"


def test_parse_event_ignores_comments_ids_and_unknown_fields() -> None:
    event = parse_event(b": keep-alive\nid: 7\nretry: 1000\nfoo: bar\ndata: x\n\n")

    assert event.name == b""
    assert event.data == b"x"


def test_parse_event_is_empty_when_there_is_no_data() -> None:
    event = parse_event(b": ping\n\n")

    assert (event.name, event.data) == (b"", b"")


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_parse_event_accepts_every_line_ending(newline: bytes) -> None:
    raw = newline.join([b"event: ping", b"data: a", b"data: b", b"", b""])

    event = parse_event(raw)

    assert (event.name, event.data) == (b"ping", b"a\nb")


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_event_splitter_splits_on_blank_line(newline: bytes) -> None:
    blank = newline * 2
    stream = b"data: 1" + blank + b"event: e" + newline + b"data: 2" + blank

    events, tail = _events([stream])

    assert [(e.name, e.data) for e in events] == [(b"", b"1"), (b"e", b"2")]
    assert [e.raw for e in events] == [
        b"data: 1" + blank,
        b"event: e" + newline + b"data: 2" + blank,
    ]
    assert tail == b""


def test_event_splitter_keeps_every_byte_in_raw_events() -> None:
    events = _whole(ANTHROPIC_STREAM)

    assert b"".join(e.raw for e in events) == ANTHROPIC_STREAM
    assert [e.name for e in events] == [
        b"message_start",
        b"content_block_start",
        b"ping",
        b"content_block_delta",
        b"content_block_delta",
        b"content_block_delta",
        b"content_block_stop",
        b"message_delta",
        b"message_stop",
    ]


def test_event_splitter_finds_openai_fixture_events() -> None:
    events = _whole(OPENAI_STREAM)

    assert len(events) == 11
    assert events[-1].data == b"[DONE]"
    assert b"".join(e.raw for e in events) == OPENAI_STREAM


@pytest.mark.parametrize("stream", [OPENAI_STREAM, ANTHROPIC_STREAM], ids=["openai", "anthropic"])
def test_event_splitter_gives_same_events_when_fed_byte_by_byte(stream: bytes) -> None:
    events, tail = _events(stream[i : i + 1] for i in range(len(stream)))

    assert events == _whole(stream)
    assert tail == b""


@pytest.mark.parametrize("stream", [OPENAI_STREAM, ANTHROPIC_STREAM], ids=["openai", "anthropic"])
def test_event_splitter_gives_same_events_when_fed_random_chunks(stream: bytes) -> None:
    rng = random.Random(SEED)
    expected = _whole(stream)

    for max_size in (2, 7, 64, 500, 5000):
        for _ in range(20):
            events, tail = _events(_random_chunks(stream, rng, max_size))
            assert events == expected
            assert tail == b""


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_event_splitter_gives_same_events_when_non_lf_stream_is_fed_byte_by_byte(
    newline: bytes,
) -> None:
    stream = ANTHROPIC_STREAM.replace(b"\n", newline)

    events, tail = _events(stream[i : i + 1] for i in range(len(stream)))

    assert events == _whole(stream)
    assert [e.data for e in events] == [e.data for e in _whole(ANTHROPIC_STREAM)]
    assert tail == b""


def test_event_splitter_splits_crlf_boundary_split_between_chunks() -> None:
    events, tail = _events([b"data: a\r\n\r", b"\ndata: b\r\n", b"\r\n"])

    assert [e.data for e in events] == [b"a", b"b"]
    assert tail == b""


def test_event_splitter_tail_returns_incomplete_event() -> None:
    done_start = OPENAI_STREAM.rindex(b"data: [DONE]")
    cut = done_start + len(b"data: [DO")
    splitter = EventSplitter(1 << 20)

    events = list(splitter.feed(OPENAI_STREAM[:cut]))

    assert len(events) == 10
    assert b"".join(e.raw for e in events) == OPENAI_STREAM[:done_start]
    assert splitter.tail() == b"data: [DO"


def test_event_splitter_tail_is_empty_after_it_was_taken() -> None:
    splitter = EventSplitter(100)
    list(splitter.feed(b"data: partial"))

    assert splitter.tail() == b"data: partial"
    assert splitter.tail() == b""


def test_event_splitter_holds_pending_bytes_up_to_the_cap() -> None:
    splitter = EventSplitter(10)

    assert list(splitter.feed(b"data: 1234")) == []

    assert not splitter.overflowed
    assert splitter.tail() == b"data: 1234"


def test_event_splitter_overflows_when_pending_bytes_exceed_the_cap() -> None:
    splitter = EventSplitter(10)

    # The abandoned bytes come back unparsed, so a caller that forwards events loses nothing.
    assert list(splitter.feed(b"data: 12345")) == [Event(b"data: 12345", b"", b"", complete=False)]

    assert splitter.overflowed
    assert splitter.tail() == b""


def test_event_splitter_overflows_when_an_event_grows_past_the_cap_over_several_chunks() -> None:
    splitter = EventSplitter(10)

    list(splitter.feed(b"data: 12"))
    assert not splitter.overflowed
    list(splitter.feed(b"345"))

    assert splitter.overflowed


def test_event_splitter_does_not_overflow_on_large_event_arriving_complete() -> None:
    # Only bytes held back count: a complete event is handed on at once, whatever its size.
    splitter = EventSplitter(10)

    events = list(splitter.feed(b"data: " + b"x" * 100 + b"\n\n"))

    assert [len(e.data) for e in events] == [100]
    assert not splitter.overflowed


def test_event_splitter_continues_with_next_events_after_overflow() -> None:
    splitter = EventSplitter(10)
    list(splitter.feed(b"data: " + b"x" * 20))

    events = list(splitter.feed(b"xxx\n\ndata: next\n\n"))

    assert splitter.overflowed
    assert events[-1].data == b"next"
