"""Anthropic Messages usage: JSON documents, error documents and named-event streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pricing import TokenUsage
from proxy.providers.anthropic import Messages, MessagesStreamReader, read_usage
from proxy.providers.result import CallResult, UsageError
from proxy.providers.sse import Event, EventSplitter, parse_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
STREAM = (FIXTURES / "message_stream.txt").read_bytes()
STREAM_ID = "msg_01Rk4nUe8Gq2DsXa7Lf5YhPw"
MODEL = "claude-3-5-haiku-20241022"
# message_stream.txt: input 9 + cache write 1843 + cache read 0; output 14 (message_delta).
STREAM_USAGE = TokenUsage(input_tokens=1852, output_tokens=14, cache_write_tokens=1843)


def _document(name: str) -> object:
    return json.loads((FIXTURES / name).read_text())


def _events(stream: bytes) -> list[Event]:
    return list(EventSplitter(1 << 20).feed(stream))


def _read_stream(stream: bytes) -> CallResult:
    reader = MessagesStreamReader()
    for event in _events(stream):
        reader.on_event(event)
    return reader.result()


def _event(name: str, payload: object) -> Event:
    return parse_event(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())


def _start(usage: dict[str, object]) -> Event:
    message = {"id": "msg_1", "model": "claude-3-haiku-20240307", "usage": usage}
    return _event("message_start", {"type": "message_start", "message": message})


def _delta(usage: dict[str, object], stop_reason: str | None = None) -> Event:
    payload = {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": usage}
    return _event("message_delta", payload)


STOP = parse_event(b'event: message_stop\ndata: {"type": "message_stop"}\n\n')


def test_read_usage_adds_cache_read_and_creation_to_input() -> None:
    usage = read_usage(
        {
            "input_tokens": 14,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 2031,
            "output_tokens": 29,
        }
    )

    # 14 uncached + 100 written + 2031 read = 2145 input tokens in the OpenTelemetry sense.
    assert usage == TokenUsage(
        input_tokens=2145, output_tokens=29, cache_read_tokens=2031, cache_write_tokens=100
    )


def test_read_usage_treats_missing_or_null_cache_counts_as_zero() -> None:
    usage = read_usage(
        {"input_tokens": 14, "output_tokens": 29, "cache_creation_input_tokens": None}
    )

    assert usage == TokenUsage(input_tokens=14, output_tokens=29)


@pytest.mark.parametrize("missing", ["input_tokens", "output_tokens"])
def test_read_usage_raises_when_a_required_count_is_missing(missing: str) -> None:
    usage: dict[str, object] = {"input_tokens": 14, "output_tokens": 29}
    del usage[missing]

    with pytest.raises(UsageError, match=missing):
        read_usage(usage)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("input_tokens", -1, "negative"),
        ("output_tokens", 29.5, "not a token count"),
        ("cache_read_input_tokens", "2031", "not a token count"),
        ("cache_creation_input_tokens", True, "not a token count"),
        ("cache_creation_input_tokens", -5, "negative"),
    ],
)
def test_read_usage_raises_when_counts_are_invalid(field: str, value: object, message: str) -> None:
    usage: dict[str, object] = {"input_tokens": 14, "output_tokens": 29, field: value}

    with pytest.raises(UsageError, match=message):
        read_usage(usage)


def test_read_document_reads_fixture_with_cache_read() -> None:
    result = Messages().read_document(_document("message.json"))

    # 14 uncached + 0 written + 2031 read.
    assert result == CallResult(
        response_model=MODEL,
        response_id="msg_01HcQx7TzV3mW8pLk2RfYb9N",
        usage=TokenUsage(input_tokens=2045, output_tokens=29, cache_read_tokens=2031),
        finish_reasons=("end_turn",),
    )


def test_read_document_reports_problem_when_usage_is_missing() -> None:
    document = _document("message.json")
    assert isinstance(document, dict)
    del document["usage"]

    result = Messages().read_document(document)

    assert result.usage is None
    assert result.problem == "response has no usage object"
    assert result.response_model == MODEL


def test_read_document_reports_problem_when_usage_is_invalid() -> None:
    document = _document("message.json")
    assert isinstance(document, dict)
    document["usage"]["cache_read_input_tokens"] = -1

    result = Messages().read_document(document)

    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("unreadable usage:")


def test_read_document_reports_problem_when_body_is_not_an_object() -> None:
    assert Messages().read_document([1, 2]) == CallResult(
        problem="response body is not a JSON object"
    )


@pytest.mark.parametrize(
    ("name", "error_type"),
    [("error_rate_limit.json", "rate_limit_error"), ("error_api.json", "api_error")],
)
def test_read_error_reads_error_type_of_fixture(name: str, error_type: str) -> None:
    assert Messages().read_error(_document(name)) == error_type


@pytest.mark.parametrize("document", [{}, {"error": "x"}, None, {"error": {"message": "m"}}])
def test_read_error_is_none_when_document_has_no_error_type(document: object) -> None:
    assert Messages().read_error(document) is None


def test_stream_reader_reads_fixture_usage_from_start_and_delta() -> None:
    result = _read_stream(STREAM)

    assert result == CallResult(
        response_model=MODEL,
        response_id=STREAM_ID,
        usage=STREAM_USAGE,
        finish_reasons=("end_turn",),
    )


def test_stream_reader_keeps_last_cumulative_delta_usage() -> None:
    reader = MessagesStreamReader()
    reader.on_event(_start({"input_tokens": 10, "output_tokens": 1}))
    reader.on_event(_delta({"output_tokens": 5}))
    reader.on_event(_delta({"output_tokens": 12}, stop_reason="max_tokens"))
    reader.on_event(STOP)

    result = reader.result()

    assert result.usage == TokenUsage(input_tokens=10, output_tokens=12)
    assert result.finish_reasons == ("max_tokens",)
    assert result.problem is None


def test_stream_reader_lets_delta_overwrite_input_and_cache_counts() -> None:
    reader = MessagesStreamReader()
    reader.on_event(_start({"input_tokens": 10, "output_tokens": 1}))
    reader.on_event(
        _delta(
            {
                "input_tokens": 11,
                "cache_creation_input_tokens": 300,
                "cache_read_input_tokens": 2000,
                "output_tokens": 40,
            }
        )
    )
    reader.on_event(STOP)

    # 11 uncached + 300 written + 2000 read.
    assert reader.result().usage == TokenUsage(
        input_tokens=2311, output_tokens=40, cache_read_tokens=2000, cache_write_tokens=300
    )


def test_stream_reader_ignores_null_counts_in_delta() -> None:
    reader = MessagesStreamReader()
    reader.on_event(_start({"input_tokens": 10, "cache_read_input_tokens": 7, "output_tokens": 1}))
    reader.on_event(
        _delta({"input_tokens": None, "cache_read_input_tokens": None, "output_tokens": 3})
    )
    reader.on_event(STOP)

    assert reader.result().usage == TokenUsage(
        input_tokens=17, output_tokens=3, cache_read_tokens=7
    )


def test_stream_reader_reports_truncation_but_keeps_usage_when_message_stop_is_missing() -> None:
    cut = STREAM.index(b"event: message_stop")

    result = _read_stream(STREAM[:cut])

    assert result.usage == STREAM_USAGE
    assert result.problem == "stream ended before message_stop (truncated); usage so far"


def test_stream_reader_reports_truncation_with_start_usage_when_cut_mid_content() -> None:
    cut = STREAM.index(b"event: content_block_stop")

    result = _read_stream(STREAM[:cut])

    # Only message_start's usage arrived: output_tokens is still 1.
    assert result.usage == TokenUsage(input_tokens=1852, output_tokens=1, cache_write_tokens=1843)
    assert result.finish_reasons == ()
    assert result.problem == "stream ended before message_stop (truncated); usage so far"


def test_stream_reader_reports_truncation_when_message_start_is_missing() -> None:
    cut = STREAM.index(b"event: message_start") + 30

    result = _read_stream(STREAM[:cut])

    assert result == CallResult(problem="stream ended before message_start (truncated)")


def test_stream_reader_reads_error_event_of_overloaded_fixture() -> None:
    result = _read_stream((FIXTURES / "message_stream_overloaded.txt").read_bytes())

    assert result.error_type == "overloaded_error"
    assert result.response_model == MODEL
    assert result.response_id == "msg_01Wz6pQa3Nc8TeLr1Xb4KdVm"
    # The input was billed before the error: usage so far is kept, flagged as incomplete.
    assert result.usage == TokenUsage(input_tokens=412, output_tokens=1)
    assert result.problem == "stream ended before message_stop (truncated); usage so far"


def test_stream_reader_names_error_event_without_type() -> None:
    reader = MessagesStreamReader()
    reader.on_event(_event("error", {"type": "error", "error": {"message": "m"}}))

    assert reader.result().error_type == "stream_error"


def test_stream_reader_reports_problem_when_message_start_is_not_json() -> None:
    reader = MessagesStreamReader()
    reader.on_event(parse_event(b"event: message_start\ndata: {oops\n\n"))

    assert reader.result().problem == "message_start event is not valid JSON"


def test_stream_reader_reports_problem_when_start_usage_is_invalid() -> None:
    reader = MessagesStreamReader()
    reader.on_event(_start({"input_tokens": -4, "output_tokens": 1}))
    reader.on_event(STOP)

    result = reader.result()

    assert result.usage is None
    assert result.problem is not None
    assert result.problem.startswith("unreadable usage:")


def test_stream_reader_reports_problem_when_start_has_no_usage() -> None:
    reader = MessagesStreamReader()
    reader.on_event(_event("message_start", {"message": {"id": "m", "model": "x"}}))
    reader.on_event(STOP)

    result = reader.result()

    assert result.usage is None
    assert result.problem == "unreadable usage: usage has no 'input_tokens'"


def test_stream_reader_ignores_content_events_even_when_not_json() -> None:
    reader = MessagesStreamReader()
    reader.on_event(_start({"input_tokens": 3, "output_tokens": 1}))
    reader.on_event(parse_event(b"event: content_block_delta\ndata: {not json\n\n"))
    reader.on_event(parse_event(b"event: ping\ndata: \n\n"))
    reader.on_event(STOP)

    result = reader.result()

    assert result.usage == TokenUsage(input_tokens=3, output_tokens=1)
    assert result.problem is None
